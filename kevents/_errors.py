"""kevents' exceptions and the one helper that turns an errno into an exception."""

from __future__ import annotations

import errno as _errno
import os


class UnsupportedError(OSError):
    """The running OS (or this backend of it) cannot provide the requested feature.

    It is an :class:`OSError` whose ``errno`` is ``ENOTSUP``, so code written for BSD,
    where the kernel answers ``ENOTSUP`` in the same places, keeps working.
    """

    def __init__(self, what: str) -> None:
        super().__init__(_errno.ENOTSUP, f"{what}: not supported on this platform")


def oserror(code: int, what: str | None = None) -> OSError:
    """Build the exception for ``code`` (an errno); ``ENOTSUP`` becomes UnsupportedError."""
    if code == _errno.ENOTSUP:
        return UnsupportedError(what or os.strerror(code))
    if what is None:
        return OSError(code, os.strerror(code))
    return OSError(code, os.strerror(code), what)
