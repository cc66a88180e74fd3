"""lm-evaluation-harness integration: judgebench backends as an lm-eval model, judgebench tasks as lm-eval tasks."""
