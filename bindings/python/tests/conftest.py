"""Loads the generated `keyway` module (scripts/test-bindings generates it and copies the
built library next to it; KEYWAY_PY_BINDINGS points there)."""

import os
import sys

_GENERATED = os.environ.get(
    "KEYWAY_PY_BINDINGS",
    os.path.join(os.path.dirname(__file__), "..", "generated"),
)
sys.path.insert(0, os.path.abspath(_GENERATED))
