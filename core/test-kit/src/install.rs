//! Door installation from Mission Control's `POST /v1/doors` answer: the verified path the
//! door simulator and the test fixtures use to turn a [`ProvisionedDoor`] into a door.

use keyway_api::ProvisionedDoor;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DoorcodeSecret, KeyPair, TrustAnchors};
use keyway_protocol::door::{DoorEngine, DoorProvisioning};

/// Why a provisioning answer does not install.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("provisioning file is not a door from Mission Control: {0}")]
    Json(#[from] serde_json::Error),
    #[error("provisioning names no trust anchor")]
    NoAnchors,
    #[error("the door certificate does not verify under the provisioned trust anchors")]
    BadCertificate,
    #[error("the door certificate is for another door or another key than the provisioned one")]
    CertificateMismatch,
}

/// Reads a [`ProvisionedDoor`] and checks that its certificate is the authority's statement
/// about exactly this door id and door key; the door starts its clock at `clock`.
pub fn provisioning_from_json(json: &str, clock: UnixTime) -> Result<DoorProvisioning, ProvisionError> {
    let door: ProvisionedDoor = serde_json::from_str(json)?;
    provisioning_from(&door, clock)
}

/// [`provisioning_from_json`] for a parsed answer.
pub fn provisioning_from(door: &ProvisionedDoor, clock: UnixTime) -> Result<DoorProvisioning, ProvisionError> {
    if door.trust_anchors.is_empty() {
        return Err(ProvisionError::NoAnchors);
    }
    let anchors = TrustAnchors::new(door.trust_anchors.iter().map(|k| k.0));
    let door_key = KeyPair::from_secret(&door.door_secret_key.0.0);
    let certified = door.door_certificate.0.verify(&anchors).map_err(|_| ProvisionError::BadCertificate)?;
    if certified != door_key.public() || door.door_certificate.0.body.door_id != door.door_id {
        return Err(ProvisionError::CertificateMismatch);
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

/// Installs a door from its provisioning answer, its clock starting at `clock`.
pub fn install(door: &ProvisionedDoor, clock: UnixTime) -> Result<DoorEngine, ProvisionError> {
    provisioning_from(door, clock).map(DoorEngine::new)
}
