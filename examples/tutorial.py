"""The tutorial's program (docs/tutorial.rst), native API: one kevents queue watches
child processes, SIGTERM and SIGHUP, a config file and a timer.

    python examples/tutorial.py CONFIG     # CONFIG: lines "name seconds"
    python examples/tutorial.py            # a sample config, driven for about 3 s

Each config line is a worker, a child process that runs for that many seconds; a worker
that exits is started again. A change to CONFIG or a SIGHUP reloads it; SIGTERM stops
the workers and exits; a timer prints a status line twice a second.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator

import kevents
from kevents import Filter, Flag, KEvent, NoteProc, NoteVnode

TICK = 1  # the ident of our timer: any number we choose


def load(path: str) -> dict[str, float]:
    """The config: one worker per line, "name seconds"."""
    with open(path) as f:
        return {name: float(secs) for name, secs in (line.split() for line in f if line.strip())}


def start(kq: kevents.Queue, name: str, seconds: float) -> subprocess.Popen[bytes]:
    child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})"])
    # NOTE_EXIT of this pid, child or not; udata comes back in the event
    kq.control([KEvent(child.pid, Filter.PROC, Flag.ADD, NoteProc.EXIT, udata=name)], 0)
    print(f"start  {name} (pid {child.pid})", flush=True)
    return child


def supervise(path: str) -> None:
    # The queue counts SIGTERM and SIGHUP; ignoring them keeps their default action
    # (terminate) from running as well, as with kqueue on BSD.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    wanted = load(path)
    workers: dict[str, subprocess.Popen[bytes]] = {}
    with kevents.Queue() as kq, open(path) as config:
        kq.control(
            [
                KEvent(signal.SIGTERM, Filter.SIGNAL),
                KEvent(signal.SIGHUP, Filter.SIGNAL),
                KEvent(config, Filter.VNODE, Flag.ADD | Flag.CLEAR, NoteVnode.WRITE),
                KEvent(TICK, Filter.TIMER, Flag.ADD, data=500),  # every 500 ms
            ],
            0,  # max_events 0: apply the changes, wait for nothing
        )
        for name, seconds in wanted.items():
            workers[name] = start(kq, name, seconds)
        while True:
            for ev in kq.control(None, 16):  # wait (no timeout) for up to 16 events
                if ev.filter == Filter.PROC:
                    name = ev.udata
                    workers.pop(name).wait()  # kevents never reaps: we do
                    print(f"exit   {name}: {os.waitstatus_to_exitcode(ev.data)}", flush=True)
                    if name in wanted:
                        workers[name] = start(kq, name, wanted[name])
                elif ev.filter == Filter.SIGNAL and ev.ident == signal.SIGTERM:
                    print(f"SIGTERM: stopping {len(workers)} worker(s)", flush=True)
                    for child in workers.values():
                        child.terminate()
                        child.wait()
                    return
                elif ev.filter in (Filter.VNODE, Filter.SIGNAL):  # config written, SIGHUP
                    print("reload", flush=True)
                    wanted = load(path)
                    for name in wanted.keys() - workers.keys():
                        workers[name] = start(kq, name, wanted[name])
                    for name in workers.keys() - wanted.keys():
                        workers[name].terminate()  # its exit event follows
                elif ev.filter == Filter.TIMER:
                    print(f"tick   {len(workers)} running", flush=True)


# The sample run (the asyncio and Trio versions use it too): a scratch config, and a
# shell that appends a worker to it, then sends us SIGHUP and then SIGTERM.
DRIVER = "sleep 0.8; echo 'gamma 0.3' >> {0}; sleep 0.8; kill -HUP {1}; sleep 0.8; kill {1}"


@contextlib.contextmanager
def sample_run() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "workers.conf")
        with open(path, "w") as f:
            f.write("alpha 0.4\nbeta 1.0\n")
        driver = subprocess.Popen(["sh", "-c", DRIVER.format(path, os.getpid())])
        try:
            yield path
        finally:
            driver.wait()
    print("bye")


def main(argv: list[str]) -> int:
    # the config given, or the sample run
    with contextlib.nullcontext(argv[0]) if argv else sample_run() as path:
        supervise(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
