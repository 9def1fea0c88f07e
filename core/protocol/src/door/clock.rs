//! The door's clock: an RTC reading corrected by signed time.
//!
//! Every engine call takes `now`, the lock's RTC reading. The door's time is that reading plus
//! [`DoorState::clock_correction`](super::DoorState::clock_correction), never earlier than the
//! latest time the door has seen ([`DoorState::clock`](super::DoorState::clock)), so a reset or
//! glitching RTC cannot make expired keys valid again. Signed time corrects the RTC once, so a
//! door whose RTC lags by ten minutes runs on the right time from then on instead of freezing
//! until the RTC catches up:
//! - an **unbound** [`TimeStatement`] (every phone has one from its last sync) ahead of the
//!   door's time moves it forward; one behind it changes nothing;
//! - a statement **bound** to this door and the nonce it chose for the current exchange (the
//!   door feed's session, or an unlock's challenge) sets the time either way: the only way back.
//!
//! A correction of [`CLOCK_RECORD_SECS`] or more is logged, so the receipt that carries the
//! log tells the backend how far the door's clock was off.

use super::engine::DoorEngine;
use crate::UnixTime;
use crate::credential::{ActivityEvent, ChainError, SignedBody, TimeStatement, TimeStatementBody};

/// A clock change at least this large (seconds, either way) is logged as
/// [`ActivityEvent::ClockSet`].
pub const CLOCK_RECORD_SECS: u64 = 30;

/// A change signed time made to a door's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockChange {
    /// The door's time just before.
    pub before: UnixTime,
    /// The door's time after.
    pub after: UnixTime,
}

impl ClockChange {
    /// Seconds the clock moved (negative: backwards).
    pub fn delta_secs(&self) -> i64 {
        (self.after.0 as i128 - self.before.0 as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }
}

impl DoorEngine {
    /// The door's time for the RTC reading `now`: corrected, and never before the latest time
    /// seen. Advances the clock and prunes revocations that have lapsed.
    pub fn observe_time(&mut self, now: UnixTime) -> UnixTime {
        self.rtc = now;
        let corrected = corrected(now, self.state.clock_correction);
        if corrected > self.state.clock {
            self.state.clock = corrected;
        }
        let clock = self.state.clock;
        self.state.revocations.prune_before(clock);
        clock
    }

    /// Takes an authority-signed time. `exchange_nonce` is the nonce this door chose for the
    /// exchange the statement arrived in (the feed session's hello, an unlock's challenge), if
    /// any: a statement bound to it may move the clock back; an unbound one only moves it
    /// forward. Returns the change made, `None` when an unbound statement is not ahead.
    ///
    /// Refused, changing nothing: an unknown version or issuer, a bad signature, a statement
    /// bound to another door or to a nonce other than `exchange_nonce` (a replay).
    pub fn handle_time(
        &mut self,
        statement: &TimeStatement,
        exchange_nonce: Option<&[u8; 16]>,
        now: UnixTime,
    ) -> Result<Option<ClockChange>, ChainError> {
        let body = &statement.body;
        let malformed = |detail: &str| ChainError::Malformed { what: TimeStatementBody::WHAT, detail: detail.into() };
        if body.version != TimeStatementBody::VERSION {
            return Err(ChainError::UnsupportedVersion { what: TimeStatementBody::WHAT, found: body.version });
        }
        if let Some(binding) = &body.binding {
            if binding.door_id != self.state.door_id {
                return Err(malformed("it is for another door"));
            }
            if exchange_nonce != Some(&binding.door_nonce) {
                return Err(malformed("it is not bound to this exchange's nonce (replayed?)"));
            }
        }
        let before = self.observe_time(now);
        if body.binding.is_none() && body.time <= before {
            return Ok(None);
        }
        let authority =
            self.state.anchors.get(body.issuer).ok_or(ChainError::UnknownIssuer { what: TimeStatementBody::WHAT })?;
        self.ops.verifications += 1;
        statement.verify_signature(&authority)?;
        Ok(Some(self.set_time(body.time)))
    }

    /// Sets the door's time to `time` (forwards or backwards) and the RTC correction with it;
    /// logs a large change.
    pub(crate) fn set_time(&mut self, time: UnixTime) -> ClockChange {
        let before = self.state.clock;
        self.state.clock_correction =
            (time.0 as i128 - self.rtc.0 as i128).clamp(i64::MIN as i128, i64::MAX as i128) as i64;
        self.state.clock = time;
        self.state.revocations.prune_before(time);
        let change = ClockChange { before, after: time };
        if change.delta_secs().unsigned_abs() >= CLOCK_RECORD_SECS {
            self.log(ActivityEvent::ClockSet { before, after: time });
        }
        change
    }
}

/// `rtc + correction`, saturating.
fn corrected(rtc: UnixTime, correction: i64) -> UnixTime {
    UnixTime((rtc.0 as i128 + correction as i128).clamp(0, u64::MAX as i128) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrections_saturate() {
        assert_eq!(corrected(UnixTime(10), -20), UnixTime(0));
        assert_eq!(corrected(UnixTime(u64::MAX - 1), 5), UnixTime(u64::MAX));
        assert_eq!(corrected(UnixTime(100), 600), UnixTime(700));
        let c = ClockChange { before: UnixTime(700), after: UnixTime(100) };
        assert_eq!(c.delta_secs(), -600);
    }
}
