//! Why a credential was refused. Each chain rule has its own variant so a door's activity log,
//! the backend and the app can all say exactly what went wrong.

use crate::prelude::*;

use super::ids::{DeviceId, DoorId, KeyId, PersonId};
use crate::UnixTime;
use crate::codec::DecodeError;

/// What a revocation hit when a chain was refused as [`ChainError::Revoked`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokedWhat {
    /// This key id is revoked: the chain's root key (which takes its guests with it) or the
    /// guest key presented.
    Key(KeyId),
    /// The person the root key was issued to is revoked, and with them all their keys.
    Person(PersonId),
    /// The device the root key was certified for was removed (a lost phone), and with it every
    /// key certified for it and every guest key it signed.
    Device(DeviceId),
}

impl core::fmt::Display for RevokedWhat {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            RevokedWhat::Key(key) => write!(f, "key {key}"),
            RevokedWhat::Person(person) => write!(f, "person {}", person.0),
            RevokedWhat::Device(device) => write!(f, "{device}"),
        }
    }
}

/// Why a certificate, chain, door certificate or update batch was refused; one variant per
/// rule, so the door's log, the backend and the app can say exactly which rule failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A signature did not verify (strictly) against the key that should have made it.
    #[error("signature on the {what} does not verify")]
    BadSignature {
        /// Kind of message whose signature failed (a `SignedBody::WHAT` name).
        what: &'static str,
    },
    /// The message names an issuer (authority key id) that is not among the trust anchors.
    #[error("the {what} is signed by an authority key this door does not know")]
    UnknownIssuer {
        /// Kind of message that names the unknown issuer.
        what: &'static str,
    },
    /// The door is not in the presented key's door set.
    #[error("key {key} does not open {door}")]
    WrongDoor {
        /// The presented key (the guest key in a guest chain).
        key: KeyId,
        /// The door the key was presented at.
        door: DoorId,
    },
    /// The verifier's clock is before the presented key's start.
    #[error("key {key} is not valid before {start}")]
    NotYetValid {
        /// The presented key.
        key: KeyId,
        /// First instant at which the key is valid.
        start: UnixTime,
    },
    /// The verifier's clock is at or past the presented key's expiry.
    #[error("key {key} expired at {expiry}")]
    Expired {
        /// The presented key.
        key: KeyId,
        /// First instant at which the key is no longer valid (exclusive end of its window).
        expiry: UnixTime,
    },
    /// The door certificate's life ended: the door must be re-certified (its phone syncs) before
    /// a phone talks to it again.
    #[error("the certificate of door {door} expired at {expired}")]
    DoorCertificateExpired {
        /// The door the certificate is for.
        door: DoorId,
        /// When it expired.
        expired: UnixTime,
    },
    /// The root certificate's freshness ran out: its holder's phone has not revalidated (synced)
    /// within the property's revalidation window.
    #[error("key {key} needs its phone to sync: fresh only until {fresh_until}")]
    NotRevalidated {
        /// The root key.
        key: KeyId,
        /// When the certificate's freshness ended.
        fresh_until: UnixTime,
    },
    /// A key in the chain, or the person it was issued to, is revoked.
    #[error("{0} is revoked")]
    Revoked(RevokedWhat),
    /// A guest key hangs under a root key whose flags do not allow sharing.
    #[error("key {parent} may not be shared")]
    SharingNotAllowed {
        /// The root key without the may-share flag.
        parent: KeyId,
    },
    /// The guest key grants doors or a time window outside its parent's.
    #[error("guest key {guest} reaches beyond its parent's {what}")]
    GuestScopeWider {
        /// The guest key.
        guest: KeyId,
        /// Which scope is wider: `"doors"` or `"validity window"`.
        what: &'static str,
    },
    /// The chain has more than one guest link: a guest tried to share its key again.
    #[error("a guest key may not be shared again")]
    ReSharingByGuest,
    /// The guest key's `parent` is not the key id of the chain's root certificate.
    #[error("guest key {guest} names parent {named}, but the chain's parent is {actual}")]
    ParentMismatch {
        /// The guest key.
        guest: KeyId,
        /// The parent the guest key names.
        named: KeyId,
        /// The key id of the root certificate actually in the chain.
        actual: KeyId,
    },
    /// A body's format version is not the one this build reads; nothing else was interpreted.
    #[error("unsupported version {found} of the {what}")]
    UnsupportedVersion {
        /// Kind of message with the unknown version.
        what: &'static str,
        /// The version byte found.
        found: u8,
    },
    /// The bytes do not decode canonically within bounds, or a field breaks a structural rule
    /// (e.g. a guest id on an authority key, a batch for another door).
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Kind of message that is malformed.
        what: &'static str,
        /// Human-readable description of the problem.
        detail: String,
    },
    /// A signer's or certified public key is not a canonical point, or is of small order.
    #[error("weak or small-order public key in the {what}")]
    WeakKey {
        /// Kind of message that carries (or is checked against) the weak key.
        what: &'static str,
    },
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
