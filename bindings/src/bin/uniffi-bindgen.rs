//! Generates the Kotlin, Swift and Python bindings from the built `keyway_ffi` library
//! (library mode), e.g. `uniffi-bindgen generate --library target/debug/libkeyway_ffi.so
//! --language python --config uniffi.toml --out-dir bindings/python/generated`.

fn main() {
    uniffi::uniffi_bindgen_main()
}
