"""``kevents demo`` (and ``make demo``): a supervisor in one kevents loop.

It spawns three workers that crash now and then, restarts each with an exponential
back-off timer, reloads its configuration on SIGHUP and when the configuration file
changes, and shuts down cleanly on SIGTERM: processes (PROCDESC, race-free pidfds),
signals, timers and files, all through one queue. It drives itself (it sends itself
the signals and edits its own configuration) and ends within a few seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field

from ._event import Filter, Flag, KEvent, NoteProc, NoteTimer, NoteVnode
from ._info import backend_info
from ._process import Process, spawn
from ._queue import Queue

WORKER = (
    "import os, random, sys, time\n"
    "random.seed(os.getpid())\n"
    "time.sleep(random.uniform(0.2, 0.9))\n"
    "sys.exit(random.choice([0, 1, 3]))\n"
)
STEPS = [
    (1.2, "send SIGHUP to myself"),
    (2.0, "edit the config file"),
    (3.2, "send SIGTERM to myself"),
]
DRIVER = 1  # timer idents: 1 drives the script, 100+ are restart back-offs


@dataclass
class Worker:
    name: str
    backoff: float = 0.1
    proc: Process | None = None
    restarts: int = 0
    timer: int = 0


@dataclass
class Supervisor:
    kq: Queue
    config: str
    workers: dict[str, Worker] = field(default_factory=dict)
    stopping: bool = False
    t0: float = field(default_factory=time.monotonic)
    next_timer: int = 100

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:5.2f}s] {text}", flush=True)

    def start(self, w: Worker) -> None:
        w.proc = spawn([sys.executable, "-c", WORKER])
        self.kq.control(
            [KEvent(w.proc.pidfd, Filter.PROCDESC, Flag.ADD, NoteProc.EXIT, udata=w)], 0
        )
        self.say(f"started {w.name} (pid {w.proc.pid}, pidfd {w.proc.pidfd})")

    def exited(self, w: Worker, ev: KEvent) -> None:
        assert w.proc is not None
        code = os.waitstatus_to_exitcode(ev.data)
        w.proc.wait()  # kevents never reaps: the supervisor does
        w.proc.close_pidfd()
        w.proc = None
        if self.stopping:
            self.say(f"{w.name} stopped (exit {code})")
            return
        if code == 0:
            w.backoff = 0.1
        else:
            w.backoff = min(w.backoff * 2, 1.0)
        self.next_timer += 1
        w.timer = self.next_timer
        self.kq.control(
            [
                KEvent(
                    w.timer,
                    Filter.TIMER,
                    Flag.ADD | Flag.ONESHOT,
                    NoteTimer.MSECONDS,
                    int(w.backoff * 1000),
                    udata=w,
                )
            ],
            0,
        )
        self.say(f"{w.name} exited with {code}; restart in {w.backoff:.1f}s")

    def reload(self, why: str) -> None:
        with open(self.config) as f:
            names = [line.strip() for line in f if line.strip()]
        self.say(f"reload ({why}): workers {', '.join(names)}")
        for name in names:
            if name not in self.workers:
                self.workers[name] = w = Worker(name)
                self.start(w)

    def stop(self) -> None:
        self.stopping = True
        self.say("SIGTERM: stopping every worker")
        for w in self.workers.values():
            if w.timer:
                # max_events 0: a change-only call; room for events here would take
                # (and lose) whatever else is pending, a worker's exit say. ENOENT when
                # the one-shot timer has fired meanwhile: its event is then skipped.
                with contextlib.suppress(FileNotFoundError):
                    self.kq.control([KEvent(w.timer, Filter.TIMER, Flag.DELETE)], 0)
            if w.proc is not None:
                w.proc.terminate()

    def running(self) -> bool:
        return any(w.proc is not None for w in self.workers.values())


def run() -> int:
    info = backend_info()
    print(f"kevents demo on the {info.backend} backend ({info.platform})")
    with tempfile.TemporaryDirectory() as d, Queue() as kq:
        config = os.path.join(d, "workers.conf")
        with open(config, "w") as f:
            f.write("alpha\nbeta\ngamma\n")
        sup = Supervisor(kq, config)
        old = {s: signal.signal(s, signal.SIG_IGN) for s in (signal.SIGHUP, signal.SIGTERM)}
        watch_fd = os.open(config, os.O_RDONLY)
        try:
            changes = [
                KEvent(signal.SIGHUP, Filter.SIGNAL),
                KEvent(signal.SIGTERM, Filter.SIGNAL),
                KEvent(DRIVER, Filter.TIMER, Flag.ADD, data=100),
            ]
            kq.control(changes, 0)
            vnode = kq.control(
                [
                    KEvent(
                        watch_fd,
                        Filter.VNODE,
                        Flag.ADD | Flag.CLEAR,
                        NoteVnode.WRITE | NoteVnode.EXTEND,
                    )
                ],
                1,
                0,
            )
            if vnode:
                sup.say("config file watch unavailable here: SIGHUP only")
            sup.reload("start")
            steps = list(STEPS)
            while not (sup.stopping and not sup.running()):
                for ev in kq.control(None, 16, 5.0):
                    if ev.filter == Filter.PROCDESC:
                        sup.exited(ev.udata, ev)
                    elif ev.filter == Filter.TIMER and ev.ident == DRIVER:
                        now = time.monotonic() - sup.t0
                        while steps and steps[0][0] <= now:
                            _, what = steps.pop(0)
                            sup.say(f"demo script: {what}")
                            if "SIGHUP" in what:
                                os.kill(os.getpid(), signal.SIGHUP)
                            elif "SIGTERM" in what:
                                os.kill(os.getpid(), signal.SIGTERM)
                            else:
                                with open(config, "a") as f:
                                    f.write("delta\n")
                    elif ev.filter == Filter.TIMER and not sup.stopping:
                        w = ev.udata
                        w.timer = 0
                        w.restarts += 1
                        sup.start(w)
                    elif ev.filter == Filter.SIGNAL and ev.ident == signal.SIGHUP:
                        sup.reload(f"SIGHUP x{ev.data}")
                    elif ev.filter == Filter.SIGNAL and ev.ident == signal.SIGTERM:
                        sup.stop()
                    elif ev.filter == Filter.VNODE:
                        sup.reload("config file changed")
            total = sum(w.restarts for w in sup.workers.values())
            sup.say(f"all workers stopped after {total} restarts; bye")
        finally:
            kq.close_fd(watch_fd)
            for s, h in old.items():
                signal.signal(s, h)
    return 0
