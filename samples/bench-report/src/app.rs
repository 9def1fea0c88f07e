//! The unlock's application messages as the TLS and Noise variants carry them: the same
//! [`UnlockRequest`] and [`DoorResult`] bytes as Keyway's own exchange. Instead of the door's
//! signed challenge, the request's `door_nonce` is bound to the secure channel (a TLS exporter
//! value, the Noise handshake hash), which is how such a design gets freshness.

use crate::property::{DOOR, Holder, NOW};
use keyway_protocol::credential::{DoorId, PublicKey};
use keyway_protocol::door::DoorEngine;
use keyway_protocol::unlock::message::PROTOCOL_VERSION;
use keyway_protocol::unlock::{Access, DoorResult, UnlockRequest};

/// The phone nonce every variant uses (the receipt is bound to it).
pub const PHONE_NONCE: [u8; 16] = [0xA1; 16];

/// The phone's request, signed with the device key over the channel-bound nonce.
pub fn build_request(holder: &Holder, door: DoorId, door_nonce: [u8; 16]) -> Result<Vec<u8>, String> {
    UnlockRequest::sign(door, door_nonce, PHONE_NONCE, 0, &holder.chain, None, &holder.device)
        .map(|r| r.to_bytes())
        .ok_or_else(|| "key chain too large for a request".to_string())
}

/// What the door did with a request.
pub struct DoorAnswer {
    pub access: Access,
    pub result: Vec<u8>,
}

/// The door's side: decode and decide (chain and proof, the same engine call as Keyway's
/// `DoorSession`), then sign the receipt and encode the result.
pub fn door_answer(door: &mut DoorEngine, request: &[u8], door_nonce: &[u8; 16]) -> Result<DoorAnswer, String> {
    let request = UnlockRequest::from_bytes(request).map_err(|e| e.to_string())?;
    let access = door.decide_unlock(&request, door_nonce, NOW).access;
    let updates = door.apply_batch_bytes(&[], NOW);
    let receipt = door.receipt(request.phone_nonce, request.activity_after);
    let result = DoorResult { version: PROTOCOL_VERSION, access, updates, receipt };
    Ok(DoorAnswer { access, result: result.to_bytes() })
}

/// The phone's check of the result: the receipt verifies with the door key, names the door and
/// is bound to this phone's nonce. Returns whether the door granted access.
pub fn check_result(bytes: &[u8], door_key: &PublicKey) -> Result<bool, String> {
    let result = DoorResult::from_bytes(bytes).map_err(|e| e.to_string())?;
    result.receipt.verify_signature(door_key).map_err(|e| e.to_string())?;
    if result.receipt.body.door_id != DOOR || result.receipt.body.phone_nonce != PHONE_NONCE {
        return Err("receipt not bound to this session".into());
    }
    Ok(result.access.is_granted())
}

/// The first 16 bytes of a channel binding value.
pub fn nonce_from(binding: &[u8]) -> Result<[u8; 16], String> {
    binding
        .get(..16)
        .and_then(|b| <[u8; 16]>::try_from(b).ok())
        .ok_or_else(|| "channel binding shorter than 16 bytes".into())
}
