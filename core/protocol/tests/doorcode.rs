//! Daily doorcodes beyond the unit tests: the documented derivation, day changes at local
//! midnight for real property offsets, and how codes spread over the 10-digit space.

use chrono::{TimeZone, Utc};
use hmac::{Hmac, Mac};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::doorcode::{DIGITS, local_day};
use keyway_protocol::credential::{Doorcode, DoorcodeSecret};
use sha2::Sha256;
use std::collections::HashSet;

fn secret() -> DoorcodeSecret {
    DoorcodeSecret::new(*b"door 1042 doorcode secret, v1..!")
}

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> UnixTime {
    UnixTime(Utc.with_ymd_and_hms(y, mo, d, h, mi, s).single().expect("real instant").timestamp() as u64)
}

/// The derivation exactly as documented in `credential::doorcode`, computed independently.
fn documented_code(secret: &[u8; 32], slot: u32, day: i64) -> u64 {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(b"keyway/doorcode/v2\0");
    mac.update(&slot.to_be_bytes());
    mac.update(&day.to_be_bytes());
    let out = mac.finalize().into_bytes();
    let mut first = [0u8; 8];
    first.copy_from_slice(&out[..8]);
    u64::from_be_bytes(first) % 10_000_000_000
}

#[test]
fn codes_follow_the_documented_derivation() {
    let s = secret();
    for slot in [0, 1, 12, 65_535, u32::MAX] {
        for day in [-1, 0, 20_788, 20_789, 24_000] {
            assert_eq!(
                s.code_for_day(slot, day).value(),
                documented_code(s.as_bytes(), slot, day),
                "slot {slot} day {day}"
            );
        }
    }
    assert_eq!(DIGITS, 10);
}

#[test]
fn todays_and_tomorrows_codes_differ_for_every_slot() {
    let s = secret();
    let today = utc(2026, 12, 1, 9, 0, 0);
    let tomorrow = today.saturating_add_secs(86_400);
    for slot in 0..2_000 {
        let (a, b) = (s.code_at(slot, today, 60), s.code_at(slot, tomorrow, 60));
        assert!(!a.matches(b), "slot {slot}: today's code {a} is tomorrow's too");
        assert!(
            a.matches(s.code_at(slot, today.saturating_add_secs(3_600), 60)),
            "slot {slot}: code changed within the day"
        );
    }
}

#[test]
fn the_day_changes_at_local_midnight() {
    let s = secret();
    let slot = 7;
    // (offset in minutes east of UTC, the UTC instant of local midnight starting 2 December 2026)
    let cases = [
        (0, utc(2026, 12, 2, 0, 0, 0)),
        (60, utc(2026, 12, 1, 23, 0, 0)),   // Central Europe
        (-300, utc(2026, 12, 2, 5, 0, 0)),  // New York
        (345, utc(2026, 12, 1, 18, 15, 0)), // Kathmandu
        (840, utc(2026, 12, 1, 10, 0, 0)),  // Kiritimati
        (-720, utc(2026, 12, 2, 12, 0, 0)), // Baker Island
        (-210, utc(2026, 12, 2, 3, 30, 0)), // Newfoundland
    ];
    let dec_1 = local_day(utc(2026, 12, 1, 12, 0, 0), 0);
    for (offset, midnight) in cases {
        let before = midnight.saturating_sub_secs(1);
        assert_eq!(local_day(before, offset), dec_1, "offset {offset}: a second before midnight is 1 December");
        assert_eq!(local_day(midnight, offset), dec_1 + 1, "offset {offset}: midnight is 2 December");
        assert_eq!(s.code_at(slot, before, offset), s.code_for_day(slot, dec_1));
        assert_eq!(s.code_at(slot, midnight, offset), s.code_for_day(slot, dec_1 + 1));
        // The code holds for the whole local day, up to the last second.
        let last = midnight.saturating_add_secs(86_399);
        assert_eq!(s.code_at(slot, last, offset), s.code_at(slot, midnight, offset));
        assert_ne!(s.code_at(slot, last.saturating_add_secs(1), offset), s.code_at(slot, midnight, offset));
    }
    // The same instant can be two different days at two properties.
    let t = utc(2026, 12, 1, 23, 30, 0);
    assert_ne!(s.code_at(slot, t, 60), s.code_at(slot, t, -300));
}

#[test]
fn extreme_instants_do_not_panic() {
    let s = secret();
    for t in [UnixTime::EPOCH, UnixTime(1), UnixTime::MAX] {
        for offset in [i16::MIN, -720, 0, 840, i16::MAX] {
            let code = s.code_at(0, t, offset);
            assert_eq!(code.to_string().len(), 10);
        }
    }
    assert_eq!(local_day(UnixTime::EPOCH, -1), -1);
    assert_eq!(local_day(UnixTime::MAX, 0), (u64::MAX / 86_400) as i64);
}

/// Pearson's chi-square statistic of `counts` against a uniform expectation.
fn chi_square(counts: &[u32]) -> f64 {
    let n: u32 = counts.iter().sum();
    let expected = n as f64 / counts.len() as f64;
    counts.iter().map(|&c| (c as f64 - expected).powi(2) / expected).sum()
}

#[test]
fn codes_spread_over_the_eight_digit_space() {
    // 10,000 slots on one day at one door. The secret is fixed, so the test is deterministic;
    // the bounds are ones a uniform code passes with overwhelming probability (chi-square with
    // 9 degrees of freedom at p = 0.001 is 27.88), while a biased reduction, a stuck digit or a
    // code that ignores the slot fails them.
    let s = secret();
    let day = 20_788;
    let codes: Vec<Doorcode> = (0..10_000).map(|slot| s.code_for_day(slot, day)).collect();
    let mut leading = [0u32; 10];
    let mut trailing = [0u32; 10];
    let mut per_position = [[0u32; 10]; 10];
    for code in &codes {
        let text = code.to_string();
        assert_eq!(text.len(), 10, "{text}");
        assert_eq!(Doorcode::parse(&text), Some(*code));
        leading[(code.value() / 1_000_000_000) as usize] += 1;
        trailing[(code.value() % 10) as usize] += 1;
        for (i, b) in text.bytes().enumerate() {
            per_position[i][(b - b'0') as usize] += 1;
        }
    }
    eprintln!("leading digits {leading:?}, chi² {:.1}", chi_square(&leading));
    eprintln!("trailing digits {trailing:?}, chi² {:.1}", chi_square(&trailing));
    for (i, counts) in per_position.iter().enumerate() {
        assert!(chi_square(counts) < 27.88, "digit {i}: {counts:?}");
    }
    // Codes with leading zeros exist and are shown as 10 digits.
    assert!(leading[0] > 800, "{leading:?}");
    // Birthday bound: 10,000 codes in 10^10 values collide about 0.005 times on average.
    let distinct: HashSet<u64> = codes.iter().map(|c| c.value()).collect();
    assert!(codes.len() - distinct.len() <= 1, "{} collisions", codes.len() - distinct.len());
    // Min and max lie near the ends of the space.
    let (min, max) = (distinct.iter().min().copied().unwrap_or(0), distinct.iter().max().copied().unwrap_or(0));
    assert!(min < 10_000_000 && max > 9_990_000_000, "min {min}, max {max}");
}

#[test]
fn one_slot_over_a_year_never_repeats_much() {
    // The same slot over 365 days: a person's code really changes daily.
    let s = secret();
    let days: HashSet<u64> = (20_788..20_788 + 365).map(|d| s.code_for_day(3, d).value()).collect();
    assert!(days.len() >= 364, "{} distinct codes in 365 days", days.len());
}

#[test]
fn different_doors_give_different_codes() {
    let a = secret();
    let b = DoorcodeSecret::new(*b"door 1043 doorcode secret, v1..!");
    let same = (0..1_000).filter(|&slot| a.code_for_day(slot, 20_788).matches(b.code_for_day(slot, 20_788))).count();
    assert_eq!(same, 0);
    assert_ne!(format!("{a:?}"), "", "debug output exists");
    assert!(!format!("{a:?}").contains("door 1042"), "the secret is never printed");
    assert_eq!(format!("{:?}", a.code_for_day(1, 1)), "Doorcode(********)");
}
