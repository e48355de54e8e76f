"""Paper reproductions at CPU scale (``python -m core reproduce <name>``).

Each module here follows the CLI command contract (``NAME``, ``HELP``,
``add_arguments``, ``run``) and becomes a sub-command of ``reproduce``.
"""
