//! The door feed's authentication: an internet-connected door proves to the backend that it
//! holds its certified door key by signing the backend's fresh challenge. Nothing secret is
//! shared between door and backend; the backend checks the signature against the door
//! certificate it issued.

use super::ids::DoorId;
use super::label;
use super::signed::{Signed, SignedBody};
use crate::UnixTime;
use serde::{Deserialize, Serialize};

/// What the door signs to open a feed session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedHelloBody {
    /// Format version, always [`FeedHelloBody::VERSION`].
    pub version: u8,
    /// The door signing.
    pub door_id: DoorId,
    /// The backend's challenge, fresh and single-use.
    pub server_nonce: [u8; 32],
    /// The door's own fresh nonce: the backend's time statement for this session is bound to
    /// it, so no recorded statement can be replayed to the door.
    pub door_nonce: [u8; 16],
    /// The door's update seq when it signed (where the feed resumes).
    pub update_seq: u64,
    /// The door's clock when it signed.
    pub door_time: UnixTime,
}

impl SignedBody for FeedHelloBody {
    const LABEL: &'static [u8] = label::FEED_HELLO;
    const WHAT: &'static str = "door feed hello";
    const VERSION: u8 = 1;
    const MAX_LEN: usize = 160;
}

/// A [`FeedHelloBody`] signed by the door key.
pub type FeedHello = Signed<FeedHelloBody>;
