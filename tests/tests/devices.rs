//! A person's devices: a new phone enrolled with a one-time code opens doors while the old one
//! keeps working; removing the lost phone refuses it at an offline door after one other phone's
//! unlock there, takes the guest keys it signed with it, and leaves the person's other phone
//! and keys working.

use keyway_api::client::SyncError;
use keyway_e2e::*;
use keyway_protocol::credential::{DenialReason, DoorOp, DoorSet, Validity};
use keyway_wallet::WalletError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_phone_enrols_with_a_code_and_removing_the_lost_one_refuses_it_at_the_doors() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let p = property(&backend).await;
    let (ann, t) = backend.invite(&p.manager, app_invite("Ann", &[p.garage.id, p.front.id], None, None, true)).await;
    let person = ann.person.person_id;
    let mut lost = phone(dir.path(), "ann-old");
    lost.accept_invite(&backend.base, &t).await.unwrap();
    // The invite token enrols one phone; a second phone needs a device code.
    let mut new = phone(dir.path(), "ann-new");
    let err = new.accept_invite(&backend.base, &t).await.unwrap_err();
    assert!(matches!(&err, WalletError::Backend(SyncError::Rejected { status: 410 | 409, .. })), "{err}");

    let code = p.manager.device_code(person).await.unwrap();
    new.accept_invite(&backend.base, &code.code).await.unwrap();
    let now = keyway_api::clock::now();
    assert_eq!(new.keys_at(now).unwrap().len(), 1, "the new phone has its own certificate of Ann's key");
    assert!(unlock(&mut new, &p.garage).granted);
    assert!(unlock(&mut lost, &p.garage).granted, "the old phone keeps working until removed");
    // A code works once.
    let mut third = phone(dir.path(), "ann-third");
    assert!(third.accept_invite(&backend.base, &code.code).await.is_err());
    // A phone of Ann's can ask for a code itself.
    let own = lost.device_code().await.unwrap();
    third.accept_invite(&backend.base, &own.code).await.unwrap();
    assert_eq!(p.manager.devices(person).await.unwrap().len(), 3);

    // A guest key shared from the phone that will be lost.
    let mut gus = phone(dir.path(), "gus");
    let request = gus.share_request("Gus").to_text();
    let parent = lost.keys_at(now).unwrap()[0].key_id;
    let window = Validity::new(now, now.saturating_add_secs(DAY)).unwrap();
    let offer = lost.share_offline(parent, &request, DoorSet::new(vec![p.garage.id]).unwrap(), window).unwrap();
    gus.accept_guest_key(&offer).unwrap();
    lost.upload().await.unwrap();
    assert!(unlock(&mut gus, &p.garage).granted);

    // The phone is lost: Sam removes it.
    let devices = p.manager.devices(person).await.unwrap();
    let removed = p.manager.remove_device(person, devices[0].device_id).await.unwrap();
    assert!(
        removed
            .updates
            .iter()
            .all(|u| matches!(u.ops.as_slice(), [DoorOp::RevokeDevice { device, .. }] if *device == devices[0].device)),
        "{:?}",
        removed.updates
    );
    let err = lost.sync().await.unwrap_err();
    assert!(matches!(&err, WalletError::Backend(e) if e.is_unauthorized()), "its token is refused at once: {err}");
    let listed = p.manager.devices(person).await.unwrap();
    assert!(listed[0].removed_at.is_some() && listed[1].removed_at.is_none());

    // Ann's new phone carries the update to the Garage; then the lost phone is refused there,
    // with the guest it shared, while the new phone opens.
    new.sync().await.unwrap();
    let carried = unlock(&mut new, &p.garage);
    assert!(carried.granted && carried.updates_carried, "{carried:?}");
    let l = unlock(&mut lost, &p.garage);
    assert_eq!((l.granted, l.denial), (false, Some(DenialReason::RevokedDevice)));
    let g = unlock(&mut gus, &p.garage);
    assert_eq!((g.granted, g.denial), (false, Some(DenialReason::RevokedDevice)));
    assert!(unlock(&mut new, &p.garage).granted);
    assert!(unlock(&mut third, &p.garage).granted);
    // The guest key is no longer revalidated either.
    let s = gus.refresh_guest_keys().await.unwrap();
    assert_eq!(s.failed.len(), 1, "{s:?}");
}
