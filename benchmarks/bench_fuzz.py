"""Hostile-input fuzz of ``load_image``: escaped exceptions, timeouts and memory per input.

Every input (crafted bombs for every format, then mutations of real seed
files and of the bombs: :mod:`benchmarks.hostile`) is loaded in its own
forked child process with an address-space limit (``RLIMIT_AS``) and a
timeout, so one input's memory or time cannot hide another's.  For each
input the child reports the outcome and its peak resident memory
(``VmHWM``, reset at the fork).

Counted as failures: an exception other than ``LoadError`` ("escaped"), a
child still running at the timeout, and a *memory blow-up*: a MemoryError,
a child killed by a signal, or a peak growth above 1 GiB.

``python -m benchmarks.bench_fuzz [--quick] [--n N] [--max-pixels P]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import select
import signal
import time
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator

__all__ = ["Outcome", "run_isolated", "summarize", "BLOWUP_BYTES", "main"]

#: Peak memory growth of one load above which it counts as a memory blow-up.
BLOWUP_BYTES = 2**30
_MEMORY_MESSAGE = "not enough memory"


@dataclass
class Outcome:
    """How one input ended: ``result`` is ok, LoadError, escaped, memory, crashed or timeout."""

    name: str
    size: int
    result: str
    detail: str
    seconds: float
    peak_mib: float = 0.0
    growth_mib: float = 0.0

    @property
    def blowup(self) -> bool:
        return self.result in ("memory", "crashed") or self.growth_mib * 2**20 > BLOWUP_BYTES


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _child(name: str, data: bytes, max_pixels: int, address_space: int | None, out_fd: int) -> None:
    """Runs in the forked child: load, render, report one JSON line, exit without cleanup."""
    import numpy as np

    from core.errors import LoadError
    from core.io import load_image

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)  # decoders' own warnings (libpng, libtiff) are not the subject here
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
    except OSError:
        pass
    base = _status_kib("VmRSS")
    if address_space:
        limit = _status_kib("VmSize") * 1024 + address_space
        resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    started = time.perf_counter()
    try:
        image = load_image(data, name=name, max_pixels=max_pixels)
        shown = image.render(image.n_frames - 1)
        valid = bool(np.isfinite(shown).all() and shown.min() >= 0 and shown.max() <= 1)
        result, detail = ("ok", "") if valid else ("escaped", "render outside [0, 1]")
    except LoadError as exc:
        detail = str(exc)
        result = "memory" if _MEMORY_MESSAGE in detail else "LoadError"
    except MemoryError:
        result, detail = "memory", "MemoryError"
    except BaseException as exc:  # noqa: BLE001 - escapes are what this run counts
        result, detail = "escaped", type(exc).__name__
    seconds = time.perf_counter() - started
    peak = _status_kib("VmHWM")
    report = {"result": result, "detail": detail, "seconds": seconds, "peak": peak, "base": base}
    os.write(out_fd, json.dumps(report).encode())
    os._exit(0)


def _one(name: str, data: bytes, max_pixels: int, timeout: float, address_space: int | None) -> Outcome:
    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read_fd)
        try:
            _child(name, data, max_pixels, address_space, write_fd)
        finally:
            os._exit(3)
    os.close(write_fd)
    chunks, timed_out = [], False
    while True:
        left = timeout - (time.perf_counter() - started)
        ready = select.select([read_fd], [], [], max(left, 0))[0] if left > 0 else []
        if not ready:
            timed_out = True
            os.kill(pid, signal.SIGKILL)
            break
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - started
    if timed_out:
        return Outcome(name, len(data), "timeout", f"still running after {timeout:g} s", elapsed,
                       usage.ru_maxrss / 1024)
    if not chunks:
        how = f"signal {os.WTERMSIG(status)}" if os.WIFSIGNALED(status) else f"exit {os.WEXITSTATUS(status)}"
        return Outcome(name, len(data), "crashed", how, elapsed, usage.ru_maxrss / 1024)
    report = json.loads(b"".join(chunks))
    return Outcome(name, len(data), report["result"], report["detail"], report["seconds"],
                   report["peak"] / 1024, (report["peak"] - report["base"]) / 1024)


def _warm_up() -> None:
    """Import every decoder once in the parent, so children only pay for the load itself."""
    import cv2

    from benchmarks.hostile import seed_files
    from core.errors import LoadError
    from core.io import load_image

    cv2.setNumThreads(1)  # no worker threads alive at fork time
    for name, data in seed_files().items():
        try:
            load_image(data, name=name).render(0)
        except LoadError:
            pass


def run_isolated(cases: Iterable[tuple[str, bytes]], *, max_pixels: int, timeout: float = 60.0,
                 address_space: int | None = 2 * BLOWUP_BYTES) -> Iterator[Outcome]:
    """Load each ``(name, bytes)`` in a forked child; yields one :class:`Outcome` per input.

    ``address_space`` is added to the child's current virtual size as its
    ``RLIMIT_AS`` (None: no limit).
    """
    _warm_up()
    for name, data in cases:
        yield _one(name, data, max_pixels, timeout, address_space)


def summarize(outcomes: list[Outcome]) -> dict:
    """Counts, the worst inputs by peak growth and time, and every failure."""
    counts = Counter(o.result for o in outcomes)
    worst = max(outcomes, key=lambda o: o.growth_mib)
    slowest = max(outcomes, key=lambda o: o.seconds)
    return {
        "inputs": len(outcomes),
        "largest_input_bytes": max(o.size for o in outcomes),
        "counts": dict(counts),
        "escaped": counts["escaped"],
        "timeouts": counts["timeout"],
        "memory_blowups": sum(o.blowup for o in outcomes),
        "worst_peak_growth_mib": round(worst.growth_mib, 1),
        "worst_peak_rss_mib": round(max(o.peak_mib for o in outcomes), 1),
        "worst_input": worst.name,
        "worst_input_result": f"{worst.result}: {worst.detail}"[:200],
        "slowest_seconds": round(slowest.seconds, 2),
        "slowest_input": slowest.name,
        "failures": [asdict(o) for o in outcomes if o.result in ("escaped", "timeout") or o.blowup][:50],
    }


def main(quick: bool = False, n: int | None = None, max_pixels: int | None = None) -> dict:
    from benchmarks.hostile import fuzz_cases
    from core.io import DEFAULT_MAX_PIXELS

    n = n or (300 if quick else 6000)
    max_pixels = max_pixels or DEFAULT_MAX_PIXELS
    inflate = 2**26 if quick else 2**30
    started = time.perf_counter()
    outcomes = list(run_isolated(fuzz_cases(n, inflate_bytes=inflate), max_pixels=max_pixels))
    summary = summarize(outcomes)
    summary.update(max_pixels=max_pixels, inflate_bytes=inflate, wall_seconds=round(time.perf_counter() - started, 1))
    by_source = Counter((o.name.split("/")[0], o.result) for o in outcomes)
    summary["by_source"] = {f"{k[0]}: {k[1]}": v for k, v in sorted(by_source.items())}
    summary["crafted_bombs"] = {o.name: f"{o.result}, peak growth {o.growth_mib:.1f} MiB, {o.seconds:.2f} s"
                                for o in outcomes if "/" not in o.name}
    print(f"fuzz: {summary['inputs']} inputs (max_pixels {max_pixels:,}): {summary['counts']}; "
          f"escaped {summary['escaped']}, timeouts {summary['timeouts']}, memory blow-ups "
          f"{summary['memory_blowups']}; worst peak growth {summary['worst_peak_growth_mib']} MiB "
          f"({summary['worst_input']}), worst peak RSS {summary['worst_peak_rss_mib']} MiB, slowest "
          f"{summary['slowest_seconds']} s ({summary['slowest_input']}), {summary['wall_seconds']} s in all")
    return summary


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--n", type=int, default=None, help="number of inputs (default 6000, quick 300)")
    parser.add_argument("--max-pixels", type=int, default=None)
    args = parser.parse_args()
    main(args.quick, args.n, args.max_pixels)
