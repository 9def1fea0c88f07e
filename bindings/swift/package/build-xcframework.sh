#!/usr/bin/env bash
# Builds KeywayCoreFFI.xcframework next to this Package.swift: the keyway-ffi static library
# (release-lib profile: fat LTO, one codegen unit, opt-level "s") for iOS devices, the iOS
# simulator (arm64 + x86_64) and macOS (arm64 + x86_64), with FFI/include (the uniffi header
# and module.modulemap) as every slice's headers.
#
# Needs macOS with Xcode (xcodebuild, lipo) and rustup; KEYWAY_REPO is the Keyway checkout
# (default: the one this package was generated from). Usage: ./build-xcframework.sh
set -euo pipefail
cd "$(dirname "$0")"
PKG=$PWD
REPO="${KEYWAY_REPO:-$(cat .keyway-repo 2>/dev/null || echo ../../../..)}"
if [ "$(uname -s)" != Darwin ] || ! command -v xcodebuild >/dev/null; then
    echo "build-xcframework.sh: needs macOS with Xcode (xcodebuild); this machine is $(uname -s) without it. Stopping."
    exit 1
fi
[ -f "$REPO/bindings/Cargo.toml" ] || { echo "build-xcframework.sh: set KEYWAY_REPO to the Keyway checkout"; exit 1; }
TARGETS="aarch64-apple-ios aarch64-apple-ios-sim x86_64-apple-ios aarch64-apple-darwin x86_64-apple-darwin"
rustup target add $TARGETS
for t in $TARGETS; do
    (cd "$REPO" && cargo rustc -p keyway-ffi --lib --profile release-lib --target "$t" --crate-type staticlib)
done
LIBS="$PKG/.build-ffi"
rm -rf "$LIBS" KeywayCoreFFI.xcframework
mkdir -p "$LIBS/ios" "$LIBS/ios-simulator" "$LIBS/macos"
T="$REPO/target"
cp "$T/aarch64-apple-ios/release-lib/libkeyway_ffi.a" "$LIBS/ios/"
lipo -create "$T/aarch64-apple-ios-sim/release-lib/libkeyway_ffi.a" "$T/x86_64-apple-ios/release-lib/libkeyway_ffi.a" \
    -output "$LIBS/ios-simulator/libkeyway_ffi.a"
lipo -create "$T/aarch64-apple-darwin/release-lib/libkeyway_ffi.a" "$T/x86_64-apple-darwin/release-lib/libkeyway_ffi.a" \
    -output "$LIBS/macos/libkeyway_ffi.a"
xcodebuild -create-xcframework \
    -library "$LIBS/ios/libkeyway_ffi.a" -headers FFI/include \
    -library "$LIBS/ios-simulator/libkeyway_ffi.a" -headers FFI/include \
    -library "$LIBS/macos/libkeyway_ffi.a" -headers FFI/include \
    -output KeywayCoreFFI.xcframework
rm -rf "$LIBS"
echo "built $PKG/KeywayCoreFFI.xcframework; add this folder to Xcode or to a Package.swift as a local package"
