//! Rotation end to end: the property's authority key is replaced with every door and phone
//! moving to the new key through ordinary syncs and unlocks (nothing re-provisioned), after
//! which what the old key signed is refused; a sync answer naming an authority key no trusted
//! key vouched for is refused whole; a re-keyed door keeps working and its old key is refused
//! by phones.

use keyway_api::client::ManagerClient;
use keyway_api::{B64, ProvisionedDoor, RotationPhase};
use keyway_e2e::proxy::{Proxy, Tamper};
use keyway_e2e::*;
use keyway_protocol::credential::{DenialReason, KeyPair, Signed, TrustAnchors};
use keyway_wallet::WalletError;
use keyway_wallet::verify_sync::BadSync;
use std::sync::Arc;

struct Site {
    manager: ManagerClient,
    front: Door,
    garage: Door,
    front_install: ProvisionedDoor,
}

async fn site(backend: &Backend) -> Site {
    let manager = backend.create_property("Elm Court").await;
    let front_install = manager.create_door("Front door", false).await.unwrap();
    let garage = manager.create_door("Garage", false).await.unwrap();
    Site { manager, front: Door::install(&front_install), garage: Door::install(&garage), front_install }
}

fn anchors_of(door: &Door) -> TrustAnchors {
    door.engine.lock().unwrap().state().anchors.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_door_and_phone_moves_to_the_new_authority_key_and_the_old_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let s = site(&backend).await;
    let doors = [s.front.id, s.garage.id];
    let mut ann = phone(dir.path(), "ann");
    let (_, t) = backend.invite(&s.manager, app_invite("Ann", &doors, None, None, true)).await;
    ann.accept_invite(&backend.base, &t).await.unwrap();
    let mut carl = phone(dir.path(), "carl");
    let (_, t) = backend.invite(&s.manager, app_invite("Carl", &doors, None, None, false)).await;
    carl.accept_invite(&backend.base, &t).await.unwrap();
    let old = s.manager.authority().await.unwrap().key.0;
    assert!(s.manager.authority().await.unwrap().rotation.is_none());

    // Sam starts the rotation: each door gets a TrustAuthority update; the old key still signs.
    let started = s.manager.rotate_authority().await.unwrap();
    let rotation = started.rotation.clone().unwrap();
    assert_eq!((started.key.0, rotation.phase), (old, RotationPhase::Introducing));
    assert_eq!(rotation.doors_pending, doors.to_vec());
    let again = s.manager.rotate_authority().await.unwrap_err();
    assert!(again.to_string().contains("already in progress"), "{again}");
    let new = rotation.new_key.0;

    // Ann's next sync makes her wallet trust both keys (the old key's statement names the new
    // one); her unlocks carry the update to both doors, and her upload moves the rotation on.
    ann.sync().await.unwrap();
    assert_eq!(ann.store().anchors().unwrap(), TrustAnchors::new([old, new]));
    for door in [&s.front, &s.garage] {
        let r = unlock(&mut ann, door);
        assert!(r.granted && r.updates_carried, "{r:?}");
        assert_eq!(anchors_of(door), TrustAnchors::new([old, new]));
    }
    ann.upload().await.unwrap();
    let switched = s.manager.authority().await.unwrap();
    assert_eq!(switched.key.0, new, "every door trusts the new key: Mission Control signs with it");
    let rotation = switched.rotation.unwrap();
    assert_eq!((rotation.phase, rotation.doors_pending.clone()), (RotationPhase::Retiring, doors.to_vec()));

    // Ann syncs: certificates from the new key, the old key dropped; her unlocks carry the
    // RetireAuthority updates.
    ann.sync().await.unwrap();
    assert_eq!(ann.store().anchors().unwrap(), TrustAnchors::new([new]));
    for door in [&s.front, &s.garage] {
        let r = unlock(&mut ann, door);
        assert!(r.granted && r.updates_carried, "{r:?}");
        assert_eq!(anchors_of(door), TrustAnchors::new([new]), "the door dropped the old key");
    }
    ann.upload().await.unwrap();
    let done = s.manager.authority().await.unwrap().rotation.unwrap();
    assert_eq!((done.phase, done.doors_pending.len()), (RotationPhase::Complete, 0));

    // Carl never synced during the rotation: his certificate, still fresh, is signed by the old
    // key, and the doors refuse it now.
    let r = unlock(&mut carl, &s.garage);
    assert_eq!((r.granted, r.denial), (false, Some(DenialReason::UnknownIssuer)));
    // His next sync follows the statement from the key he trusts to the new one, and he opens.
    carl.sync().await.unwrap();
    assert_eq!(carl.store().anchors().unwrap(), TrustAnchors::new([new]));
    assert!(unlock(&mut carl, &s.garage).granted);
    assert!(unlock(&mut ann, &s.front).granted);
    // A second rotation may start now.
    let next = s.manager.rotate_authority().await.unwrap().rotation.unwrap();
    assert_eq!((next.old_key.0, next.phase), (new, RotationPhase::Introducing));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_naming_a_new_authority_key_without_a_statement_from_a_trusted_key_is_refused_whole() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let s = site(&backend).await;
    let proxy = Proxy::start(&backend.base).await;
    let mut ann = phone(dir.path(), "ann");
    let (_, t) = backend.invite(&s.manager, app_invite("Ann", &[s.front.id], None, None, true)).await;
    ann.accept_invite(&proxy.base, &t).await.unwrap();
    let old = ann.store().anchors().unwrap();
    s.manager.rotate_authority().await.unwrap();

    // The genuine answer with its statement removed: the new key is vouched for by nobody.
    proxy.set(Tamper::Json(Arc::new(|v| v["rotations"] = serde_json::json!([]))));
    let err = ann.sync().await.unwrap_err();
    assert!(matches!(err, WalletError::BadSync(BadSync::AnchorAdded)), "{err}");
    assert_eq!(ann.store().anchors().unwrap(), old);

    // A statement naming an attacker's key under the real key's id, signed by the attacker.
    let attacker = KeyPair::generate();
    let forged = Signed::sign(
        keyway_protocol::credential::AuthorityRotationBody::new(
            keyway_protocol::credential::AuthorityKeyId::of(&old.keys().next().unwrap().0),
            attacker.public(),
            keyway_api::clock::now(),
        ),
        &attacker,
    );
    let forged = serde_json::to_value(B64(forged)).unwrap();
    let attacker_key = serde_json::to_value(B64(attacker.public())).unwrap();
    proxy.set(Tamper::Json(Arc::new(move |v| {
        v["rotations"] = serde_json::json!([forged.clone()]);
        v["trust_anchors"].as_array_mut().unwrap().push(attacker_key.clone());
    })));
    let err = ann.sync().await.unwrap_err();
    assert!(matches!(err, WalletError::BadSync(BadSync::AnchorAdded)), "{err}");
    assert_eq!(ann.store().anchors().unwrap(), old);

    // The genuine answer goes through.
    proxy.set(Tamper::Pass);
    ann.sync().await.unwrap();
    assert_eq!(ann.store().anchors().unwrap().keys().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rekeyed_door_keeps_its_state_and_phones_refuse_its_old_key() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let s = site(&backend).await;
    let mut ann = phone(dir.path(), "ann");
    let (_, t) = backend.invite(&s.manager, app_invite("Ann", &[s.front.id], None, None, true)).await;
    ann.accept_invite(&backend.base, &t).await.unwrap();
    assert!(unlock(&mut ann, &s.front).granted);
    let seq = s.front.seq();

    // The front door's key may have been extracted: Sam re-keys it and the installer applies
    // the new key in place.
    let install = s.manager.rekey_door(s.front.id).await.unwrap();
    let new_key = KeyPair::from_secret(&install.door_secret_key.0.0);
    s.front.engine.lock().unwrap().rekey(new_key, &install.door_certificate).unwrap();
    assert_eq!(s.front.seq(), seq, "the door keeps its state");

    // Until Ann syncs, her phone refuses the door (it proves a key she does not know); after, it
    // opens — and an impostor holding the old key is refused.
    assert!(ann.unlock(s.front.id, &mut s.front.connect()).is_err());
    ann.sync().await.unwrap();
    assert!(unlock(&mut ann, &s.front).granted);
    let impostor = Door::install(&s.front_install);
    let err = ann.unlock(impostor.id, &mut impostor.connect()).unwrap_err();
    assert!(err.to_string().to_lowercase().contains("door"), "{err}");
    assert!(!impostor.engine.lock().unwrap().activity().head() > 0, "nothing reached the impostor");
}
