// swift-tools-version:5.9
// Keyway for Swift apps: the generated bindings (KeywayCore.swift), the hand-written
// extensions (errors' localizedDescription, AsyncStreams, the CoreBluetooth link) and the
// native library as an XCFramework (KeywayCoreFFI: the static library for each Apple target,
// with the uniffi header and module map). Run ./build-xcframework.sh on a Mac first.
import PackageDescription

let package = Package(
    name: "KeywayCore",
    platforms: [.iOS(.v15), .macOS(.v12)],
    products: [
        .library(name: "KeywayCore", targets: ["KeywayCore"]),
    ],
    targets: [
        .binaryTarget(name: "KeywayCoreFFI", path: "KeywayCoreFFI.xcframework"),
        .target(
            name: "KeywayCore",
            dependencies: ["KeywayCoreFFI"],
            path: "Sources/KeywayCore",
            linkerSettings: [.linkedFramework("CoreBluetooth"), .linkedFramework("CoreFoundation")]
        ),
    ]
)
