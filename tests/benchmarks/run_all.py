"""Run every benchmark in this folder (``make bench``); each prints its figures beside the
stdlib/peer figures of the same run, and the chart of all of them is written to
docs/_static/benchmarks.png (``--no-chart`` skips it; ``--only NAME`` runs some)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile

from _chart import chart

here = pathlib.Path(__file__).parent
args = sys.argv[1:]
only = [args[i + 1] for i, a in enumerate(args) if a == "--only"]
with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as tmp:
    results = pathlib.Path(tmp.name)
env = dict(os.environ, KEVENTS_BENCH_RESULTS=str(results))
try:
    for bench in sorted(here.glob("bench_*.py")):
        if only and not any(name in bench.name for name in only):
            continue
        print(f"== {bench.name}", flush=True)
        subprocess.run([sys.executable, str(bench)], cwd=here, check=False, env=env)
    groups = [json.loads(line) for line in results.read_text().splitlines() if line]
finally:
    results.unlink()
if groups and "--no-chart" not in args:
    out = here.parent.parent / "docs" / "_static" / "benchmarks.png"
    out.parent.mkdir(exist_ok=True)
    out.write_bytes(chart(groups, "kevents beside the stdlib and its peers, one run"))
    print(f"\nchart: {out}")
