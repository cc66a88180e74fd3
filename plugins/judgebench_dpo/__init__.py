"""judgebench_dpo plugin for judgebench."""
