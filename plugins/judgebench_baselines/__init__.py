"""judgebench_baselines plugin for judgebench."""
