"""Run every benchmark in this folder (``make bench``); each prints its own ratios."""

from __future__ import annotations

import pathlib
import subprocess
import sys

here = pathlib.Path(__file__).parent
for bench in sorted(here.glob("bench_*.py")):
    print(f"== {bench.name}", flush=True)
    subprocess.run([sys.executable, str(bench)], cwd=here, check=False)
