//! Domain-separation labels. Every signature in Keyway covers `label ‖ body`, where the body's
//! first byte is its format version. No label is a prefix of another, so a signature made for
//! one kind of message can never verify as another (type confusion is impossible by
//! construction; `tests::labels_are_prefix_free` keeps it that way).

#[allow(unused_imports)]
use crate::prelude::*;

pub const DOOR_CERT: &[u8] = b"keyway/door-cert/v1\0";
pub const KEY_CERT: &[u8] = b"keyway/key-cert/v1\0";
pub const GUEST_KEY: &[u8] = b"keyway/guest-key/v1\0";
pub const UPDATE_BATCH: &[u8] = b"keyway/update-batch/v1\0";
pub const CHALLENGE: &[u8] = b"keyway/door-challenge/v1\0";
pub const UNLOCK_PROOF: &[u8] = b"keyway/unlock-proof/v1\0";
pub const RECEIPT: &[u8] = b"keyway/door-receipt/v1\0";
pub const SHARE_REQUEST: &[u8] = b"keyway/share-request/v1\0";
/// Not a signature label: the input prefix of the chain digest an unlock proof commits to.
pub const CHAIN_DIGEST: &[u8] = b"keyway/chain-digest/v1\0";
/// Not a signature label: the HMAC input prefix of daily doorcodes.
pub const DOORCODE: &[u8] = b"keyway/doorcode/v1\0";

pub const ALL: &[&[u8]] = &[
    DOOR_CERT,
    KEY_CERT,
    GUEST_KEY,
    UPDATE_BATCH,
    CHALLENGE,
    UNLOCK_PROOF,
    RECEIPT,
    SHARE_REQUEST,
    CHAIN_DIGEST,
    DOORCODE,
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
