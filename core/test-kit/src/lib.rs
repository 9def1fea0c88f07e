//! Test support for Keyway, never in a production build: the simulated BLE link ([`sim`]),
//! fixtures that build a property, its doors, residents and guests ([`fixture`]), door
//! installation from the backend's provisioning answer ([`install`]), and the fuzz targets'
//! oracles ([`oracles`]), which the test suites replay over committed inputs, and the
//! conformance vectors ([`vectors`]) committed under `vectors/`.

pub mod authority;
pub mod door;
pub mod fixture;
pub mod install;
pub mod oracles;
pub mod sim;
pub mod vectors;
