//! The phone's half of the unlock v2 key schedule, written out here from its description in
//! `unlock::seal` (X25519, HKDF-SHA256 salted with the transcript hash, ChaCha20-Poly1305 with a
//! zero nonce, a truncated HMAC-SHA256 proof) rather than taken from the library: a test can then
//! seal what no `PhoneSession` would send (a request carrying arbitrary chain bytes), or seal a
//! result as only the door could (to test what the phone checks inside the seal). Every helper
//! is also checked against the library's own output where one exists, so a drift of this copy
//! fails loudly.
#![allow(dead_code)]

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use keyway_protocol::codec::{self, BoundedBytes};
use keyway_protocol::credential::{KeyPair, label};
use keyway_protocol::unlock::frame::MessageKind;
use keyway_protocol::unlock::message::PROTOCOL_VERSION;
use keyway_protocol::unlock::seal::full_transcript;
use keyway_protocol::unlock::{DoorChallenge, DoorResult, RequestBody, ResultMessage, UnlockRequest};
use sha2::Sha256;

/// One key of the schedule.
pub(crate) fn derive(transcript: &[u8; 32], ikm: &[&[u8]], info: &[u8]) -> [u8; 32] {
    let input: Vec<u8> = ikm.concat();
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(transcript), &input).expand(info, &mut out).unwrap();
    out
}

pub(crate) fn seal(key: &[u8; 32], transcript: &[u8; 32], plaintext: &[u8]) -> Vec<u8> {
    ChaCha20Poly1305::new(Key::from_slice(key))
        .encrypt(Nonce::from_slice(&[0; 12]), Payload { msg: plaintext, aad: transcript })
        .unwrap()
}

pub(crate) fn open(key: &[u8; 32], transcript: &[u8; 32], sealed: &[u8]) -> Option<Vec<u8>> {
    ChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(Nonce::from_slice(&[0; 12]), Payload { msg: sealed, aad: transcript })
        .ok()
}

pub(crate) fn x25519(secret: &[u8; 32], public: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::StaticSecret::from(*secret).diffie_hellman(&x25519_dalek::PublicKey::from(*public)).to_bytes()
}

pub(crate) fn x25519_public(secret: &[u8; 32]) -> [u8; 32] {
    x25519_dalek::PublicKey::from(&x25519_dalek::StaticSecret::from(*secret)).to_bytes()
}

/// The device key's X25519 secret: the clamped scalar of its Ed25519 secret.
pub(crate) fn device_dh_secret(device: &KeyPair) -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(&device.secret()).to_scalar_bytes()
}

/// The ephemeral secret a `PhoneSession` with `device` and phone nonce `nonce` uses.
pub(crate) fn phone_ephemeral(device: &KeyPair, nonce: &[u8; 16]) -> [u8; 32] {
    let mut ikm = device.secret().to_vec();
    ikm.extend_from_slice(nonce);
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(Some(label::EPHEMERAL), &ikm).expand(b"phone", &mut out).unwrap();
    out
}

/// A full request of `kind` answering `challenge` (its bytes as sent), with the phone's
/// ephemeral secret `ephemeral`, the body `body` and a proof made with `device`.
pub(crate) fn request(
    kind: MessageKind,
    challenge: &[u8],
    ephemeral: &[u8; 32],
    device: &KeyPair,
    body: &RequestBody,
) -> Vec<u8> {
    let door_ephemeral = DoorChallenge::from_bytes(challenge).unwrap().offer.body.ephemeral;
    let ephemeral_public = x25519_public(ephemeral);
    let th = full_transcript(kind, challenge, &ephemeral_public);
    let ee = x25519(ephemeral, &door_ephemeral);
    let se = x25519(&device_dh_secret(device), &door_ephemeral);
    let sealed = seal(&derive(&th, &[&ee], b"request"), &th, &codec::encode(body));
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&derive(&th, &[&ee, &se], b"proof")).unwrap();
    mac.update(&sealed);
    let mut proof = [0u8; 16];
    proof.copy_from_slice(&mac.finalize().into_bytes()[..16]);
    UnlockRequest {
        version: PROTOCOL_VERSION,
        ephemeral: ephemeral_public,
        sealed: BoundedBytes::new(sealed).unwrap(),
        proof,
    }
    .to_bytes()
}

/// A request body carrying `chain` as bytes, with no batch.
pub(crate) fn body(chain: Vec<u8>, activity_after: u64) -> RequestBody {
    RequestBody { phone_nonce: [2; 16], activity_after, chain: BoundedBytes::new(chain).unwrap(), batch_digest: None }
}

/// The result key of the full session of `kind` whose challenge was `challenge` and whose
/// phone's ephemeral secret is `ephemeral` (what the door derives from its offer's secret).
fn result_key(kind: MessageKind, challenge: &[u8], ephemeral: &[u8; 32]) -> ([u8; 32], [u8; 32]) {
    let door_ephemeral = DoorChallenge::from_bytes(challenge).unwrap().offer.body.ephemeral;
    let th = full_transcript(kind, challenge, &x25519_public(ephemeral));
    let ee = x25519(ephemeral, &door_ephemeral);
    (derive(&th, &[&ee], b"result"), th)
}

/// The result message sealing `result` as the door of that session would.
pub(crate) fn sealed_result(kind: MessageKind, challenge: &[u8], ephemeral: &[u8; 32], result: &DoorResult) -> Vec<u8> {
    let (key, th) = result_key(kind, challenge, ephemeral);
    ResultMessage::Sealed(BoundedBytes::new(seal(&key, &th, &result.to_bytes())).unwrap()).to_bytes()
}

/// Opens a result message of that session.
pub(crate) fn open_result(
    kind: MessageKind,
    challenge: &[u8],
    ephemeral: &[u8; 32],
    message: &[u8],
) -> Option<DoorResult> {
    let (key, th) = result_key(kind, challenge, ephemeral);
    let ResultMessage::Sealed(sealed) = ResultMessage::from_bytes(message).ok()? else { return None };
    DoorResult::from_bytes(&open(&key, &th, &sealed)?).ok()
}
