"""harness: reproduction harness for Japanese text-embedding benchmarks (JMTEB, NanoBEIR, model cards)."""

__version__ = "0.1.0"


def evaluate(model, suite=None, tasks=None, protocol=None, output_dir=None, **overrides):
    """Evaluate a model as `harness run` does and return its results (harness.api.evaluate)."""
    from harness.api import evaluate as _evaluate

    return _evaluate(model, suite=suite, tasks=tasks, protocol=protocol, output_dir=output_dir, **overrides)


def __getattr__(name):  # heavy imports only when used: `harness list` stays fast
    if name in ("Evaluation", "HarnessEvaluator"):
        module = __import__("harness.api" if name == "Evaluation" else "harness.st_evaluator", fromlist=[name])
        return getattr(module, name)
    raise AttributeError(f"module 'harness' has no attribute {name!r}")
