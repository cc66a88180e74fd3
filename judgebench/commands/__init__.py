"""Subcommands of the judgebench CLI, one module each (register(subparsers) + run(args))."""
