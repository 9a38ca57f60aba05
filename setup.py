"""Only what pyproject.toml cannot say: the cffi build hook (python-cffi/cffi#55), on
Linux the C fast core kevents._speedups (kevents/_cffi/core.h lists its files), and the
wheel's ABI tag.

Story (D57): both compiled modules use the limited API of 3.11 (cffi generates
limited-API code by default; the fast core defines Py_LIMITED_API itself), so one
``cp311-abi3`` wheel per platform serves every CPython from 3.11 on. A free-threaded
CPython (3.14t) has no limited API before 3.15, and cffi itself then builds
``kevents._native`` against the full API: that build is a separate, non-abi3 wheel
(``cp314-cp314t``) and leaves the fast core out (its limited-API source does not
compile there, and it was not reviewed for running without the GIL), so the Python
engine runs.
"""

import re
import sys
import sysconfig
from pathlib import Path

from setuptools import Extension, setup

version = re.search(r'__version__ = "([^"]+)"', Path("kevents/_version.py").read_text())[1]
limited_api = not sysconfig.get_config_var("Py_GIL_DISABLED")

ext_modules = []
if sys.platform.startswith("linux") and limited_api:
    ext_modules.append(
        Extension(
            "kevents._speedups",
            [
                f"kevents/_cffi/{name}.c"
                for name in (
                    "speedups",
                    "queue",
                    "engine",
                    "event",
                    "knote",
                    "timer",
                    "linux_read_write",
                    "linux_batch",
                    "compat_select",
                )
            ],
            depends=[
                f"kevents/_cffi/{name}" for name in ("core.h", "epoll_wait.h", "linux_uring.c")
            ],
            include_dirs=["kevents/_cffi"],
            define_macros=[("KEV_PACKAGE_VERSION", f'"{version}"')],
            extra_compile_args=["-O2", "-Wall", "-Werror=implicit-function-declaration"],
            py_limited_api=True,
        )
    )

setup(
    cffi_modules=["kevents/_cffi/build.py:ffibuilder"],
    ext_modules=ext_modules,
    options={"bdist_wheel": {"py_limited_api": "cp311"}} if limited_api else {},
)
