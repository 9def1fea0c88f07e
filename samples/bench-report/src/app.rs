//! The unlock's application messages as the TLS and Noise variants carry them, inside their
//! secure channel: the request is Keyway's [`RequestBody`] (the key chain, the phone nonce and
//! `activity_after`; no batch), the answer a [`DoorResult`] with the door's signed receipt.
//!
//! The channel authenticates the device key (TLS: the client certificate and its
//! CertificateVerify; Noise: the static key) and gives freshness (the door's ephemeral key), so
//! the request carries no proof of its own. The door checks the chain with the public API
//! (`KeyChain::verify_structure_counting` then `check_use`, which is `verify_for_door` with the
//! signatures counted) and that the chain's holder is the channel's authenticated key. After a
//! TLS resumption the request carries no chain: the door takes the chain it verified at the full
//! handshake, cached under the device key the resumed session stands for.

use crate::property::{DOOR, Holder, NOW};
use keyway_protocol::codec::{self, BoundedBytes};
use keyway_protocol::credential::{DenialReason, KeyChain, PublicKey, TrustAnchors, VerifiedChain};
use keyway_protocol::door::DoorEngine;
use keyway_protocol::unlock::message::{PROTOCOL_VERSION, RequestBody};
use keyway_protocol::unlock::{Access, DoorResult};
use std::collections::HashMap;

/// The phone nonce every first unlock uses (the receipt is bound to it).
pub const PHONE_NONCE: [u8; 16] = [0xA1; 16];
/// The phone nonce of a repeat unlock.
pub const REPEAT_NONCE: [u8; 16] = [0xA2; 16];

/// The request payload: the chain (none on a resumed channel), the nonce, `activity_after`.
pub fn build_request(holder: &Holder, with_chain: bool, nonce: [u8; 16]) -> Result<Vec<u8>, String> {
    let chain = if with_chain { holder.chain.to_bytes() } else { Vec::new() };
    let chain = BoundedBytes::new(chain).ok_or("key chain too large for a request")?;
    Ok(codec::encode(&RequestBody { phone_nonce: nonce, activity_after: 0, chain, batch_digest: None }))
}

/// The key the channel authenticated for the phone.
#[derive(Clone, Copy, Debug)]
pub enum ChannelKey {
    /// An Ed25519 key (the TLS client certificate's, proven by its CertificateVerify).
    Ed25519([u8; 32]),
    /// An X25519 key (the Noise static key, proven by the handshake's DH).
    X25519([u8; 32]),
}

impl ChannelKey {
    /// Whether this is the chain holder's device key.
    pub fn is(&self, holder: &PublicKey) -> bool {
        match self {
            ChannelKey::Ed25519(k) => *k == holder.0,
            ChannelKey::X25519(k) => crate::curve::montgomery_u(&holder.0).is_some_and(|u| u == *k),
        }
    }

    fn id(&self) -> [u8; 32] {
        match self {
            ChannelKey::Ed25519(k) | ChannelKey::X25519(k) => *k,
        }
    }
}

/// The door of a peer protocol: the same engine as Keyway's, the property's anchors, and the
/// verified chains of holders it admitted (for resumed sessions).
#[derive(Clone)]
pub struct PeerDoor {
    pub engine: DoorEngine,
    anchors: TrustAnchors,
    admitted: HashMap<[u8; 32], (KeyChain, VerifiedChain)>,
}

impl PeerDoor {
    pub fn new(engine: DoorEngine, anchors: TrustAnchors) -> Self {
        PeerDoor { engine, anchors, admitted: HashMap::new() }
    }
}

/// What the door did with a request.
pub struct DoorAnswer {
    pub access: Access,
    pub result: Vec<u8>,
    /// Key-chain signatures the door verified (0 on a resumed channel).
    pub chain_verifications: u32,
}

fn admit(
    door: &mut PeerDoor,
    body: &RequestBody,
    channel: ChannelKey,
    resumed: bool,
    verifications: &mut u32,
) -> Result<(), DenialReason> {
    let now = NOW;
    if resumed {
        let (chain, verified) = door.admitted.get(&channel.id()).ok_or(DenialReason::Malformed)?;
        return chain.check_use(verified, DOOR, now, door.engine.revocations()).map_err(|e| DenialReason::from(&e));
    }
    let chain = body.key_chain().map_err(|_| DenialReason::Malformed)?;
    let verified = chain.verify_structure_counting(&door.anchors, verifications).map_err(|e| DenialReason::from(&e))?;
    if !channel.is(&verified.holder) {
        return Err(DenialReason::BadProof);
    }
    chain.check_use(&verified, DOOR, now, door.engine.revocations()).map_err(|e| DenialReason::from(&e))?;
    door.admitted.insert(channel.id(), (chain, verified));
    Ok(())
}

/// The door's side: decode, admit (chain verified and held by the channel's key, or the
/// resumed session's cached chain), then the receipt for an admitted holder and the result.
pub fn door_answer(
    door: &mut PeerDoor,
    request: &[u8],
    channel: ChannelKey,
    resumed: bool,
) -> Result<DoorAnswer, String> {
    let body: RequestBody =
        codec::decode(RequestBody::WHAT, request, RequestBody::MAX_LEN).map_err(|e| e.to_string())?;
    let mut chain_verifications = 0;
    let access = match admit(door, &body, channel, resumed, &mut chain_verifications) {
        Ok(()) => Access::Granted,
        Err(reason) => Access::Denied(reason),
    };
    let updates = door.engine.apply_batch_bytes(&[], NOW);
    let receipt = access.is_granted().then(|| door.engine.receipt(body.phone_nonce, body.activity_after));
    let result = DoorResult { version: PROTOCOL_VERSION, access, updates, receipt, ticket: None };
    Ok(DoorAnswer { access, result: result.to_bytes(), chain_verifications })
}

/// The phone's check of the result: a granted result carries a receipt that verifies with the
/// door key, names the door and is bound to this phone's nonce. Returns whether the door
/// granted access.
pub fn check_result(bytes: &[u8], door_key: &PublicKey, nonce: [u8; 16]) -> Result<bool, String> {
    let result = DoorResult::from_bytes(bytes).map_err(|e| e.to_string())?;
    match &result.receipt {
        Some(receipt) => {
            receipt.verify_signature(door_key).map_err(|e| e.to_string())?;
            if receipt.body.door_id != DOOR || receipt.body.phone_nonce != nonce {
                return Err("receipt not bound to this session".into());
            }
        }
        None if result.access.is_granted() => return Err("a grant without a receipt".into()),
        None => {}
    }
    Ok(result.access.is_granted())
}
