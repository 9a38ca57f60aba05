"""The ``siginfo`` extra of SIGNAL events (``ev.ext``), where the OS provides it."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class SigInfo:
    """Who sent the signal last: ``pid``, ``uid`` and ``code`` (``si_code``: SI_USER 0
    for kill(), SI_TKILL -6 for pthread_kill/tgkill, SI_QUEUE -1 for sigqueue...)."""

    pid: int
    uid: int
    code: int
