//! Guest sharing without a network: compact text payloads a QR code or a message can carry.
//!
//! 1. The guest's app shows a [`ShareRequest`]: its device public key and a display name,
//!    signed by that device key (proof that the guest holds it), as `KWSR1.<base64url>`.
//! 2. The resident's app signs a guest key for that device within its own key's scope and
//!    returns a [`GuestKeyOffer`] as `KWGK1.<base64url>`: the guest chain plus the authority key
//!    and door certificates the guest needs to recognise the doors.
//! 3. The guest imports the offer; it checks that the key is for its own device and that every
//!    signature verifies. The offer's authority keys and door certificates are kept with the
//!    offered key and vouch for nothing else: anyone can write an offer, so an offer never
//!    changes which doors the wallet trusts for its own property's keys (see `store::offers`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyway_protocol::UnixTime;
use keyway_protocol::codec::{self, BoundedBytes, BoundedVec, DecodeError};
use keyway_protocol::credential::{
    ChainError, DoorCertificate, DoorId, DoorSet, GuestKey, GuestKeyBody, KeyCertificate, KeyChain, KeyId, KeyPair,
    PublicKey, Signed, SignedBody, TrustAnchors, Validity, label,
};
use serde::{Deserialize, Serialize};

const REQUEST_PREFIX: &str = "KWSR1.";
const OFFER_PREFIX: &str = "KWGK1.";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShareError {
    #[error("not a Keyway share payload (expected it to start with {0})")]
    NotAPayload(&'static str),
    #[error("share payload is not valid base64")]
    BadText,
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("the share request's signature does not verify")]
    BadRequestSignature,
    #[error("this key may not be shared")]
    SharingNotAllowed,
    #[error("a guest key cannot be shared again")]
    NotAnAuthorityKey,
    #[error("the requested {0} lie outside the key being shared")]
    ScopeTooWide(&'static str),
    #[error("this guest key was issued to another device")]
    NotForThisDevice,
    #[error("the key being shared does not belong to this device")]
    NotOurKey,
    #[error("this wallet already holds another key with id {0}")]
    KeyIdTaken(KeyId),
    #[error("the backend's certificate is not this guest key's host key")]
    NotTheHostKey,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRequestBody {
    pub version: u8,
    pub guest_device: PublicKey,
    /// UTF-8 display name chosen by the guest (at most 64 bytes).
    pub name: BoundedBytes<64>,
    pub created_at: UnixTime,
}

impl SignedBody for ShareRequestBody {
    const LABEL: &'static [u8] = label::SHARE_REQUEST;
    const WHAT: &'static str = "share request";
    const VERSION: u8 = 1;
    const MAX_LEN: usize = 256;
}

/// A guest's signed request for a key (its proof of possession of the device key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShareRequest(pub Signed<ShareRequestBody>);

impl core::ops::Deref for ShareRequest {
    type Target = Signed<ShareRequestBody>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl core::ops::DerefMut for ShareRequest {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

/// Longest text payload accepted before decoding anything.
const MAX_TEXT: usize = 16 * 1024;

fn to_text(prefix: &str, bytes: &[u8]) -> String {
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn from_text(prefix: &'static str, text: &str, max_bytes: usize) -> Result<Vec<u8>, ShareError> {
    let text = text.trim();
    let body = text.strip_prefix(prefix).ok_or(ShareError::NotAPayload(prefix))?;
    if body.len() > MAX_TEXT || body.len() > max_bytes.saturating_mul(4) / 3 + 4 {
        return Err(ShareError::Decode(DecodeError::TooLong {
            what: "share payload",
            len: body.len(),
            max: max_bytes,
        }));
    }
    URL_SAFE_NO_PAD.decode(body).map_err(|_| ShareError::BadText)
}

impl ShareRequest {
    pub fn create(device: &KeyPair, name: &str, now: UnixTime) -> Self {
        let mut bytes = name.as_bytes().to_vec();
        // Cut at a char boundary within the 64-byte bound.
        let mut cut = bytes.len().min(64);
        while !name.is_char_boundary(cut) {
            cut -= 1;
        }
        bytes.truncate(cut);
        let body = ShareRequestBody {
            version: ShareRequestBody::VERSION,
            guest_device: device.public(),
            name: BoundedBytes::new(bytes).unwrap_or_default(),
            created_at: now,
        };
        ShareRequest(Signed::sign(body, device))
    }

    pub fn to_text(&self) -> String {
        to_text(REQUEST_PREFIX, &self.to_bytes())
    }

    /// Decodes and checks the guest's proof of possession.
    pub fn from_text(text: &str) -> Result<Self, ShareError> {
        let req = Signed::<ShareRequestBody>::from_bytes(&from_text(REQUEST_PREFIX, text, ShareRequestBody::MAX_LEN)?)?;
        req.verify_signature(&req.body.guest_device).map_err(|_| ShareError::BadRequestSignature)?;
        Ok(ShareRequest(req))
    }

    pub fn name(&self) -> String {
        String::from_utf8_lossy(self.body.name.as_slice()).into_owned()
    }
}

/// Signs a guest key for `request`'s device under `parent`, which must be an authority-issued
/// key held by `device` that may be shared; the guest's doors and window must lie inside it.
pub fn issue_guest_key(
    parent: &KeyChain,
    device: &KeyPair,
    guest_device: PublicKey,
    doors: DoorSet,
    validity: Validity,
) -> Result<GuestKey, ShareError> {
    if parent.guest_link().is_some() {
        return Err(ShareError::NotAnAuthorityKey);
    }
    let root = &parent.root().body;
    if root.holder != device.public() {
        return Err(ShareError::NotOurKey);
    }
    if !root.flags.may_share {
        return Err(ShareError::SharingNotAllowed);
    }
    if !doors.is_subset_of(&root.doors) {
        return Err(ShareError::ScopeTooWide("doors"));
    }
    if !validity.is_within(&root.validity) {
        return Err(ShareError::ScopeTooWide("dates"));
    }
    if !guest_device.is_acceptable() {
        return Err(ShareError::Chain(ChainError::WeakKey { what: "share request" }));
    }
    let body = GuestKeyBody::new(KeyId::random_guest(), root.key_id, guest_device, doors, validity);
    Ok(Signed::sign(body, device))
}

/// What the resident hands the guest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestKeyOffer {
    version: u8,
    pub chain: KeyChain,
    pub authority_keys: BoundedVec<PublicKey, 4>,
    pub door_certs: BoundedVec<DoorCertificate, 32>,
    /// The host's backend (UTF-8 URL, at most 256 bytes), where the guest's phone revalidates
    /// the key when it is online ([`crate::Wallet::refresh_guest_keys`]); `None` from a host
    /// that is not enrolled.
    backend: Option<BoundedBytes<256>>,
}

impl GuestKeyOffer {
    /// Version 2 names the host's backend (version 1 offers carried certificates without
    /// freshness, which doors refuse now).
    const VERSION: u8 = 2;
    const MAX_LEN: usize = KeyChain::MAX_LEN + 4 * 32 + 32 * 160 + 16 + 260;

    pub fn new(chain: KeyChain, anchors: &TrustAnchors, door_certs: Vec<DoorCertificate>) -> Self {
        let keys: Vec<PublicKey> = anchors.keys().copied().take(4).collect();
        let mut certs = door_certs;
        certs.truncate(32);
        GuestKeyOffer {
            version: Self::VERSION,
            chain,
            authority_keys: BoundedVec::new(keys).unwrap_or_default(),
            door_certs: BoundedVec::new(certs).unwrap_or_default(),
            backend: None,
        }
    }

    /// The same offer naming the host's backend, where the guest revalidates (an address
    /// longer than 256 bytes is left out).
    pub fn with_backend(mut self, url: Option<&str>) -> Self {
        self.backend = url.and_then(|u| BoundedBytes::new(u.as_bytes().to_vec()));
        self
    }

    /// The host's backend, if the offer names one (and it is UTF-8).
    pub fn backend_url(&self) -> Option<&str> {
        self.backend.as_ref().and_then(|b| std::str::from_utf8(b.as_slice()).ok())
    }

    /// The same offer with `root`, the host key's current certificate from the backend, in
    /// place of the one it holds: same key id and holder, and the new chain verifies under the
    /// offer's own anchors for `device`. Anything else is refused and changes nothing.
    pub fn with_root(&self, root: KeyCertificate, device: &PublicKey) -> Result<Self, ShareError> {
        let held = &self.chain.root().body;
        if root.body.key_id != held.key_id || root.body.holder != held.holder {
            return Err(ShareError::NotTheHostKey);
        }
        let link = self.chain.guest_link().ok_or(ShareError::NotAPayload(OFFER_PREFIX))?.clone();
        let renewed = GuestKeyOffer { chain: KeyChain::guest(root, link), ..self.clone() };
        renewed.verify_for(device)?;
        Ok(renewed)
    }

    pub fn to_text(&self) -> String {
        to_text(OFFER_PREFIX, &self.to_bytes())
    }

    pub fn from_text(text: &str) -> Result<Self, ShareError> {
        Ok(Self::from_bytes(&from_text(OFFER_PREFIX, text, Self::MAX_LEN)?)?)
    }

    /// The offer's canonical encoding (what the text form carries, and what the store keeps).
    pub fn to_bytes(&self) -> Vec<u8> {
        codec::encode(self)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        codec::decode_versioned("guest key offer", bytes, Self::MAX_LEN, Self::VERSION)
    }

    /// The offer's certificate for `door`, if it brings one.
    pub fn door_cert(&self, door: DoorId) -> Option<&DoorCertificate> {
        self.door_certs.iter().find(|c| c.body.door_id == door)
    }

    /// The authority keys the offer brings: they vouch for its chain and door certificates only.
    pub fn anchors(&self) -> TrustAnchors {
        TrustAnchors::new(self.authority_keys.iter().copied())
    }

    /// Checks the offer for `device`: the chain verifies (signatures and scope) under the
    /// offered authority keys, its guest link names this device, and every door certificate
    /// verifies. Returns the offer's anchors, which vouch for this offer and nothing else.
    pub fn verify_for(&self, device: &PublicKey) -> Result<TrustAnchors, ShareError> {
        let guest = self.chain.guest_link().ok_or(ShareError::NotAPayload(OFFER_PREFIX))?;
        if guest.body.holder != *device {
            return Err(ShareError::NotForThisDevice);
        }
        let anchors = self.anchors();
        self.chain.verify_structure(&anchors)?;
        for cert in self.door_certs.iter() {
            cert.verify(&anchors)?;
        }
        Ok(anchors)
    }
}
