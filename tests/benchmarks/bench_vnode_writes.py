"""10,000 writes to watched files (issue 5): change events per second through kevents'
VNODE filter vs watchdog (inotify observer), in the same run. Each write is followed by
waiting for its event, so the rate is the end-to-end notification rate. watchdog is
installed for this benchmark only (pip install watchdog). Not collected by pytest."""

from __future__ import annotations

import os
import queue
import tempfile
import time

import kevents
from kevents import Filter, Flag, KEvent, NoteVnode

N = 10_000
FILES = 10


def run_kevents(paths: list[str]) -> float:
    fds = [os.open(p, os.O_RDONLY) for p in paths]
    writers = [os.open(p, os.O_WRONLY | os.O_APPEND) for p in paths]
    with kevents.Queue() as kq:
        kq.control(
            [KEvent(fd, Filter.VNODE, Flag.ADD | Flag.CLEAR, NoteVnode.WRITE) for fd in fds], 0
        )
        t0 = time.perf_counter()
        for i in range(N):
            os.write(writers[i % FILES], b"x")
            got = kq.control(None, 8, 5)
            assert got and got[0].fflags & NoteVnode.WRITE
        dt = time.perf_counter() - t0
        for fd in fds:
            kq.close_fd(fd)
    for fd in writers:
        os.close(fd)
    return N / dt


def run_watchdog(paths: list[str], directory: str) -> float | None:
    try:
        from watchdog.events import FileSystemEventHandler
        from watchdog.observers import Observer
    except ImportError:
        return None
    events: queue.Queue[object] = queue.Queue()

    class Handler(FileSystemEventHandler):
        def on_modified(self, event: object) -> None:
            events.put(event)

    observer = Observer()
    observer.schedule(Handler(), directory)
    observer.start()
    writers = [os.open(p, os.O_WRONLY | os.O_APPEND) for p in paths]
    try:
        time.sleep(0.2)
        t0 = time.perf_counter()
        for i in range(N):
            os.write(writers[i % FILES], b"x")
            events.get(timeout=5)
        dt = time.perf_counter() - t0
    finally:
        observer.stop()
        observer.join()
        for fd in writers:
            os.close(fd)
    return N / dt


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        paths = [os.path.join(d, f"f{i}") for i in range(FILES)]
        for p in paths:
            open(p, "w").close()
        k = run_kevents(paths)
        w = run_watchdog(paths, d)
    print(f"\n{N} writes to {FILES} watched files, each waited for (events/s)")
    print(f"  kevents VNODE          {k:10,.0f}")
    if w is None:
        print("  watchdog               (not installed: pip install watchdog)")
    else:
        print(f"  watchdog (inotify)     {w:10,.0f}   kevents = {k / w:.1f}x watchdog")


if __name__ == "__main__":
    main()
