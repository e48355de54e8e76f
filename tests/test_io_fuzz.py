"""Fuzz: hostile inputs load cleanly or raise LoadError; nothing escapes, hangs or blows up memory.

The quick version of ``python -m benchmarks.bench_fuzz`` (which runs >= 5,000
inputs): every crafted bomb plus mutations of real files of every format,
each loaded in a forked child with an address-space limit and a timeout.
Run with ``-s`` to see the counts.
"""

from __future__ import annotations

from collections import Counter

from benchmarks.bench_fuzz import run_isolated, summarize
from benchmarks.hostile import fuzz_cases
from core.io import DEFAULT_MAX_PIXELS

N_CASES = 150


def test_hostile_inputs_never_escape_hang_or_blow_up():
    outcomes = list(run_isolated(fuzz_cases(N_CASES, seed=7, inflate_bytes=2**24), max_pixels=DEFAULT_MAX_PIXELS,
                                 timeout=60, address_space=2**31))
    summary = summarize(outcomes)
    by_mutation = Counter((o.name.split("/")[-1], o.result) for o in outcomes if "/" in o.name)
    print(f"\nfuzz: {summary['inputs']} inputs {summary['counts']}; worst peak growth "
          f"{summary['worst_peak_growth_mib']} MiB ({summary['worst_input']}); slowest {summary['slowest_seconds']} s")
    print("by mutation:", dict(sorted(by_mutation.items())))
    assert summary["inputs"] == N_CASES
    assert summary["escaped"] == 0 and summary["timeouts"] == 0 and summary["memory_blowups"] == 0, \
        summary["failures"][:5]
    assert summary["counts"].get("ok", 0) > 0 and summary["counts"].get("LoadError", 0) > 0  # both paths exercised
    assert all("\n" not in o.detail and len(o.detail) <= 300 for o in outcomes)
