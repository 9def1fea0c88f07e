"""The binding tests run against the installed packages, never the source tree:
scripts/test-bindings installs the `keyway` wheel (scripts/package builds it) into a fresh
virtual environment, with the `keyway_test_support` module (the simulator's binding, a library
of its own) beside it, and runs pytest from that environment. Nothing here touches sys.path."""

import importlib.util

import pytest

from backend import MissionControl, binary


def pytest_configure(config):
    for module in ("keyway", "keyway_test_support"):
        if importlib.util.find_spec(module) is None:
            raise pytest.UsageError(
                f"the {module} package is not installed in this Python ({config.invocation_params.dir}); "
                "run the binding tests with scripts/test-bindings, which installs the packages"
            )


@pytest.fixture
def backend(tmp_path):
    """A reference Mission Control on 127.0.0.1 with its own database and one property."""
    mc = MissionControl(binary(), str(tmp_path / "mc.db"))
    try:
        mc.create_property()
        yield mc
    finally:
        mc.stop()


@pytest.fixture
def second_backend(tmp_path):
    """Another Mission Control on 127.0.0.1 (its own process and database) with one property,
    "Oak Row": ids it assigns (doors, keys, people) start from 1 as the first one's do."""
    mc = MissionControl(binary(), str(tmp_path / "mc2.db"))
    try:
        mc.create_property("Oak Row")
        yield mc
    finally:
        mc.stop()
