"""harness: reproduction harness for Japanese text-embedding benchmarks (JMTEB, NanoBEIR, model cards)."""

__version__ = "0.1.0"
