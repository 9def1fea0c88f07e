//! `keyway_api::clock::simulated`: a process-wide clock, so its test runs in a process of its
//! own (this file), where nothing else reads the clock meanwhile.

use keyway_api::clock::{self, simulated};
use keyway_protocol::UnixTime;

#[test]
fn the_simulated_clock_replaces_the_wall_clock_until_cleared() {
    let wall = clock::now();
    assert_eq!(simulated::get(), None, "unset until a simulation sets it");
    simulated::set(UnixTime(1_000));
    assert_eq!(clock::now(), UnixTime(1_000));
    assert_eq!(simulated::advance(59), UnixTime(1_059));
    assert_eq!(clock::now(), UnixTime(1_059));
    // u64::MAX marks "unset": asking for it gives the second before, never the wall clock.
    simulated::set(UnixTime::MAX);
    assert_eq!(clock::now(), UnixTime(u64::MAX - 1));
    simulated::clear();
    assert_eq!(simulated::get(), None);
    assert!(clock::now() >= wall);
}
