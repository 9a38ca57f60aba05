"""A small process supervisor on kevents: one loop for children, signals, timers and
its config file.

    python examples/supervisor.py CONFIG [--run-for SECONDS]
    python examples/supervisor.py              # runs a sample config for 2 seconds

CONFIG has one command per line. Each runs as a child watched through a pidfd
(PROCDESC: no pid-reuse race); a child that exits is restarted after a back-off that
doubles per failure (1 s max). SIGHUP, or any change to CONFIG, reloads it: new lines
start, removed lines are stopped. SIGTERM and SIGINT stop everything and exit.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import signal
import sys
import tempfile

import kevents
from kevents import Filter, Flag, KEvent, NoteProc, NoteVnode

SAMPLE = [
    f"{sys.executable} -c 'import time; time.sleep(0.3)'",
    f"{sys.executable} -c 'import sys; sys.exit(2)'",
]


class Supervisor:
    def __init__(self, kq: kevents.Queue, config: str) -> None:
        self.kq = kq
        self.config = config
        self.procs: dict[str, kevents.Process] = {}
        self.backoff: dict[str, float] = {}
        self.timers: dict[int, str] = {}
        self.next_timer = 10

    def commands(self) -> list[str]:
        with open(self.config) as f:
            return [line.strip() for line in f if line.strip() and not line.startswith("#")]

    def start(self, cmd: str) -> None:
        p = kevents.spawn(shlex.split(cmd))
        self.procs[cmd] = p
        self.kq.control([KEvent(p.pidfd, Filter.PROCDESC, Flag.ADD, NoteProc.EXIT, udata=cmd)], 0)
        print(f"start  [{p.pid}] {cmd}", flush=True)

    def reap(self, cmd: str, status: int) -> None:
        p = self.procs.pop(cmd)
        p.wait()
        p.close_pidfd()
        code = os.waitstatus_to_exitcode(status)
        if cmd not in self.commands():
            print(f"gone   [{p.pid}] {cmd} (exit {code})", flush=True)
            return
        delay = 0.05 if code == 0 else min(2 * self.backoff.get(cmd, 0.05), 1.0)
        self.backoff[cmd] = delay
        self.next_timer += 1
        self.timers[self.next_timer] = cmd
        self.kq.control(
            [
                KEvent(
                    self.next_timer, Filter.TIMER, Flag.ADD | Flag.ONESHOT, data=int(delay * 1000)
                )
            ],
            0,
        )
        print(f"exit   [{p.pid}] {cmd} -> {code}; restart in {delay:.2f}s", flush=True)

    def reload(self) -> None:
        wanted = self.commands()
        for cmd in wanted:
            if cmd not in self.procs and cmd not in self.timers.values():
                self.start(cmd)
        for cmd, p in list(self.procs.items()):
            if cmd not in wanted:
                p.terminate()

    def stop(self) -> None:
        for ident in self.timers:
            # a change-only call (max_events 0), or it could take a pending exit event
            with contextlib.suppress(FileNotFoundError):  # fired meanwhile
                self.kq.control([KEvent(ident, Filter.TIMER, Flag.DELETE)], 0)
        self.timers.clear()
        for p in self.procs.values():
            p.terminate()
        while self.procs:
            for ev in self.kq.control(None, 16, 5):
                if ev.filter == Filter.PROCDESC:
                    p = self.procs.pop(ev.udata)
                    p.wait()
                    p.close_pidfd()
                    print(f"stop   [{p.pid}] {ev.udata}", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", nargs="?")
    ap.add_argument("--run-for", type=float, help="send myself SIGTERM after this long")
    args = ap.parse_args()
    sample = None
    if args.config is None:
        fd, sample = tempfile.mkstemp(suffix=".conf")
        os.write(fd, ("\n".join(SAMPLE) + "\n").encode())
        os.close(fd)
        args.config, args.run_for = sample, args.run_for or 2.0
    stops = (signal.SIGTERM, signal.SIGINT)
    for sig in (signal.SIGHUP, *stops):
        signal.signal(sig, signal.SIG_IGN)  # BSD style: the queue sees them instead
    cfd = kevents.open_for_vnode(args.config)
    with kevents.Queue() as kq:
        sup = Supervisor(kq, args.config)
        changes = [KEvent(s, Filter.SIGNAL) for s in (signal.SIGHUP, *stops)]
        changes.append(
            KEvent(
                cfd,
                Filter.VNODE,
                Flag.ADD | Flag.CLEAR,
                NoteVnode.WRITE | NoteVnode.EXTEND | NoteVnode.RENAME,
            )
        )
        if args.run_for:
            changes.append(
                KEvent(1, Filter.TIMER, Flag.ADD | Flag.ONESHOT, data=int(args.run_for * 1000))
            )
        kq.control(changes, 0)
        sup.reload()
        running = True
        while running:
            for ev in kq.control(None, 16, None):
                if ev.filter == Filter.PROCDESC:
                    sup.reap(ev.udata, ev.data)
                elif ev.filter == Filter.TIMER and ev.ident == 1:
                    os.kill(os.getpid(), signal.SIGTERM)
                elif ev.filter == Filter.TIMER:
                    sup.start(sup.timers.pop(ev.ident))
                elif ev.filter in (Filter.VNODE,) or ev.ident == signal.SIGHUP:
                    print("reload", flush=True)
                    sup.reload()
                elif ev.filter == Filter.SIGNAL:
                    print(f"{signal.Signals(ev.ident).name}: shutting down", flush=True)
                    running = False
        sup.stop()
        kq.close_fd(cfd)
    if sample is not None:
        os.unlink(sample)
    return 0


if __name__ == "__main__":
    sys.exit(main())
