//! Encoded sizes of what a phone carries to a door. Targets from the design: a resident key
//! certificate naming up to 4 doors and a guest key each fit in 160 bytes, signature included.
//! The inputs are deliberately at the large end of realistic: door ids near 100,000, key ids
//! near 2^32, person ids in the millions, times in 2026-2036.

mod support;

use keyway_core::UnixTime;
use keyway_core::credential::ids::MAX_DOORS_PER_KEY;
use keyway_core::credential::{
    DoorCertBody, DoorCertificate, DoorId, DoorSet, GuestKey, GuestKeyBody, KeyCertificate, KeyChain, KeyFlags,
    KeyId, KeyPair, Validity,
};
use support::*;

const TARGET: usize = 160;

struct Measured {
    resident_cert: Vec<u8>,
    guest_key: Vec<u8>,
    resident_chain: Vec<u8>,
    guest_chain: Vec<u8>,
}

fn realistic() -> Measured {
    let authority = Authority::from_seed(21);
    let resident = KeyPair::from_secret(&[22; 32]);
    let guest = KeyPair::from_secret(&[23; 32]);
    let root = authority.issue(
        u32::MAX as u64 - 3,
        9_876_543,
        resident.public(),
        doors(&[99_017, 99_980, 99_999, 100_000]),
        window(day(2026, 3, 14).saturating_add_secs(41_234), day(2036, 3, 14).saturating_add_secs(41_234)),
        RESIDENT_SHARING,
    );
    let guest_key = share(
        &resident,
        &root,
        KeyId(KeyId::GUEST_BIT | 0x7fff_ffff_ffff_ffff),
        guest.public(),
        doors(&[99_017, 99_980, 99_999, 100_000]),
        window(day(2035, 12, 30).saturating_add_secs(7_777), day(2036, 1, 4).saturating_add_secs(7_777)),
    );
    Measured {
        resident_cert: root.to_bytes(),
        guest_key: guest_key.to_bytes(),
        resident_chain: KeyChain::resident(root.clone()).to_bytes(),
        guest_chain: KeyChain::guest(root, guest_key).to_bytes(),
    }
}

#[test]
fn resident_certificate_and_guest_key_fit_the_target() {
    let m = realistic();
    eprintln!("resident key certificate, 4 doors: {} bytes", m.resident_cert.len());
    eprintln!("guest key, 4 doors:                {} bytes", m.guest_key.len());
    eprintln!("resident key chain:                {} bytes", m.resident_chain.len());
    eprintln!("guest key chain:                   {} bytes", m.guest_chain.len());
    assert!(m.resident_cert.len() <= TARGET, "resident key certificate is {} bytes", m.resident_cert.len());
    assert!(m.guest_key.len() <= TARGET, "guest key is {} bytes", m.guest_key.len());
    // A chain is its links plus a version byte and a link count: nothing hidden.
    assert_eq!(m.resident_chain.len(), m.resident_cert.len() + 2);
    assert_eq!(m.guest_chain.len(), m.resident_cert.len() + m.guest_key.len() + 2);
    // The measured bytes are the real thing: they decode back.
    assert!(KeyCertificate::from_bytes(&m.resident_cert).is_ok());
    assert!(GuestKey::from_bytes(&m.guest_key).is_ok());
    assert!(KeyChain::from_bytes(&m.guest_chain).is_ok());
}

/// The decoders' length bounds must admit the largest legitimate value of each type, or a
/// valid credential could be refused.
#[test]
fn worst_case_encodings_are_within_the_decoders_bounds() {
    let authority = Authority::from_seed(31);
    let holder = KeyPair::from_secret(&[32; 32]);
    let widest = DoorSet::new((0..MAX_DOORS_PER_KEY as u32).map(|i| DoorId(u32::MAX - i)).collect()).expect("32 doors");
    let forever = Validity::new(UnixTime(u64::MAX - 1), UnixTime::MAX).expect("ordered");
    let cert = authority.issue(u64::MAX, u64::MAX, holder.public(), widest.clone(), forever, KeyFlags { resident: true, may_share: true });
    let guest = GuestKey::sign(GuestKeyBody::new(KeyId(u64::MAX), KeyId(u64::MAX), holder.public(), widest, forever), &holder);
    let door_cert = DoorCertificate::sign(DoorCertBody::new(DoorId(u32::MAX), holder.public(), authority.id()), &authority.key);
    eprintln!(
        "worst case: key certificate {} bytes, guest key {} bytes, door certificate {} bytes",
        cert.to_bytes().len(),
        guest.to_bytes().len(),
        door_cert.to_bytes().len()
    );
    assert_eq!(KeyCertificate::from_bytes(&cert.to_bytes()).as_ref(), Ok(&cert));
    assert_eq!(GuestKey::from_bytes(&guest.to_bytes()).as_ref(), Ok(&guest));
    assert_eq!(DoorCertificate::from_bytes(&door_cert.to_bytes()).as_ref(), Ok(&door_cert));
    let longest = KeyChain::with_links(cert, vec![guest; 3]).expect("3 links");
    assert_eq!(KeyChain::from_bytes(&longest.to_bytes()).as_ref(), Ok(&longest));
}
