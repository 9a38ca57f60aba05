"""Wait for any process to exit, child or not, and print its exit status if known.

    python examples/wait_any_pid.py [PID ...]

Without arguments it starts a process that is *not* its child (a shell's background
job) and waits for that. kevents never reaps and installs no SIGCHLD handler.
"""

from __future__ import annotations

import os
import subprocess
import sys

import kevents
from kevents import Filter, Flag, KEvent, NoteProc


def report(ev: KEvent) -> None:
    if ev.flags & Flag.ERROR:
        print(f"pid {ev.ident}: {os.strerror(ev.data)}")
    elif ev.fflags & NoteProc.EXITSTATUS:
        print(f"pid {ev.ident} exited: exit status {os.waitstatus_to_exitcode(ev.data)}")
    else:
        print(f"pid {ev.ident} exited: exit status unknown (not our child, not yet reaped)")


def main(argv: list[str]) -> int:
    shell = None
    if argv:
        pids = [int(a) for a in argv]
    else:
        shell = subprocess.Popen(
            ["sh", "-c", "sleep 0.3 & echo $!; wait"], stdout=subprocess.PIPE, text=True
        )
        assert shell.stdout is not None
        pids = [int(shell.stdout.readline())]
        print(f"waiting for pid {pids[0]} (a grandchild, not our child)")
    with kevents.Queue() as kq:
        # Room for one entry per change and no wait: a pid that is gone comes back as an
        # EV_ERROR entry; with no error, an exit already known (a zombie) may come too.
        changes = [KEvent(p, Filter.PROC, Flag.ADD, NoteProc.EXIT) for p in pids]
        events = kq.control(changes, len(pids), 0)
        while True:
            for ev in events:
                report(ev)
                pids.remove(ev.ident)
            if not pids:
                break
            events = kq.control(None, len(pids), None)
    if shell is not None:
        shell.wait()
        assert shell.stdout is not None
        shell.stdout.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
