"""Shared helpers for the benchmarks: best-of-N timing and ratio printing."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import tempfile
import time
from collections.abc import Callable


def best_rate(fn: Callable[[int], None], n: int, repeat: int = 5) -> float:
    """Run ``fn(n)`` ``repeat`` times; return the best rate in operations per second."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(n)
        best = min(best, time.perf_counter() - t0)
    return n / best


def report(title: str, rates: dict[str, float], baseline: str) -> None:
    print(f"\n{title}")
    for name, rate in rates.items():
        print(f"  {name:32s} {rate:12,.0f} /s   {rate / rates[baseline]:5.2f}x {baseline}")
    record(title, rates, baseline, higher=True)


def record(title: str, values: dict[str, float], baseline: str, higher: bool) -> None:
    """Keep a result for run_all.py's chart (KEVENTS_BENCH_RESULTS names the file)."""
    path = os.environ.get("KEVENTS_BENCH_RESULTS")
    if path:
        entry = {"title": title, "values": values, "baseline": baseline, "higher": higher}
        with open(path, "a") as f:
            f.write(json.dumps(entry) + "\n")


def syscalls_per_hop(command: Callable[[int], list[str]], env: dict[str, str]) -> float:
    """System calls per hop of ``command(hops)`` (a benchmark child doing ``hops``
    hops), counted by ``strace -f -c``: the calls of many hops minus those of a few,
    so startup, setup and teardown cancel out."""

    def calls(hops: int) -> int:
        with tempfile.TemporaryDirectory() as tmp:
            out = pathlib.Path(tmp) / "strace"
            strace = ["strace", "-f", "-c", "-o", str(out)]
            subprocess.run([*strace, *command(hops)], env=env, check=True, capture_output=True)
            for line in out.read_text().splitlines():
                if line.strip().endswith("total"):
                    return int(line.split()[3])  # the calls column
        raise RuntimeError("no total in strace -c output")

    few, many = 100, 10_100
    return (calls(many) - calls(few)) / (many - few)
