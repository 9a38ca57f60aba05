"""Build script for ``kevents._native`` (cffi, out-of-line API mode on POSIX).

Not a package and not shipped: setup.py runs it through ``cffi_modules``. The cdef and
C sources beside it are data files assembled per platform, so each topic (epoll core,
processes, signals, ...) keeps its own pair: ``<platform>*.cdef`` + ``<platform>*.c``.
"""

from __future__ import annotations

import pathlib
import re
import sys

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE.parent / "_version.py").read_text()).group(1)  # type: ignore[union-attr]


def _platform_prefix() -> str:
    if sys.platform.startswith("linux"):
        return "linux"
    if sys.platform == "win32":
        return "windows"
    return "kqueue"


def _sources(prefix: str) -> tuple[str, str]:
    names = ["common", *sorted(p.stem for p in HERE.glob(f"{prefix}*.cdef"))]
    cdef = "\n".join((HERE / f"{n}.cdef").read_text() for n in names)
    csrc = "\n".join((HERE / f"{n}.c").read_text() for n in names)
    return cdef, csrc


ffibuilder = FFI()
_cdef, _csrc = _sources(_platform_prefix())
ffibuilder.cdef(_cdef)
ffibuilder.set_source(
    "kevents._native",
    f'#define KEV_PACKAGE_VERSION "{VERSION}"\n' + _csrc,
    include_dirs=[str(HERE)],
    # GCC and Clang flags; MSVC (Windows, where only the version function is built) takes
    # its defaults
    extra_compile_args=[] if sys.platform == "win32" else ["-O2", "-Wall", "-Wno-unused-function"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
