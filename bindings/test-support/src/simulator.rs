//! A simulated property for demos and the binding tests (never in an app's library): an
//! authority that issues guest key offers, and doors running the real door engine that an
//! app's [`keyway_ffi::BleLink`] implementation can talk to in place of a GATT peripheral
//! (notify the frames `connect` and `write` return).

use keyway_api::ProvisionedDoor;
use keyway_ffi::error::{KeywayError, Result};
use keyway_ffi::records::{self, ActivityEntry};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{
    AuthorityKeyId, DoorCertBody, DoorCertificate, DoorId, DoorcodeSecret, KeyCertBody, KeyChain, KeyFlags, KeyId,
    KeyPair, PersonId, PublicKey, Signed, TrustAnchors, Validity,
};
use keyway_protocol::door::DoorSession;
use keyway_protocol::door::{DoorEngine, DoorProvisioning};
use keyway_protocol::unlock::frame::{MAX_MTU, MIN_MTU};
use keyway_wallet::share::{GuestKeyOffer, issue_guest_key};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

fn lock<T>(m: &Mutex<T>) -> Result<MutexGuard<'_, T>> {
    m.lock().map_err(|_| KeywayError::Internal { reason: "simulator lock poisoned".into() })
}

/// The resident's key lasts this much beyond any guest window it shares.
const RESIDENT_MARGIN_SECS: u64 = 86_400;

#[derive(uniffi::Object)]
pub struct SimulatedProperty {
    authority: KeyPair,
    /// The resident whose key the guest keys are shared from.
    resident: KeyPair,
    doors: Mutex<Vec<Arc<SimulatedDoor>>>,
}

#[uniffi::export]
impl SimulatedProperty {
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(SimulatedProperty {
            authority: KeyPair::generate(),
            resident: KeyPair::generate(),
            doors: Mutex::new(Vec::new()),
        })
    }

    /// Installs a door provisioned with this property's authority key.
    pub fn add_door(&self, door_id: u32, name: String) -> Result<Arc<SimulatedDoor>> {
        let mut doors = lock(&self.doors)?;
        if doors.iter().any(|d| d.door_id == door_id) {
            return Err(KeywayError::InvalidInput { reason: format!("door {door_id} already exists") });
        }
        let door_key = KeyPair::generate();
        let issuer = AuthorityKeyId::of(&self.authority.public().0);
        let cert = Signed::sign(DoorCertBody::new(DoorId(door_id), door_key.public(), issuer), &self.authority);
        let engine = DoorEngine::new(DoorProvisioning {
            door_id: DoorId(door_id),
            door_key,
            anchors: TrustAnchors::new([self.authority.public()]),
            doorcode_secret: DoorcodeSecret::generate(),
            card_key: None,
            utc_offset_minutes: 0,
            clock: keyway_api::clock::now(),
        });
        let door = Arc::new(SimulatedDoor {
            door_id,
            name,
            cert,
            engine: Mutex::new(engine),
            session: Mutex::new(None),
            mtu: Mutex::new(MIN_MTU),
        });
        doors.push(door.clone());
        Ok(door)
    }

    /// A guest key offer (what a resident's app would hand over) for the device whose public
    /// key is `guest_device_key` (hex), opening `doors` from `start` to `expiry`.
    pub fn issue_guest_offer(
        &self,
        guest_device_key: String,
        doors: Vec<u32>,
        start: SystemTime,
        expiry: SystemTime,
    ) -> Result<String> {
        let guest = parse_public_key(&guest_device_key)?;
        let door_set = records::door_set(&doors)?;
        let validity = records::validity(start, expiry)?;
        let installed = lock(&self.doors)?;
        let certs: Vec<DoorCertificate> =
            installed.iter().filter(|d| door_set.contains(DoorId(d.door_id))).map(|d| d.cert.clone()).collect();
        if certs.len() != door_set.doors().len() {
            return Err(KeywayError::UnknownDoor {
                door_id: doors.iter().copied().find(|d| !installed.iter().any(|i| i.door_id == *d)).unwrap_or(0),
            });
        }
        let resident_validity = Validity::new(
            UnixTime(validity.start.0.saturating_sub(RESIDENT_MARGIN_SECS)),
            UnixTime(validity.expiry.0.saturating_add(RESIDENT_MARGIN_SECS)),
        )
        .ok_or_else(|| KeywayError::InvalidInput { reason: "validity window".into() })?;
        let root = Signed::sign(
            KeyCertBody::new(
                KeyId(1),
                PersonId(1),
                self.resident.public(),
                door_set.clone(),
                resident_validity,
                KeyFlags { resident: true, may_share: true },
                AuthorityKeyId::of(&self.authority.public().0),
            ),
            &self.authority,
        );
        let guest_key = issue_guest_key(&KeyChain::resident(root.clone()), &self.resident, guest, door_set, validity)?;
        let offer =
            GuestKeyOffer::new(KeyChain::guest(root, guest_key), &TrustAnchors::new([self.authority.public()]), certs);
        Ok(offer.to_text())
    }
}

fn parse_public_key(text: &str) -> Result<PublicKey> {
    let bytes =
        hex::decode(text.trim()).map_err(|_| KeywayError::InvalidInput { reason: "device key is not hex".into() })?;
    let key: [u8; 32] =
        bytes.try_into().map_err(|_| KeywayError::InvalidInput { reason: "device key is not 32 bytes".into() })?;
    Ok(PublicKey(key))
}

/// One simulated door: the real door engine behind a GATT-like surface.
#[derive(uniffi::Object)]
pub struct SimulatedDoor {
    door_id: u32,
    name: String,
    cert: DoorCertificate,
    engine: Mutex<DoorEngine>,
    session: Mutex<Option<DoorSession>>,
    mtu: Mutex<usize>,
}

impl SimulatedDoor {
    fn drain(session: &mut DoorSession, mtu: usize) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| session.poll_transmit(mtu)).collect()
    }
}

#[uniffi::export]
impl SimulatedDoor {
    /// A door installed from the backend's provisioning answer (`POST /v1/doors`, the
    /// `ProvisionedDoor` JSON), as a lock would be at install.
    #[uniffi::constructor]
    pub fn provisioned(provisioning_json: String) -> Result<Arc<Self>> {
        let p: ProvisionedDoor = serde_json::from_str(&provisioning_json)
            .map_err(|e| KeywayError::InvalidPayload { reason: format!("door provisioning: {e}") })?;
        let engine = DoorEngine::new(DoorProvisioning {
            door_id: p.door_id,
            door_key: KeyPair::from_secret(&p.door_secret_key.0.0),
            anchors: TrustAnchors::new(p.trust_anchors.iter().map(|k| k.0)),
            doorcode_secret: DoorcodeSecret::new(p.doorcode_secret.0.0),
            card_key: p.card_key.as_ref().map(|k| k.0.clone()),
            utc_offset_minutes: p.utc_offset_minutes,
            clock: keyway_api::clock::now(),
        });
        if engine.door_public_key() != p.door_certificate.0.body.door_key {
            return Err(KeywayError::InvalidPayload { reason: "door key does not match its certificate".into() });
        }
        Ok(Arc::new(SimulatedDoor {
            door_id: p.door_id.0,
            name: p.name,
            cert: p.door_certificate.0,
            engine: Mutex::new(engine),
            session: Mutex::new(None),
            mtu: Mutex::new(MIN_MTU),
        }))
    }

    /// The door's update seq (the last door update it applied).
    pub fn update_seq(&self) -> Result<u64> {
        Ok(lock(&self.engine)?.update_seq())
    }

    pub fn door_id(&self) -> u32 {
        self.door_id
    }

    /// The Keyway service data this door advertises now (door id and update seq), as a
    /// scanner hands it to the app.
    pub fn advertisement(&self) -> Result<Vec<u8>> {
        Ok(keyway_link::gatt::door_advert(&*lock(&self.engine)?).to_bytes().to_vec())
    }

    /// The door's whole scan response (the AD structure carrying that service data), as
    /// Android's `ScanRecord.getBytes` gives it.
    pub fn scan_response(&self) -> Result<Vec<u8>> {
        Ok(keyway_link::gatt::service_data_ad(&keyway_link::gatt::door_advert(&*lock(&self.engine)?)))
    }

    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// A phone connected and subscribed at `mtu`: starts a session and returns the frames
    /// the door notifies (its signed challenge).
    pub fn connect(&self, mtu: u32) -> Result<Vec<Vec<u8>>> {
        let mtu = usize::try_from(mtu).unwrap_or(MAX_MTU).clamp(MIN_MTU, MAX_MTU);
        let mut nonce = [0u8; 16];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let mut engine = lock(&self.engine)?;
        let mut session = DoorSession::new(&mut engine, keyway_api::clock::now(), nonce);
        let frames = Self::drain(&mut session, mtu);
        *lock(&self.session)? = Some(session);
        *lock(&self.mtu)? = mtu;
        Ok(frames)
    }

    /// A frame the phone wrote. Returns the frames the door notifies in answer (its result
    /// and receipt, once the request is complete and decided).
    pub fn write(&self, frame: Vec<u8>) -> Result<Vec<Vec<u8>>> {
        let mtu = *lock(&self.mtu)?;
        let mut engine = lock(&self.engine)?;
        let mut slot = lock(&self.session)?;
        let session = slot.as_mut().ok_or(KeywayError::LinkDisconnected)?;
        let fail =
            |e: &dyn std::fmt::Display| KeywayError::Link { reason: format!("door dropped the connection: {e}") };
        // The door decides on the request alone; any batch of door updates follows it, and
        // the result goes out once the batch (if announced) has arrived. A refused ticket's
        // answer goes out at once (the phone's full request follows in the same session).
        match keyway_test_kit::door::feed(session, &mut engine, &frame, keyway_api::clock::now()) {
            Err(e) => {
                *slot = None;
                return Err(fail(&e));
            }
            Ok(fed) if fed.result.is_none() => return Ok(Self::drain(session, mtu)),
            Ok(_) => {}
        }
        let frames = Self::drain(session, mtu);
        *slot = None;
        // The next session's offer is signed now, while the door is idle.
        engine.prepare_offer(keyway_api::clock::now(), [0x5a; 16]);
        Ok(frames)
    }

    /// The door's activity log.
    pub fn activity(&self) -> Result<Vec<ActivityEntry>> {
        Ok(lock(&self.engine)?.activity().records().map(ActivityEntry::from).collect())
    }
}
