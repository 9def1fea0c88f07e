//! Why a credential was refused. Each chain rule has its own variant so a door's activity log,
//! the backend and the app can all say exactly what went wrong.

#[allow(unused_imports)]
use crate::prelude::*;

use super::ids::{DoorId, KeyId, PersonId};
use crate::UnixTime;
use crate::codec::DecodeError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokedWhat {
    Key(KeyId),
    Person(PersonId),
}

impl core::fmt::Display for RevokedWhat {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RevokedWhat::Key(key) => write!(f, "key {key}"),
            RevokedWhat::Person(person) => write!(f, "person {}", person.0),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("signature on the {what} does not verify")]
    BadSignature { what: &'static str },
    #[error("the {what} is signed by an authority key this door does not know")]
    UnknownIssuer { what: &'static str },
    #[error("key {key} does not open {door}")]
    WrongDoor { key: KeyId, door: DoorId },
    #[error("key {key} is not valid before {start}")]
    NotYetValid { key: KeyId, start: UnixTime },
    #[error("key {key} expired at {expiry}")]
    Expired { key: KeyId, expiry: UnixTime },
    #[error("{0} is revoked")]
    Revoked(RevokedWhat),
    #[error("key {parent} may not be shared")]
    SharingNotAllowed { parent: KeyId },
    #[error("guest key {guest} reaches beyond its parent's {what}")]
    GuestScopeWider { guest: KeyId, what: &'static str },
    #[error("a guest key may not be shared again")]
    ReSharingByGuest,
    #[error("guest key {guest} names parent {named}, but the chain's parent is {actual}")]
    ParentMismatch { guest: KeyId, named: KeyId, actual: KeyId },
    #[error("unsupported version {found} of the {what}")]
    UnsupportedVersion { what: &'static str, found: u8 },
    #[error("malformed {what}: {detail}")]
    Malformed { what: &'static str, detail: String },
    #[error("weak or small-order public key in the {what}")]
    WeakKey { what: &'static str },
}

impl From<DecodeError> for ChainError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::UnsupportedVersion { what, found, .. } => ChainError::UnsupportedVersion { what, found },
            DecodeError::TooLong { what, .. }
            | DecodeError::Empty { what }
            | DecodeError::Malformed { what, .. }
            | DecodeError::NonCanonical { what } => ChainError::Malformed { what, detail: e.to_string() },
        }
    }
}
