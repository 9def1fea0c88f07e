package io.keyway.tests

import com.sun.jna.NativeLibrary
import io.keyway.core.coreVersion
import io.keyway.testsupport.SimulatedProperty
import java.io.File

// The package itself: the tests run against the jar from the Maven folder scripts/package
// lays out, whose native library JNA loads from the jar's linux-x86-64/ resource, and every
// version is the workspace's (root Cargo.toml, read from the file).

/** `[workspace.package] version` of the root Cargo.toml. */
fun cargoVersion(root: File): String {
    var inSection = false
    for (line in root.resolve("Cargo.toml").readLines()) {
        val trimmed = line.trim()
        if (trimmed.startsWith("[")) inSection = trimmed == "[workspace.package]"
        val match = Regex("^version\\s*=\\s*\"([^\"]+)\"").find(trimmed)
        if (inSection && match != null) return match.groupValues[1]
    }
    throw AssertionFailed("no [workspace.package] version in ${root.resolve("Cargo.toml")}")
}

fun packageTests(suite: Suite) {
    val root = File(System.getProperty("keyway.root") ?: throw AssertionFailed("-Dkeyway.root is not set"))
    val jar = File(System.getProperty("keyway.jar") ?: throw AssertionFailed("-Dkeyway.jar is not set"))

    suite.test("the version is the workspace's, in the library, the jar's name and its pom") {
        val version = cargoVersion(root)
        check(Regex("^\\d+\\.\\d+\\.\\d+$").matches(version)) { "not a semantic version: $version" }
        checkEquals(version, coreVersion(), "coreVersion()")
        checkEquals("keyway-$version.jar", jar.name, "jar name")
        checkEquals(version, jar.parentFile.name, "Maven version folder")
        val pom = jar.resolveSibling("keyway-$version.pom").readText()
        check(pom.contains("<version>$version</version>")) { "pom version" }
    }

    suite.test("the classes and the native library come from the Maven folder's jar") {
        val codeSource = Class.forName("io.keyway.core.Wallet").protectionDomain.codeSource.location
        checkEquals(jar.canonicalFile, File(codeSource.toURI()).canonicalFile, "Wallet's jar")
        checkEquals(listOf("io", "keyway", "keyway"), jar.parentFile.parentFile.canonicalPath.split(File.separator).takeLast(3), "Maven path")
        val library = NativeLibrary.getInstance("keyway_ffi").file.canonicalFile
        // JNA extracts a class-path library to a temporary file; one found on
        // jna.library.path or in the build tree would be the wrong one.
        check(!library.path.startsWith(root.canonicalPath)) { "libkeyway_ffi loaded from the tree: $library" }
        val searchPath = System.getProperty("jna.library.path").orEmpty()
        check(searchPath.split(File.pathSeparator).none { File(it, "libkeyway_ffi.so").exists() }) {
            "jna.library.path holds a libkeyway_ffi.so: $searchPath"
        }
    }

    suite.test("the jar carries no simulator; the test support is its own library") {
        val entries = java.util.zip.ZipFile(jar).use { zip -> zip.entries().toList().map { it.name } }
        check(entries.contains("linux-x86-64/libkeyway_ffi.so")) { "no native library in the jar" }
        check(entries.none { it.contains("Simulated") || it.contains("testsupport") }) { "test-only classes in the jar" }
        val support = NativeLibrary.getInstance("keyway_test_support").file
        checkEquals("libkeyway_test_support.so", support.name, "test-support library")
        checkEquals(emptyList<Any>(), SimulatedProperty().addDoor(3u, "Lobby").activity(), "a new door's activity")
    }
}
