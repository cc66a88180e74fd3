"""judgebench_tasks plugin for judgebench."""
