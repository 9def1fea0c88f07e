//! Why a door session ended without a result.

#[allow(unused_imports)]
use crate::prelude::*;

use crate::codec::DecodeError;
use crate::unlock::frame::FrameError;

/// Why the door side of a session ended without a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DoorSessionError {
    #[error("framing: {0}")]
    Frame(#[from] FrameError),
    #[error("decoding the request: {0}")]
    Decode(#[from] DecodeError),
    #[error("frame after the request was complete")]
    UnexpectedFrame,
    /// API misuse: a result handed to a session that did not make it, or handed twice.
    #[error("this result was not made by this session, or was already released")]
    NotThisSessionsResult,
}
