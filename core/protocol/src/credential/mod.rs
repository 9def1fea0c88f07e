//! Layer 1: who may open which door, as signed, strictly verified certificates.
//!
//! - [`keys`]: Ed25519 key pairs for the three roles (authority, device, door) and the one
//!   verification function every check in Keyway goes through ([`keys::verify`]).
//! - [`label`]: the domain-separation label of every kind of signed message.
//! - [`signed`]: the `Signed<T>` envelope: a versioned body and a signature over label ‖ body.
//! - [`door_cert`], [`key_cert`], [`chain`]: door certificates, key certificates, guest keys and
//!   the chain rules a door applies.
//! - [`door_update`]: authority-signed batches of door updates.
//! - [`doorcode`]: daily doorcodes derived from a per-door secret and a person's slot.
//! - [`card`]: secure keycards: AN10922 key diversification and the AES-128 challenge-response.
//! - [`feed`]: an internet-connected door's proof of its door key to the backend's feed.
//! - [`rotation`]: an authority key replaced by a statement the key it replaces signed.
//! - [`time`]: authority-signed time: forward-only for any door, or bound to one door's nonce
//!   (the only way a clock moves back).

pub mod card;
pub mod chain;
pub mod door_cert;
pub mod door_update;
pub mod doorcode;
pub mod error;
pub mod feed;
pub mod ids;
pub mod key_cert;
pub mod keys;
pub mod label;
pub mod receipt;
pub mod rotation;
pub mod signed;
pub mod time;

pub use card::{CardKey, CardKind, PropertyCardKey};
pub use chain::{KeyChain, MAX_GUEST_VALIDITY_SECS, NoRevocations, RevocationCheck, TrustAnchors, VerifiedChain};
pub use door_cert::{DoorCertBody, DoorCertBodyV1, DoorCertificate};
pub use door_update::{DoorOp, DoorUpdate, MAX_DOOR_ANCHORS, UpdateBatch, UpdateBatchBody};
pub use doorcode::{Doorcode, DoorcodeSecret};
pub use error::{ChainError, RevokedWhat};
pub use feed::{FeedHello, FeedHelloBody};
pub use ids::{AuthorityKeyId, CardId, DeviceId, DoorId, DoorSet, KeyId, PersonId};
pub use key_cert::{GuestKey, GuestKeyBody, KeyCertBody, KeyCertificate, KeyFlags, Validity};
pub use keys::{KeyPair, PublicKey, verify};
pub use receipt::{ActivityEvent, ActivityRecord, DenialReason, EntryChannel, Receipt, ReceiptBody};
pub use rotation::{AuthorityRotation, AuthorityRotationBody, MAX_ROTATIONS};
pub use signed::{Signed, SignedBody};
pub use time::{TimeBinding, TimeStatement, TimeStatementBody};
