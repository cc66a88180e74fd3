"""judgebench's `vllm` backend: a local causal LM judge run in-process by vLLM's offline engine (`vllm.LLM`)."""
