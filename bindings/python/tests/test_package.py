"""The packages themselves: the tests import the installed wheel, whose version is the
workspace's, and the app package carries no test-only code."""

import importlib.metadata
import os
import pathlib
import sys
import sysconfig
import tomllib

import keyway
import keyway_test_support

REPO = pathlib.Path(__file__).resolve().parents[3]


def cargo_version():
    with open(REPO / "Cargo.toml", "rb") as f:
        return tomllib.load(f)["workspace"]["package"]["version"]


def site_dirs():
    paths = sysconfig.get_paths()
    return {pathlib.Path(paths["purelib"]).resolve(), pathlib.Path(paths["platlib"]).resolve()}


def test_keyway_is_imported_from_the_installed_wheel_in_a_virtual_environment():
    assert sys.prefix != sys.base_prefix, "the tests run in a virtual environment"
    package = pathlib.Path(keyway.__file__).resolve().parent
    assert package.parent in site_dirs(), f"keyway imported from {package}"
    assert REPO not in package.parents, f"keyway imported from the source tree: {package}"
    files = {str(f) for f in importlib.metadata.files("keyway")}
    assert {"keyway/__init__.py", "keyway/keyway.py", "keyway/libkeyway_ffi.so"} <= files
    assert (package / "libkeyway_ffi.so").is_file()


def test_every_version_is_the_workspace_version():
    version = cargo_version()
    parts = version.split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts), f"not a semantic version: {version}"
    assert keyway.core_version() == version
    assert importlib.metadata.version("keyway") == version


def test_the_app_package_carries_no_simulator():
    assert not [name for name in dir(keyway) if "Simulat" in name]
    files = [str(f) for f in importlib.metadata.files("keyway")]
    assert not [f for f in files if "test_support" in f or "simulat" in f.lower()]
    source = pathlib.Path(keyway.__file__).resolve().parent / "keyway.py"
    assert "Simulated" not in source.read_text()


def test_test_support_is_its_own_library_using_the_app_package():
    support = pathlib.Path(keyway_test_support.__file__).resolve().parent
    assert support.parent in site_dirs()
    assert (support / "libkeyway_test_support.so").is_file()
    assert not (support / "libkeyway_ffi.so").exists()
    # Its records and errors are the app package's own classes.
    door = keyway_test_support.SimulatedProperty().add_door(3, "Lobby")
    assert door.activity() == []
    try:
        keyway_test_support.SimulatedDoor.provisioned("{}")
    except keyway.KeywayError.InvalidPayload as e:
        assert "door provisioning" in str(e)
    else:
        raise AssertionError("a provisioning without fields installed a door")
    assert os.path.basename(keyway_test_support.__file__) == "__init__.py"
