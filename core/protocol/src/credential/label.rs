//! Domain-separation labels. Every signature in Keyway covers `label ‖ body`, where the body's
//! first byte is its format version. No label is a prefix of another, so a signature made for
//! one kind of message can never verify as another (type confusion is impossible by
//! construction; `tests::labels_are_prefix_free` keeps it that way).

/// Door certificates ([`super::DoorCertBody`]), signed by the authority.
pub const DOOR_CERT: &[u8] = b"keyway/door-cert/v1\0";
/// Key certificates ([`super::KeyCertBody`]), signed by the authority.
pub const KEY_CERT: &[u8] = b"keyway/key-cert/v1\0";
/// Guest keys ([`super::GuestKeyBody`]), signed by the parent key holder's device key.
pub const GUEST_KEY: &[u8] = b"keyway/guest-key/v1\0";
/// Door-update batches ([`super::UpdateBatchBody`]), signed by the authority.
pub const UPDATE_BATCH: &[u8] = b"keyway/update-batch/v1\0";
/// The door's challenge that opens an unlock session, signed by the door key.
pub const CHALLENGE: &[u8] = b"keyway/door-challenge/v1\0";
/// The unlock proof in a phone's request, signed by the presented key's device key.
pub const UNLOCK_PROOF: &[u8] = b"keyway/unlock-proof/v1\0";
/// Door receipts ([`super::ReceiptBody`]), signed by the door key.
pub const RECEIPT: &[u8] = b"keyway/door-receipt/v1\0";
/// A guest's share request (the wallet's `ShareRequest`), signed by the guest's device key
/// as proof that it holds that key.
pub const SHARE_REQUEST: &[u8] = b"keyway/share-request/v1\0";
/// An internet-connected door's answer to the backend's feed challenge, signed by the door key.
pub const FEED_HELLO: &[u8] = b"keyway/door-feed-hello/v1\0";
/// The authority's statement of the time, bound to a door's nonce (may move its clock back).
pub const TIME_STATEMENT: &[u8] = b"keyway/time-statement/v1\0";
/// A phone's proof, when it accepts an invite, that it holds the device key it enrols (signed
/// by that device key over the invite token and the key).
pub const ACCEPT_PROOF: &[u8] = b"keyway/accept-proof/v1\0";
/// A guest phone's proof, when it asks the backend for its host's current certificate, that it
/// holds the guest key's device key (signed over the chain's digest and the time).
pub const GUEST_REFRESH: &[u8] = b"keyway/guest-refresh/v1\0";
/// Not a signature label: the input prefix of the chain digest an unlock proof commits to.
pub const CHAIN_DIGEST: &[u8] = b"keyway/chain-digest/v1\0";
/// Not a signature label: the HMAC input prefix of daily doorcodes.
pub const DOORCODE: &[u8] = b"keyway/doorcode/v2\0";
/// Not a signature label: the HMAC input prefix of a keycard's keyed tag.
pub const CARD_TAG: &[u8] = b"keyway/card-tag/v1\0";
/// Not a signature label: the AES-CMAC input prefix of a secure keycard's answer to the
/// door's challenge ([`super::card`]).
pub const CARD_ANSWER: &[u8] = b"keyway/card-answer/v1\0";

/// An authority key's rotation statement, signed by the key it replaces
/// ([`super::rotation`]).
pub const AUTHORITY_ROTATION: &[u8] = b"keyway/authority-rotation/v1\0";

/// A delivery session's proof (the request of a session that carries updates without
/// unlocking; see `unlock::MessageKind::Deliver`): never valid as an unlock proof.
pub const DELIVERY_PROOF: &[u8] = b"keyway/delivery-proof/v1\0";

/// Not a signature label: hashes a door's challenge nonce from its counter, clock and
/// randomness (`DoorEngine::challenge`).
pub const CHALLENGE_NONCE: &[u8] = b"keyway/challenge-nonce/v1\0";

/// A door's key-agreement offer: its ephemeral X25519 key, signed with the door key
/// (`unlock::DoorOffer`).
pub const DOOR_OFFER: &[u8] = b"keyway/door-offer/v1\0";

/// Not a signature label: the transcript hash of a full unlock v2 session (challenge, the
/// request's kind and the phone's ephemeral key), the salt of its key schedule.
pub const UNLOCK_TRANSCRIPT: &[u8] = b"keyway/unlock-transcript/v2\0";

/// Not a signature label: the transcript hash of a resumed session (challenge, kind, ticket).
pub const RESUME_TRANSCRIPT: &[u8] = b"keyway/resume-transcript/v2\0";

/// Not a signature label: derives an ephemeral secret (the phone's per session, the door's per
/// offer) from a long-term secret, a counter or nonce and the caller's randomness.
pub const EPHEMERAL: &[u8] = b"keyway/ephemeral/v1\0";

/// Every label above, signature and non-signature alike; the prefix-free test runs over it.
pub const ALL: &[&[u8]] = &[
    DOOR_CERT,
    KEY_CERT,
    GUEST_KEY,
    UPDATE_BATCH,
    CHALLENGE,
    UNLOCK_PROOF,
    RECEIPT,
    SHARE_REQUEST,
    FEED_HELLO,
    GUEST_REFRESH,
    TIME_STATEMENT,
    ACCEPT_PROOF,
    CHAIN_DIGEST,
    DOORCODE,
    CARD_TAG,
    CARD_ANSWER,
    AUTHORITY_ROTATION,
    CHALLENGE_NONCE,
    DELIVERY_PROOF,
    DOOR_OFFER,
    UNLOCK_TRANSCRIPT,
    RESUME_TRANSCRIPT,
    EPHEMERAL,
];

#[cfg(test)]
mod tests {
    #[test]
    fn labels_are_prefix_free() {
        for (i, a) in super::ALL.iter().enumerate() {
            for (j, b) in super::ALL.iter().enumerate() {
                if i != j {
                    assert!(!b.starts_with(a), "{:?} is a prefix of {:?}", a, b);
                }
            }
        }
    }
}
