"""Drop-in replacements for standard-library interfaces (``kevents.compat.select``)."""
