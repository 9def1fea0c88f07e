//! Time a door can trust: an authority-signed statement of the current time, bound to a nonce
//! the door chose for this one exchange. Only such a statement may move a door's clock
//! backwards (a clock that once jumped forward would otherwise refuse every key until the door
//! is re-provisioned); a replayed or foreign one never matches the door's nonce.

use super::ids::{AuthorityKeyId, DoorId};
use super::label;
use super::signed::{Signed, SignedBody};
use crate::UnixTime;
use serde::{Deserialize, Serialize};

/// What the authority states.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeStatementBody {
    /// Format version, always [`TimeStatementBody::VERSION`].
    pub version: u8,
    /// The door the statement is for.
    pub door_id: DoorId,
    /// The door's fresh nonce for this exchange (see [`super::FeedHelloBody::door_nonce`]).
    pub door_nonce: [u8; 16],
    /// The current time, as the backend's clock says.
    pub time: UnixTime,
    /// The signing authority key.
    pub issuer: AuthorityKeyId,
}

impl SignedBody for TimeStatementBody {
    const LABEL: &'static [u8] = label::TIME_STATEMENT;
    const WHAT: &'static str = "time statement";
    const VERSION: u8 = 1;
    const MAX_LEN: usize = 160;
}

/// A [`TimeStatementBody`] signed by the property's authority.
pub type TimeStatement = Signed<TimeStatementBody>;
