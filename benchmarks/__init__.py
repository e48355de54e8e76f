"""Speed benchmarks: each module measures ours against a peer in the same run
and prints ratios.  Speed goals live here, never as timed assertions in tests.

Every ``bench_*.py`` module exposes ``main(quick: bool = False) -> dict`` and
runs on its own as ``python -m benchmarks.bench_<name> [--quick]``.
"""
