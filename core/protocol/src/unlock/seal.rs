//! The unlock's key schedule: X25519 key agreement, HKDF-SHA256, and ChaCha20-Poly1305 for
//! every message that names someone (request, batch, result).
//!
//! A full session (see [`super::message`]):
//!
//! ```text
//! th   = SHA-256(UNLOCK_TRANSCRIPT ‖ kind ‖ challenge bytes ‖ phone ephemeral)
//! ee   = X25519(phone ephemeral, door offer's ephemeral)     hides the phone's identity
//! se   = X25519(device key, door offer's ephemeral)           proves the device key
//! request body   sealed under HKDF(th, ee, "request")
//! proof tag      HMAC-SHA256(HKDF(th, ee ‖ se, "proof"), sealed request)[..16]
//! batch, result  sealed under HKDF(th, ee, "batch" / "result")
//! resume secret  HKDF(th, ee ‖ se, "resume")                   for the next session's ticket
//! ```
//!
//! A resumed session: `th = SHA-256(RESUME_TRANSCRIPT ‖ kind ‖ challenge bytes ‖ ticket)`,
//! every key from `HKDF(th, resume secret, ...)`, and the next resume secret
//! `HKDF(th, resume secret, "next")`. Every key seals exactly one message, so the AEAD nonce is
//! zero; the transcript hash is the associated data.

use crate::prelude::*;

use super::frame::MessageKind;
use crate::credential::{KeyPair, PublicKey, label};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Bytes the AEAD adds to each sealed message.
pub const TAG_LEN: usize = 16;
/// Length of the request's proof tag.
pub const PROOF_LEN: usize = 16;

/// A 32-byte secret that is wiped when dropped.
pub type Secret = Zeroizing<[u8; 32]>;

/// X25519 of `secret` and `public`; `None` when the result is all zeros (a small-order point:
/// the peer chose a key that contributes nothing).
pub(crate) fn dh(secret: &[u8; 32], public: &[u8; 32]) -> Option<Secret> {
    let secret = x25519_dalek::StaticSecret::from(*secret);
    let shared = secret.diffie_hellman(&x25519_dalek::PublicKey::from(*public));
    shared.was_contributory().then(|| Zeroizing::new(shared.to_bytes()))
}

/// The X25519 public key of an ephemeral secret.
pub(crate) fn dh_public(secret: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*secret)).to_bytes()
}

/// The device key's static key agreement with the door's ephemeral key (phone side).
pub(crate) fn device_dh(device: &KeyPair, door_ephemeral: &[u8; 32]) -> Option<Secret> {
    dh(&device.dh_secret(), door_ephemeral)
}

/// The door's side of [`device_dh`]: its ephemeral secret with the holder key of a verified
/// chain.
pub(crate) fn holder_dh(ephemeral: &[u8; 32], holder: &PublicKey) -> Option<Secret> {
    dh(ephemeral, &holder.dh_public()?)
}

/// An ephemeral secret derived from a long-term `secret`, a `context` that never repeats (a
/// counter, a nonce) and fresh randomness: unpredictable without the long-term secret, and
/// never the same twice even when the randomness repeats.
pub(crate) fn ephemeral(secret: &[u8; 32], context: &[u8], random: &[u8]) -> Secret {
    let mut out = Zeroizing::new([0u8; 32]);
    let mut ikm = Zeroizing::new(Vec::with_capacity(32 + random.len()));
    ikm.extend_from_slice(secret);
    ikm.extend_from_slice(random);
    Hkdf::<Sha256>::new(Some(label::EPHEMERAL), &ikm)
        .expand(context, out.as_mut())
        .expect("32 bytes is a valid length");
    out
}

/// The transcript hash of a full session.
pub fn full_transcript(kind: MessageKind, challenge: &[u8], phone_ephemeral: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update(label::UNLOCK_TRANSCRIPT)
        .chain_update([kind as u8])
        .chain_update(challenge)
        .chain_update(phone_ephemeral)
        .finalize()
        .into()
}

/// The transcript hash of a resumed session.
pub fn resume_transcript(kind: MessageKind, challenge: &[u8], ticket: &[u8; 16]) -> [u8; 32] {
    Sha256::new()
        .chain_update(label::RESUME_TRANSCRIPT)
        .chain_update([kind as u8])
        .chain_update(challenge)
        .chain_update(ticket)
        .finalize()
        .into()
}

/// One key of the schedule: HKDF-SHA256 with the transcript hash as salt.
pub(crate) fn derive(transcript: &[u8; 32], ikm: &[&[u8]], info: &[u8]) -> Secret {
    let mut input = Zeroizing::new(Vec::with_capacity(64));
    for part in ikm {
        input.extend_from_slice(part);
    }
    let mut out = Zeroizing::new([0u8; 32]);
    Hkdf::<Sha256>::new(Some(transcript), &input).expand(info, out.as_mut()).expect("32 bytes is a valid length");
    out
}

/// Seals `plaintext` under `key` (used for this one message) with the transcript as associated
/// data.
pub(crate) fn seal(key: &[u8; 32], transcript: &[u8; 32], plaintext: &[u8]) -> Vec<u8> {
    ChaCha20Poly1305::new(Key::from_slice(key))
        .encrypt(Nonce::from_slice(&[0; 12]), Payload { msg: plaintext, aad: transcript })
        .expect("ChaCha20-Poly1305 seals any message below 256 GiB")
}

/// Opens what [`seal`] sealed; `None` if anything was changed or another key sealed it.
pub(crate) fn open(key: &[u8; 32], transcript: &[u8; 32], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    ChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(Nonce::from_slice(&[0; 12]), Payload { msg: sealed, aad: transcript })
        .ok()
        .map(Zeroizing::new)
}

/// The request's proof tag: HMAC-SHA256 under the proof key over the sealed request body,
/// truncated to [`PROOF_LEN`].
pub(crate) fn proof_tag(key: &[u8; 32], sealed: &[u8]) -> [u8; PROOF_LEN] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(sealed);
    let full = mac.finalize().into_bytes();
    let mut tag = [0u8; PROOF_LEN];
    tag.copy_from_slice(&full[..PROOF_LEN]);
    tag
}

/// Constant-time comparison of two proof tags.
pub(crate) fn tags_equal(a: &[u8; PROOF_LEN], b: &[u8; PROOF_LEN]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The keys of one session, on either side, once the key agreement (or the ticket) is done.
#[derive(Clone)]
pub(crate) struct SessionKeys {
    pub(crate) transcript: [u8; 32],
    pub(crate) batch: Secret,
    pub(crate) result: Secret,
}

impl core::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

impl SessionKeys {
    /// A full session's message keys (from `ee` alone: the result reaches whoever made the
    /// phone's ephemeral key, and no listener).
    pub(crate) fn full(transcript: [u8; 32], ee: &[u8; 32]) -> Self {
        SessionKeys {
            transcript,
            batch: derive(&transcript, &[ee], b"batch"),
            result: derive(&transcript, &[ee], b"result"),
        }
    }

    /// A resumed session's message keys.
    pub(crate) fn resumed(transcript: [u8; 32], secret: &[u8; 32]) -> Self {
        SessionKeys {
            transcript,
            batch: derive(&transcript, &[secret], b"batch"),
            result: derive(&transcript, &[secret], b"result"),
        }
    }
}

/// The request body's key in a full session.
pub(crate) fn request_key(transcript: &[u8; 32], ee: &[u8; 32]) -> Secret {
    derive(transcript, &[ee], b"request")
}

/// The proof key of a full session: only the holder of the device key can make it.
pub(crate) fn proof_key(transcript: &[u8; 32], ee: &[u8; 32], se: &[u8; 32]) -> Secret {
    derive(transcript, &[ee, se], b"proof")
}

/// The resume secret a full session leaves behind (both sides compute it).
pub(crate) fn resume_secret(transcript: &[u8; 32], ee: &[u8; 32], se: &[u8; 32]) -> Secret {
    derive(transcript, &[ee, se], b"resume")
}

/// The request key of a resumed session.
pub(crate) fn resume_request_key(transcript: &[u8; 32], secret: &[u8; 32]) -> Secret {
    derive(transcript, &[secret], b"request")
}

/// The resume secret for the ticket a resumed session hands out.
pub(crate) fn next_resume_secret(transcript: &[u8; 32], secret: &[u8; 32]) -> Secret {
    derive(transcript, &[secret], b"next")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The device key's X25519 half agrees with its Ed25519 public key's Montgomery form, so the
    /// door's `holder_dh` and the phone's `device_dh` meet.
    #[test]
    fn device_and_holder_agreement_meet() {
        let device = KeyPair::from_secret(&[7; 32]);
        let door_ephemeral = [9u8; 32];
        let door_public = dh_public(&door_ephemeral);
        let phone = device_dh(&device, &door_public).unwrap();
        let door = holder_dh(&door_ephemeral, &device.public()).unwrap();
        assert_eq!(*phone, *door);
    }

    /// A small-order point contributes nothing and is refused.
    #[test]
    fn a_small_order_key_is_refused() {
        assert!(dh(&[5; 32], &[0; 32]).is_none());
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(dh(&[5; 32], &one).is_none());
    }

    #[test]
    fn a_changed_byte_or_transcript_does_not_open() {
        let key = [3u8; 32];
        let th = [4u8; 32];
        let sealed = seal(&key, &th, b"who comes and goes");
        assert_eq!(&open(&key, &th, &sealed).unwrap()[..], b"who comes and goes");
        let mut bent = sealed.clone();
        bent[0] ^= 1;
        assert!(open(&key, &th, &bent).is_none());
        assert!(open(&key, &[5; 32], &sealed).is_none());
        assert!(open(&[6; 32], &th, &sealed).is_none());
    }
}
