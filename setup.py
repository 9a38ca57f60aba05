"""Only what pyproject.toml cannot say: the cffi build hook (python-cffi/cffi#55) and,
on Linux, the C fast core kevents._speedups (kevents/_cffi/core.h lists its files)."""

import re
import sys
from pathlib import Path

from setuptools import Extension, setup

version = re.search(r'__version__ = "([^"]+)"', Path("kevents/_version.py").read_text())[1]
ext_modules = []
if sys.platform.startswith("linux"):
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
                    "linux_read_write",
                    "compat_select",
                )
            ],
            include_dirs=["kevents/_cffi"],
            define_macros=[("KEV_PACKAGE_VERSION", f'"{version}"')],
            extra_compile_args=["-O2", "-Wall", "-Werror=implicit-function-declaration"],
            py_limited_api=True,
        )
    )

setup(cffi_modules=["kevents/_cffi/build.py:ffibuilder"], ext_modules=ext_modules)
