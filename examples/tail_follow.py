"""``tail -F`` with kevents: follow a log across rename rotation, copytruncate and
delete-recreate, never losing or repeating a line.

    python examples/tail_follow.py FILE      # follow FILE until Ctrl-C
    python examples/tail_follow.py           # self-check: a writer rotates its log all
                                             # three ways; every line must come out once

How it follows (VNODE events on the file, and on its directory for the name):

* NOTE_WRITE/EXTEND: read what was appended;
* NOTE_TRUNCATE (copytruncate): the file was cut; start again at offset 0;
* NOTE_RENAME/DELETE (rotation or removal): finish reading the old file through the fd
  we hold (its data is still there), then wait for the name to come back in the
  directory (NOTE_WRITE with the entry's name, from the NAMES extra) and open it.

copytruncate has two races of its own, in every tail: lines written between the copy
and the truncation are in the copy only, and a truncation is seen only as a shrink
(Linux reports it as a plain write), so lines that refill the file past the old size
before the follower looks hide it. The self-check's writer therefore rotates only once
the follower has caught up, and after a truncation writes one line and waits for it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading

import kevents
from kevents import Filter, Flag, KEvent, NoteVnode

FILE_NOTES = (
    NoteVnode.WRITE | NoteVnode.EXTEND | NoteVnode.TRUNCATE | NoteVnode.RENAME | NoteVnode.DELETE
)


class Follower:
    def __init__(self, kq: kevents.Queue, path: str) -> None:
        self.kq = kq
        self.path = path
        self.name = os.path.basename(path)
        self.fd = -1
        self.partial = b""
        # open_for_vnode, not os.open: on Windows it opens directories, and the watched
        # log stays renamable and deletable by the program that rotates it
        self.dirfd = kevents.open_for_vnode(os.path.dirname(os.path.abspath(path)) or ".")
        kq.control(
            [
                KEvent(
                    self.dirfd,
                    Filter.VNODE,
                    Flag.ADD | Flag.CLEAR,
                    NoteVnode.WRITE | NoteVnode.NAMES,
                )
            ],
            0,
        )
        self.reopen()

    def reopen(self) -> bool:
        try:
            fd = kevents.open_for_vnode(self.path)
        except FileNotFoundError:
            return False
        if self.fd >= 0:
            self.kq.close_fd(self.fd)
        self.fd = fd
        self.kq.control([KEvent(fd, Filter.VNODE, Flag.ADD | Flag.CLEAR, FILE_NOTES)], 0)
        return True

    def drain(self) -> list[bytes]:
        """Read whatever the open file has beyond our offset, as complete lines."""
        chunks = []
        while self.fd >= 0:
            data = os.read(self.fd, 65536)
            if not data:
                break
            chunks.append(data)
        *lines, self.partial = (self.partial + b"".join(chunks)).split(b"\n")
        return lines

    def handle(self, ev: KEvent) -> list[bytes]:
        if ev.ident == self.dirfd:  # a name appeared or went in the directory
            names = {name for name, what in (ev.ext or ()) if what in ("created", "moved_to")}
            if self.name in names or ev.fflags & NoteVnode.RESCAN:
                lines = self.drain()  # the old file's last lines first
                if self.reopen():
                    lines += self.drain()
                return lines
            return []
        if ev.ident != self.fd:
            return []
        if ev.fflags & NoteVnode.TRUNCATE:
            os.lseek(self.fd, 0, os.SEEK_SET)
        return self.drain()

    def close(self) -> None:
        if self.fd >= 0:
            self.kq.close_fd(self.fd)
        self.kq.close_fd(self.dirfd)


def follow(path: str) -> None:
    with kevents.Queue() as kq:
        f = Follower(kq, path)
        try:
            for line in f.drain():
                print(line.decode(errors="replace"))
            while True:
                for ev in kq.control(None, 16, None):
                    for line in f.handle(ev):
                        print(line.decode(errors="replace"), flush=True)
        except KeyboardInterrupt:
            pass
        finally:
            f.close()


def self_check() -> int:
    """A writer appends numbered lines and rotates the log three ways; the follower
    must print each line exactly once, in order."""
    total = 600
    with tempfile.TemporaryDirectory() as d, kevents.Queue() as kq:
        log = os.path.join(d, "app.log")
        open(log, "wb").close()
        caught_up = threading.Condition()
        progress = [0]

        def wait_for_follower(n: int) -> None:
            with caught_up:
                caught_up.wait_for(lambda: progress[0] >= n, timeout=10)

        def writer() -> None:
            rotations = {150: "rename", 300: "copytruncate", 450: "delete-recreate"}
            for i in range(total):
                if rotations.get(i - 1) == "copytruncate":
                    wait_for_follower(i)  # the shrink must be seen before a refill
                if i in rotations:
                    wait_for_follower(i)
                    how = rotations[i]
                    if how == "rename":
                        os.rename(log, log + ".1")
                    elif how == "copytruncate":
                        shutil.copy(log, log + ".2")
                        os.truncate(log, 0)
                    else:
                        os.unlink(log)
                    print(f"-- writer: rotated by {how} after line {i - 1}", flush=True)
                with open(log, "ab") as f:
                    f.write(f"line {i}\n".encode())

        f = Follower(kq, log)
        t = threading.Thread(target=writer)
        t.start()
        seen: list[int] = []
        try:
            while len(seen) < total:
                got = kq.control(None, 16, 10)
                if not got:
                    print(f"stalled after {len(seen)} lines", file=sys.stderr)
                    return 1
                for ev in got:
                    for line in f.handle(ev):
                        seen.append(int(line.split()[1]))
                with caught_up:
                    progress[0] = len(seen)
                    caught_up.notify()
        finally:
            t.join()
            f.close()
    if seen != list(range(total)):
        print("lines lost or repeated!", file=sys.stderr)
        return 1
    print(f"followed {total} lines across three rotations: none lost, none repeated")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        follow(sys.argv[1])
        sys.exit(0)
    sys.exit(self_check())
