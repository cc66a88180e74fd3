"""judgebench_hf plugin for judgebench."""
