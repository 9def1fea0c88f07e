pub use keyway_test_kit::oracles;
