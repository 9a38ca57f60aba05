"""Load the compiled ``kevents._native`` module and check it matches this package.

Story: with a flat layout, a stale ``_native*.so`` left by an old editable install can
shadow the fresh build; a version baked into the C code turns that into a clear error
instead of mysterious behaviour (pyca/cryptography does the same check).
"""

from __future__ import annotations

from typing import Any

from ._version import __version__

try:
    from . import _native  # type: ignore[attr-defined]
except ImportError as exc:  # pragma: no cover - depends on the build
    raise ImportError(
        "kevents' compiled module kevents._native is missing: build it with "
        "`pip install .` (or `make build` in a checkout)"
    ) from exc

ffi: Any = _native.ffi
lib: Any = _native.lib

_built = ffi.string(lib.kev_package_version()).decode()
if _built != __version__:  # pragma: no cover - depends on the build
    raise ImportError(
        f"kevents._native was built for kevents {_built}, but this is kevents "
        f"{__version__}: rebuild it (`pip install .` or `make build`)"
    )


def check(ret: int, what: str | None = None) -> int:
    """Return ``ret`` when >= 0; raise the OSError for ``-ret`` otherwise."""
    if ret < 0:
        from ._errors import oserror

        raise oserror(-ret, what)
    return ret
