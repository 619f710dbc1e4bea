"""Parsers, one module per family of formats, each declaring the types it reads; `registry`
maps a detected type to its parser and is what the rest of the code calls.

unstructured reports usage and prints a notice unless told not to. Every parser module is
imported through this package, so these are set before unstructured is first imported.
"""

import os

os.environ.setdefault("DO_NOT_TRACK", "true")
os.environ.setdefault("SCARF_NO_ANALYTICS", "true")
os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")
