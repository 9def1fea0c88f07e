"""The Swift package folder scripts/package generates, checked for shape (it cannot be
compiled on Linux: no Swift toolchain, no Xcode): the package manifest, the sources, the FFI
headers and module map the XCFramework is built with, and that every C function the Swift
code calls is declared in the header and exported by the app library."""

import os
import pathlib
import re
import subprocess
import tomllib

import keyway

REPO = pathlib.Path(__file__).resolve().parents[3]
PACKAGES = pathlib.Path(os.environ.get("KEYWAY_PACKAGES", REPO / "target" / "packages"))
PKG = PACKAGES / "swift" / "KeywayCore"
SOURCES = PKG / "Sources" / "KeywayCore"
INCLUDE = PKG / "FFI" / "include"
HAND_WRITTEN = sorted((REPO / "bindings" / "swift").glob("*.swift"))
FFI_NAME = re.compile(r"\b((?:uniffi|ffi)_keyway_[A-Za-z0-9_]+)\b")


def exported_symbols(library):
    out = subprocess.run(["nm", "-D", "--defined-only", str(library)], check=True, capture_output=True, text=True)
    return {line.split()[-1] for line in out.stdout.splitlines() if line.strip()}


def test_the_folder_holds_the_manifest_sources_headers_and_recipe():
    assert sorted(p.name for p in SOURCES.iterdir()) == sorted(["KeywayCore.swift"] + [p.name for p in HAND_WRITTEN])
    for p in HAND_WRITTEN:
        assert (SOURCES / p.name).read_bytes() == p.read_bytes(), f"{p.name} differs from bindings/swift"
    assert sorted(p.name for p in INCLUDE.iterdir()) == ["KeywayCoreFFI.h", "module.modulemap"]
    script = PKG / "build-xcframework.sh"
    assert os.access(script, os.X_OK)
    text = script.read_text()
    for target in ("aarch64-apple-ios", "aarch64-apple-ios-sim", "x86_64-apple-ios"):
        assert target in text
    assert "xcodebuild -create-xcframework" in text and "--profile release-lib" in text
    assert (PKG / "LICENSE").read_bytes() == (REPO / "LICENSE").read_bytes()


def test_package_swift_declares_the_library_on_the_xcframework():
    manifest = (PKG / "Package.swift").read_text()
    assert manifest.startswith("// swift-tools-version:")
    assert 'name: "KeywayCore"' in manifest
    assert '.library(name: "KeywayCore", targets: ["KeywayCore"])' in manifest
    assert '.binaryTarget(name: "KeywayCoreFFI", path: "KeywayCoreFFI.xcframework")' in manifest
    assert 'dependencies: ["KeywayCoreFFI"]' in manifest and 'path: "Sources/KeywayCore"' in manifest
    assert manifest.count("(") == manifest.count(")") and manifest.count("[") == manifest.count("]")


def test_the_module_map_names_the_header_and_the_module_the_swift_code_imports():
    modulemap = (INCLUDE / "module.modulemap").read_text()
    assert re.search(r"^module KeywayCoreFFI \{", modulemap, re.M)
    assert 'header "KeywayCoreFFI.h"' in modulemap
    swift = (SOURCES / "KeywayCore.swift").read_text()
    assert re.search(r"import KeywayCoreFFI\b", swift)


def test_every_ffi_function_the_swift_code_calls_is_declared_and_exported():
    header = (INCLUDE / "KeywayCoreFFI.h").read_text()
    swift = (SOURCES / "KeywayCore.swift").read_text()
    declared = set(FFI_NAME.findall(header))
    called = set(FFI_NAME.findall(swift))
    assert called, "the Swift bindings call no FFI function"
    assert called <= declared, f"called but not declared: {sorted(called - declared)[:5]}"
    library = pathlib.Path(keyway.__file__).resolve().parent / "libkeyway_ffi.so"
    functions = {name for name in declared if not name.startswith("UNIFFI_")}
    missing = functions - exported_symbols(library)
    # The header also declares uniffi's callback typedefs and structs, which are no symbols.
    missing = {m for m in missing if re.search(rf"\b{m}\s*\(", header)}
    assert not missing, f"declared but not exported by the app library: {sorted(missing)[:5]}"


def test_the_swift_package_carries_no_simulator_and_is_the_workspace_version():
    for path in [SOURCES / "KeywayCore.swift", INCLUDE / "KeywayCoreFFI.h"]:
        assert "Simulated" not in path.read_text()
    with open(REPO / "Cargo.toml", "rb") as f:
        version = tomllib.load(f)["workspace"]["package"]["version"]
    assert f"KeywayCore {version}" in (PKG / "README.md").read_text()
