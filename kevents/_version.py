"""The package version; the compiled module carries the same string (checked at import)."""

__version__ = "0.1.0"
