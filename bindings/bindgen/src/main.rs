//! Generates the Kotlin, Swift and Python bindings from a built Keyway library (library mode),
//! e.g. `uniffi-bindgen generate --library target/debug/libkeyway_ffi.so --language python
//! --out-dir out/`. Each crate's names come from its own `uniffi.toml` (found through cargo
//! metadata); scripts/package runs it, and so does maturin when it builds the wheel.

fn main() {
    uniffi::uniffi_bindgen_main()
}
