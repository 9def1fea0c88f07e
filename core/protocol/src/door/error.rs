//! Why a door session ended without a result.

use crate::codec::DecodeError;
use crate::unlock::frame::FrameError;

/// Why the door side of a session ended without a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DoorSessionError {
    /// A frame from the phone broke the framing rules (truncated or oversized frame, wrong
    /// message kind, declared length over the kind's bound, or frames out of sequence).
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    /// The reassembled unlock request (or the time statement before it) is not a valid
    /// canonical message (or has an unknown version); a carried batch that fails to decode is
    /// reported in the result instead.
    #[error("decoding the phone's message: {0}")]
    Decode(#[from] DecodeError),
    /// A frame arrived when the session expects none: after the request (and its batch, if
    /// any) was complete, or after the session failed.
    #[error("frame after the request was complete")]
    UnexpectedFrame,
    /// The phone did not complete its request (or its batch) by the session's deadline.
    #[error("the phone did not complete its message in time")]
    DeadlinePassed,
    /// API misuse: a result handed to a session that did not make it, or handed twice.
    #[error("this result was not made by this session, or was already released")]
    NotThisSessionsResult,
}

/// Why [`DoorEngine::rekey`](super::DoorEngine::rekey) refused a new door key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RekeyError {
    /// The certificate does not verify against the door's trust anchors.
    #[error("the new door certificate does not verify: {0}")]
    Certificate(crate::credential::ChainError),
    /// The certificate is for another door.
    #[error("the new certificate is for door {certificate}, this is door {door}")]
    OtherDoor {
        /// This door.
        door: crate::credential::DoorId,
        /// The door the certificate names.
        certificate: crate::credential::DoorId,
    },
    /// The certificate certifies another key than the one installed.
    #[error("the new certificate certifies another key than the one installed")]
    KeyMismatch,
}
