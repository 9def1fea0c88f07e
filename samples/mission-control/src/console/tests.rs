//! Times in the property's offset, as the forms read and the pages show them.

use super::*;

#[test]
fn form_times_are_read_and_shown_in_the_propertys_offset() {
    // 09:00 at UTC+01:00 is 08:00 UTC.
    let t = parse_time("start", "2031-01-01T09:00", 60).unwrap().unwrap();
    assert_eq!(t.to_string(), "2031-01-01T08:00:00Z");
    assert_eq!(show_time(t, 60), "2031-01-01 09:00");
    assert_eq!(input_time(t, 60), "2031-01-01T09:00");
    assert_eq!(show_time(t, -300), "2031-01-01 03:00");
    assert_eq!(parse_time("start", "2031-01-01T09:00:30", 0).unwrap().unwrap().to_string(), "2031-01-01T09:00:30Z");
    assert_eq!(parse_time("start", "  ", 0).unwrap(), None);
    let e = parse_time("Key 1 expiration", "tomorrow", 0).unwrap_err();
    assert_eq!(e.status, StatusCode::BAD_REQUEST);
    assert!(e.body.message.starts_with("Key 1 expiration: expected a date and time"), "{}", e.body.message);
    assert!(parse_time("start", "1970-01-01T00:30", 60).is_err(), "before 1970 in UTC");
    assert_eq!(show_time(NO_EXPIRY, 60), "never");
    assert_eq!(input_time(NO_EXPIRY, 60), "");
    assert_eq!(offset_label(-330), "UTC-05:30");
    assert_eq!(offset_label(60), "UTC+01:00");
}
