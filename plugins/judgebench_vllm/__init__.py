"""judgebench_vllm plugin for judgebench."""
