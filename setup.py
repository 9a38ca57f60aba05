"""Only what pyproject.toml cannot say: the cffi build hook (python-cffi/cffi#55)."""

from setuptools import setup

setup(cffi_modules=["kevents/_cffi/build.py:ffibuilder"])
