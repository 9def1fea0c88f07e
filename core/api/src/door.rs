//! What a door reads from Mission Control: its installation ([`ProvisionedDoor`], the answer
//! to the manager's `POST /v1/doors`), and the door feed, what an internet-connected door and
//! Mission Control exchange. The door proves its door key on a fresh challenge, then long-polls its update log (the same signed
//! batches phones carry: one log, one seq) and posts its own receipts.
//!
//! 1. `POST /v1/door-feed/challenge` [`FeedChallengeRequest`] → [`FeedChallengeResponse`]
//! 2. `POST /v1/door-feed/session` [`FeedSessionRequest`] (the door-signed hello) →
//!    [`FeedSessionResponse`] (a session token, bearer for the calls below, and the time signed
//!    for the hello's door nonce)
//! 3. `GET /v1/door-feed/updates?after=SEQ&wait_secs=S` → [`FeedUpdatesResponse`], answered
//!    as soon as the log holds an update after `SEQ`, or empty after `S` seconds (at most
//!    [`MAX_FEED_WAIT_SECS`])
//! 4. `POST /v1/door-feed/receipts` [`crate::UploadReceiptsRequest`] →
//!    [`crate::UploadReceiptsResponse`]: receipts of this door only

use crate::{B64, Secret32, WireBytes};
use keyway_protocol::UnixTime;
use keyway_protocol::codec::DecodeError;
use keyway_protocol::credential::{
    DoorCertificate, DoorId, FeedHello, PropertyCardKey, PublicKey, TimeStatement, UpdateBatch,
};
use serde::{Deserialize, Serialize};

// ---- installation ------------------------------------------------------------------------

/// Everything a door is installed with. The secrets appear in this response only; the backend
/// keeps the door's public key (in its certificate), the doorcode secret (to tell doorcode
/// holders their code) and the property's card key (to issue secure keycards), but never the
/// door's signing key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProvisionedDoor {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DoorId))]
    pub door_id: DoorId,
    pub name: String,
    pub online: bool,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub door_certificate: B64<DoorCertificate>,
    /// Seed of the door's Ed25519 key (`KeyPair::from_secret`).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub door_secret_key: B64<Secret32>,
    /// The door's doorcode secret (`DoorcodeSecret::new`).
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub doorcode_secret: B64<Secret32>,
    /// The property's card key (`PropertyCardKey::new`), from which the door derives each
    /// secure keycard's own key to check its answer. Absent in answers from before secure
    /// keycards: such a door reads UID-only cards alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Base64>))]
    pub card_key: Option<B64<PropertyCardKey>>,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::openapi::Base64>))]
    pub trust_anchors: Vec<B64<PublicKey>>,
    pub utc_offset_minutes: i16,
}

// ---- the feed -----------------------------------------------------------------------------

/// Longest a feed poll is held open by the server.
pub const MAX_FEED_WAIT_SECS: u32 = 30;
/// How long a feed challenge may be answered.
pub const FEED_CHALLENGE_SECS: u64 = 60;

/// The backend's single-use challenge (32 random bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Nonce32(pub [u8; 32]);

impl WireBytes for Nonce32 {
    const WHAT: &'static str = "nonce";
    const MAX_LEN: usize = 32;
    fn to_wire(&self) -> Vec<u8> {
        self.0.to_vec()
    }
    fn from_wire(bytes: &[u8]) -> Result<Self, DecodeError> {
        <[u8; 32]>::try_from(bytes).map(Nonce32).map_err(|_| DecodeError::Malformed {
            what: Self::WHAT,
            detail: format!("{} bytes, expected 32", bytes.len()),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FeedChallengeRequest {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::DoorId))]
    pub door_id: DoorId,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedChallengeResponse {
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub nonce: B64<Nonce32>,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub expires_at: UnixTime,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FeedSessionRequest {
    /// The challenge signed with the door key.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub hello: B64<FeedHello>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedSessionResponse {
    pub session_token: String,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub expires_at: UnixTime,
    /// The backend's time, signed by the property's authority and bound to the hello's
    /// `door_nonce`: the door sets its clock to it, backwards too.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Base64))]
    pub time: B64<TimeStatement>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct FeedUpdatesQuery {
    /// The door's update seq: the answer holds the updates after it.
    pub after: u64,
    #[serde(default)]
    pub wait_secs: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FeedUpdatesResponse {
    /// The pending updates after `after`, signed by the property's authority; `None` when the
    /// wait ended with nothing new.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::openapi::Base64>))]
    pub batch: Option<B64<UpdateBatch>>,
    /// The highest seq in the door's log.
    pub log_head: u64,
    /// The highest applied seq of any receipt of this door Mission Control holds: the door
    /// reports again when it is beyond it (a receipt lost on the way, a restart before posting).
    pub receipted_seq: u64,
    /// The highest activity seq Mission Control holds for this door with no gap below it: the
    /// door's receipts send the records after it.
    pub known_activity_head: u64,
    #[cfg_attr(feature = "openapi", schema(value_type = crate::openapi::Time))]
    #[serde(with = "crate::format::time")]
    pub server_time: UnixTime,
}
