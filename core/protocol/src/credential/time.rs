//! Time a door can trust: an authority-signed statement of the current time.
//!
//! Two uses, one shape:
//! - **Unbound** (`binding: None`): handed to every phone at sync. A door whose clock lags
//!   moves *forward* to it when a phone carries it in an unlock; it never moves a clock back,
//!   so replaying an old one does nothing (its time is behind the door's).
//! - **Bound** to a door and a nonce the door chose for this one exchange (the door feed's
//!   session, or an unlock's challenge). Only such a statement may move a door's clock
//!   *backwards*: a clock that once jumped forward would otherwise refuse every key until the
//!   door is re-provisioned. A replayed or foreign one never matches the door's nonce.

use super::ids::{AuthorityKeyId, DoorId};
use super::label;
use super::signed::{Signed, SignedBody};
use crate::UnixTime;
use serde::{Deserialize, Serialize};

/// The door and exchange a bound statement is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeBinding {
    /// The door the statement is for.
    pub door_id: DoorId,
    /// The door's fresh nonce for this exchange (the feed hello's
    /// [`super::FeedHelloBody::door_nonce`], or an unlock challenge's nonce).
    pub door_nonce: [u8; 16],
}

/// What the authority states.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeStatementBody {
    /// Format version, always [`TimeStatementBody::VERSION`].
    pub version: u8,
    /// The current time, as the backend's clock says when it signs.
    pub time: UnixTime,
    /// The signing authority key.
    pub issuer: AuthorityKeyId,
    /// `None`: a forward-only statement any door of the property may take; `Some`: for one
    /// door's one exchange, which may also move that door's clock back.
    pub binding: Option<TimeBinding>,
}

impl SignedBody for TimeStatementBody {
    const LABEL: &'static [u8] = label::TIME_STATEMENT;
    const WHAT: &'static str = "time statement";
    const VERSION: u8 = 2;
    /// Version, time (varint), issuer, option tag, door id (varint), nonce, signature.
    const MAX_LEN: usize = 1 + 10 + 8 + 1 + 5 + 16 + 64;
}

/// A [`TimeStatementBody`] signed by the property's authority.
pub type TimeStatement = Signed<TimeStatementBody>;

impl TimeStatementBody {
    /// A forward-only statement of `time`.
    pub fn unbound(time: UnixTime, issuer: AuthorityKeyId) -> Self {
        TimeStatementBody { version: Self::VERSION, time, issuer, binding: None }
    }

    /// A statement of `time` for `door_id`'s exchange with nonce `door_nonce`.
    pub fn bound(time: UnixTime, issuer: AuthorityKeyId, door_id: DoorId, door_nonce: [u8; 16]) -> Self {
        TimeStatementBody { version: Self::VERSION, time, issuer, binding: Some(TimeBinding { door_id, door_nonce }) }
    }
}
