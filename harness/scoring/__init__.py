"""Pure metric functions: arrays and lists in, Python floats out.

Each module reproduces the exact conventions of one reference evaluator
(JMTEB, sentence-transformers, pytrec_eval/MTEB, scikit-learn, SciPy) so the
harness can report numbers that match the published ones. Nothing here
imports torch, touches files or prints.
"""
