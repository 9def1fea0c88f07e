//! A door's install and its saved state, in plain Rust: what the door SDK ([`crate::door`])
//! and the lock simulator (`samples/lock-sim`) both provision and persist with, so the two
//! cannot disagree on what a valid install is or on how a door's state is stored.
//!
//! - Install: the `ProvisionedDoor` JSON Mission Control answers `POST /v1/doors` with is
//!   checked before anything is written: it names a trust anchor, its door certificate verifies
//!   under those anchors, and the certificate is about exactly this door id and door key.
//! - State: the bytes of [`DoorState::to_bytes`] (versioned; older versions are upgraded on
//!   load by [`DoorState::from_bytes`]), restored with the standard [`DoorLimits`].

use keyway_api::ProvisionedDoor;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorcodeSecret, KeyPair, TrustAnchors};
use keyway_protocol::door::{DoorEngine, DoorLimits, DoorProvisioning, DoorState, DoorStateError};

/// Why a provisioning answer does not install.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("provisioning is not a door from Mission Control: {0}")]
    Json(#[from] serde_json::Error),
    #[error("provisioning names no trust anchor")]
    NoAnchors,
    #[error("the door certificate does not verify under the provisioned trust anchors")]
    BadCertificate,
    #[error("the door certificate is for another door or another key than the provisioned one")]
    CertificateMismatch,
}

/// Reads a `ProvisionedDoor` answer and checks it (see the module docs); the door's clock
/// starts at `clock`.
pub fn provisioning_from_json(json: &str, clock: UnixTime) -> Result<DoorProvisioning, InstallError> {
    let door: ProvisionedDoor = serde_json::from_str(json)?;
    provisioning_from(&door, clock)
}

/// [`provisioning_from_json`] for a parsed answer.
pub fn provisioning_from(door: &ProvisionedDoor, clock: UnixTime) -> Result<DoorProvisioning, InstallError> {
    if door.trust_anchors.is_empty() {
        return Err(InstallError::NoAnchors);
    }
    let anchors = TrustAnchors::new(door.trust_anchors.iter().map(|k| k.0));
    let door_key = KeyPair::from_secret(&door.door_secret_key.0.0);
    let certified = door.door_certificate.0.verify(&anchors).map_err(|_| InstallError::BadCertificate)?;
    if certified != door_key.public() || door.door_certificate.0.body.door_id != door.door_id {
        return Err(InstallError::CertificateMismatch);
    }
    Ok(DoorProvisioning {
        door_id: door.door_id,
        door_key,
        anchors,
        doorcode_secret: DoorcodeSecret::new(door.doorcode_secret.0.0),
        card_key: door.card_key.as_ref().map(|k| k.0.clone()),
        utc_offset_minutes: door.utc_offset_minutes,
        clock,
    })
}

/// The bytes a door's state is saved as.
pub fn state_bytes(door: &DoorEngine) -> Vec<u8> {
    door.state().to_bytes()
}

/// A door from its saved bytes (any supported state version), running with
/// [`DoorLimits::STANDARD`]; damaged bytes, or a state holding more than those limits, are
/// refused, never truncated.
pub fn engine_from_bytes(bytes: &[u8]) -> Result<DoorEngine, DoorStateError> {
    DoorEngine::from_state(DoorState::from_bytes(bytes)?, DoorLimits::STANDARD)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_api::{B64, Secret32};
    use keyway_protocol::credential::{AuthorityKeyId, DoorCertBody, DoorId, Signed};

    fn answer(authority: &KeyPair, door_key: &KeyPair, door_id: u32) -> ProvisionedDoor {
        let cert = Signed::sign(
            DoorCertBody::new(DoorId(door_id), door_key.public(), AuthorityKeyId::of(&authority.public().0)),
            authority,
        );
        ProvisionedDoor {
            door_id: DoorId(door_id),
            name: "Lobby".into(),
            online: false,
            door_certificate: B64(cert),
            door_secret_key: B64(Secret32(*door_key.secret())),
            doorcode_secret: B64(Secret32([7; 32])),
            card_key: None,
            trust_anchors: vec![B64(authority.public())],
            utc_offset_minutes: 60,
        }
    }

    #[test]
    fn a_verified_install_round_trips_through_its_saved_bytes() {
        let authority = KeyPair::generate();
        let door_key = KeyPair::generate();
        let json = serde_json::to_string(&answer(&authority, &door_key, 7)).unwrap();
        let door = DoorEngine::new(provisioning_from_json(&json, UnixTime(1_800_000_000)).unwrap());
        assert_eq!(door.door_id(), DoorId(7));
        let restored = engine_from_bytes(&state_bytes(&door)).unwrap();
        assert_eq!(restored.state(), door.state());
        assert_eq!(restored.door_public_key(), door_key.public());
        assert!(engine_from_bytes(&[0xff, 1, 2]).is_err());
        assert!(engine_from_bytes(&[]).is_err());
    }

    #[test]
    fn an_install_that_does_not_verify_is_refused() {
        let authority = KeyPair::generate();
        let door_key = KeyPair::generate();
        let clock = UnixTime(1_800_000_000);

        let mut other_anchor = answer(&authority, &door_key, 7);
        other_anchor.trust_anchors = vec![B64(KeyPair::generate().public())];
        assert!(matches!(provisioning_from(&other_anchor, clock), Err(InstallError::BadCertificate)));

        let mut other_key = answer(&authority, &door_key, 7);
        other_key.door_secret_key = B64(Secret32(*KeyPair::generate().secret()));
        assert!(matches!(provisioning_from(&other_key, clock), Err(InstallError::CertificateMismatch)));

        let mut other_door = answer(&authority, &door_key, 7);
        other_door.door_id = DoorId(8);
        assert!(matches!(provisioning_from(&other_door, clock), Err(InstallError::CertificateMismatch)));

        let mut no_anchor = answer(&authority, &door_key, 7);
        no_anchor.trust_anchors.clear();
        assert!(matches!(provisioning_from(&no_anchor, clock), Err(InstallError::NoAnchors)));

        assert!(matches!(provisioning_from_json("{\"door_id\": 7}", clock), Err(InstallError::Json(_))));
    }
}
