"""Nest a kevents queue in another event loop through its descriptor: here asyncio's
own default loop (no kevents_asyncio), which gains process exits and file changes.

    python examples/nest_queue.py

A queue's ``fileno()`` polls readable while events are pending, so any loop that can
watch a descriptor (asyncio's add_reader, selectors, a GUI toolkit's socket notifier,
another kevents queue) can host it: when the fd is readable, collect with a zero
timeout and dispatch. The host loop never blocks inside kevents. Not on Windows, where
a completion port has no pollable descriptor (``Queue.fileno()`` raises
``UnsupportedError`` there; use kevents_asyncio instead).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable

import kevents
from kevents import Filter, Flag, KEvent, NoteProc, NoteVnode

Handler = Callable[[KEvent], None]


class Nested:
    """A kevents queue driven by a running asyncio loop: ``watch(change, handler)``."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.kq = kevents.Queue()
        self.loop = loop
        self.handlers: dict[tuple[int, int], Handler] = {}
        loop.add_reader(self.kq.fileno(), self.drain)

    def watch(self, change: KEvent, handler: Handler) -> None:
        self.handlers[(change.ident, change.filter)] = handler
        self.kq.control([change], 0)

    def drain(self) -> None:  # the host loop calls this when the queue's fd is readable
        for ev in self.kq.control(None, 64, timeout=0):
            self.handlers[(ev.ident, ev.filter)](ev)

    def close(self) -> None:
        self.loop.remove_reader(self.kq.fileno())
        self.kq.close()


async def main() -> int:
    loop = asyncio.get_running_loop()
    nested = Nested(loop)
    done = asyncio.Event()
    seen: list[str] = []

    def on_exit(ev: KEvent) -> None:
        seen.append(f"process {ev.ident} exited: {os.waitstatus_to_exitcode(ev.data)}")
        child.wait()  # kevents never reaps
        done.set()

    def on_change(ev: KEvent) -> None:
        seen.append(f"config written ({NoteVnode(ev.fflags)!r})")

    with tempfile.NamedTemporaryFile() as config:
        nested.watch(
            KEvent(config.fileno(), Filter.VNODE, Flag.ADD | Flag.CLEAR, NoteVnode.WRITE), on_change
        )
        script = f"import time; time.sleep(0.2); open({config.name!r}, 'w').write('x')"
        child = subprocess.Popen([sys.executable, "-c", script])
        nested.watch(KEvent(child.pid, Filter.PROC, Flag.ADD, NoteProc.EXIT), on_exit)
        ticks = 0
        while not done.is_set() and ticks < 200:  # the host loop does its own work meanwhile
            ticks += 1
            await asyncio.sleep(0.05)
    nested.close()
    print(*seen, sep="\n")
    print(f"asyncio's own loop ({type(loop).__name__}) ran {ticks} ticks meanwhile")
    return 0 if done.is_set() else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
