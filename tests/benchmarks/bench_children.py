"""200 children exiting (issue 4): how long until every exit is known, kevents (PROC
and PROCDESC) vs asyncio's subprocess waiting (and Trio's, when installed), in the same
run. Target: kevents >= 2x asyncio. Not collected by pytest."""

from __future__ import annotations

import asyncio
import subprocess
import time

import kevents
from kevents import Filter, Flag, KEvent, NoteProc

N = 200
CMD = ["true"]


def run_kevents_proc() -> float:
    t0 = time.perf_counter()
    with kevents.Queue() as kq:
        procs = {}
        for _ in range(N):
            p = subprocess.Popen(CMD)
            procs[p.pid] = p
        kq.control([KEvent(pid, Filter.PROC, Flag.ADD, NoteProc.EXIT) for pid in procs], 0)
        while procs:
            for ev in kq.control(None, 256, 10):
                procs.pop(ev.ident).wait()  # kevents never reaps: the program does
    return time.perf_counter() - t0


def run_kevents_procdesc() -> float:
    t0 = time.perf_counter()
    with kevents.Queue() as kq:
        procs = {}
        for _ in range(N):
            p = kevents.spawn(CMD)
            procs[p.pidfd] = p
            kq.control([KEvent(p.pidfd, Filter.PROCDESC, Flag.ADD, NoteProc.EXIT)], 0)
        while procs:
            for ev in kq.control(None, 256, 10):
                p = procs.pop(ev.ident)
                p.wait()
                kq.close_fd(p.pidfd)
                p.pidfd = -1
    return time.perf_counter() - t0


def run_asyncio() -> float:
    async def main() -> float:
        t0 = time.perf_counter()
        procs = [await asyncio.create_subprocess_exec(*CMD) for _ in range(N)]
        await asyncio.gather(*(p.wait() for p in procs))
        return time.perf_counter() - t0

    return asyncio.run(main())


def run_trio() -> float | None:
    try:
        import trio
    except ImportError:
        return None

    async def main() -> float:
        t0 = time.perf_counter()
        procs = [await trio.lowlevel.open_process(CMD) for _ in range(N)]
        async with trio.open_nursery() as nursery:
            for p in procs:
                nursery.start_soon(p.wait)
        return time.perf_counter() - t0

    return trio.run(main)


def best(fn) -> float | None:  # type: ignore[no-untyped-def]
    times = [fn() for _ in range(3)]
    return None if None in times else min(t for t in times if t is not None)


def main() -> None:
    results = {
        "asyncio create_subprocess_exec + wait": best(run_asyncio),
        "trio open_process + wait": best(run_trio),
        "kevents PROC (pid)": best(run_kevents_proc),
        "kevents PROCDESC (kevents.spawn)": best(run_kevents_procdesc),
    }
    base = results["asyncio create_subprocess_exec + wait"]
    assert base is not None
    print(f"\n{N} children started and their exits collected (best of 3)")
    for name, t in results.items():
        if t is None:
            print(f"  {name:40s} (not installed)")
        else:
            print(f"  {name:40s} {t * 1e3:8.1f} ms   {base / t:5.2f}x asyncio")


if __name__ == "__main__":
    main()
