"""judgebench_api plugin for judgebench."""
