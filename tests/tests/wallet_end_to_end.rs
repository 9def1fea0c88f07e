//! The resident wallet against the reference Mission Control over real HTTP and doors running
//! the real door engine behind the simulated BLE link.

use keyway_api::*;
use keyway_e2e::*;
use keyway_protocol::credential::{DenialReason, DoorSet, Validity};
use keyway_wallet::WalletError;
use keyway_wallet::key_state::KeyState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_accept_sync_unlock_and_deliver_another_persons_revocation() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let p = property(&backend).await;
    let now = keyway_api::clock::now();
    let expiry = Some(now.saturating_add_secs(30 * DAY));

    // Alice, a resident, accepts her invite and opens the front door offline.
    let (_, alice_token) =
        backend.invite(&p.manager, app_invite("Alice", &[p.front.id, p.garage.id], None, expiry, true)).await;
    let mut alice = phone(dir.path(), "alice");
    let summary = alice.accept_invite(&backend.base, &alice_token).await.unwrap();
    assert_eq!(summary.keys_received, 1);
    let keys = alice.keys_at(keyway_api::clock::now()).unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].state, KeyState::Active);
    let report = unlock(&mut alice, &p.front);
    assert!(report.granted, "{report:?}");
    assert!(!report.updates_carried, "nothing was pending");

    // Bob accepts, then the manager revokes all his keys: an update for the offline front door.
    let (bob_invite, bob_token) =
        backend.invite(&p.manager, app_invite("Bob", &[p.front.id], None, expiry, false)).await;
    let mut bob = phone(dir.path(), "bob");
    bob.accept_invite(&backend.base, &bob_token).await.unwrap();
    assert!(unlock(&mut bob, &p.front).granted);
    p.manager.revoke_all_keys(bob_invite.person.person_id).await.unwrap();
    let pending: Vec<_> =
        backend.tasks(&p.manager, p.front.id).await.into_iter().filter(|t| t.state == TaskState::Pending).collect();
    assert_eq!(pending.len(), 1, "one pending door update for the front door");
    let task_seq = pending[0].seq;

    // Alice's phone carries it inside her next unlock; the door applies it.
    let s = alice.sync().await.unwrap();
    assert!(s.doors_with_updates >= 1);
    let seq_before = p.front.seq();
    let report = unlock(&mut alice, &p.front);
    assert!(report.granted);
    assert!(report.updates_carried);
    assert_eq!(report.seq_after, task_seq);
    assert!(p.front.seq() > seq_before);
    assert!(alice.pending_updates().unwrap().iter().all(|b| b.door_id != p.front.id), "delivered updates are dropped");

    // The receipt goes up; the task is delivered with its receipt time.
    let up = alice.upload().await.unwrap();
    assert!(up.receipts_uploaded >= 1);
    assert!(up.updates_confirmed >= 1);
    let task = backend.tasks(&p.manager, p.front.id).await.into_iter().find(|t| t.seq == task_seq).unwrap();
    assert_eq!(task.state, TaskState::Delivered);
    assert!(task.delivered_at.is_some() && task.receipt_door_time.is_some());
    // Uploading again changes nothing.
    assert_eq!(alice.upload().await.unwrap().receipts_uploaded, 0);

    // Bob's phone has not synced: it still presents its key, and the door refuses it.
    let refused = unlock(&mut bob, &p.front);
    assert!(!refused.granted);
    assert_eq!(refused.denial, Some(DenialReason::RevokedKey));
    // After a sync Bob's wallet knows, and does not even try.
    bob.sync().await.unwrap();
    assert!(matches!(bob.keys_at(keyway_api::clock::now()).unwrap()[0].state, KeyState::Revoked));
    assert!(matches!(bob.unlock(p.front.id, &mut p.front.connect()), Err(WalletError::NoKeyForDoor(_))));

    // The activity the door logged reached the backend through Alice's phone.
    let activity: Vec<ActivityEntry> = p.manager.activity(Some(p.front.id), None).await.unwrap();
    assert!(activity.iter().any(|a| a.person_name.as_deref() == Some("Alice")), "{activity:?}");
    assert!(activity.iter().any(|a| a.person_name.as_deref() == Some("Bob")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_resident_and_their_guest_are_refused_after_another_resident_carries_the_update() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let p = property(&backend).await;
    let now = keyway_api::clock::now();
    let expiry = now.saturating_add_secs(30 * DAY);

    let (alice_invite, t) =
        backend.invite(&p.manager, app_invite("Alice", &[p.front.id, p.garage.id], None, Some(expiry), true)).await;
    let mut alice = phone(dir.path(), "alice");
    alice.accept_invite(&backend.base, &t).await.unwrap();
    let (_, t) = backend.invite(&p.manager, app_invite("Carol", &[p.front.id], None, Some(expiry), false)).await;
    let mut carol = phone(dir.path(), "carol");
    carol.accept_invite(&backend.base, &t).await.unwrap();

    // Alice shares the front door with a guest, offline.
    let mut guest = phone(dir.path(), "guest");
    let request = guest.share_request("Gus").to_text();
    let parent = alice.keys_at(now).unwrap()[0].key_id;
    let window = Validity::new(now, now.saturating_add_secs(7 * DAY)).unwrap();
    let offer = alice.share_offline(parent, &request, DoorSet::new(vec![p.front.id]).unwrap(), window).unwrap();
    guest.accept_guest_key(&offer).unwrap();
    let g = unlock(&mut guest, &p.front);
    assert!(g.granted && g.is_guest, "{g:?}");
    // The guest key is registered under Alice when she is next online.
    alice.upload().await.unwrap();
    assert!(alice.store().issued_guest_keys().unwrap().iter().all(|k| k.registered));

    // Revoke All Keys for Alice. Carol's unlock carries the update to the front door.
    p.manager.revoke_all_keys(alice_invite.person.person_id).await.unwrap();
    carol.sync().await.unwrap();
    let c = unlock(&mut carol, &p.front);
    assert!(c.granted && c.updates_carried);
    carol.upload().await.unwrap();

    // Neither Alice (who has not synced) nor her guest gets in.
    let a = unlock(&mut alice, &p.front);
    assert_eq!((a.granted, a.denial), (false, Some(DenialReason::RevokedKey)));
    let g = unlock(&mut guest, &p.front);
    assert_eq!((g.granted, g.denial), (false, Some(DenialReason::RevokedKey)));
    // The garage has not received the update yet, so it still admits Alice: the revocation
    // reaches each offline door with the next phone that visits it.
    assert!(unlock(&mut alice, &p.garage).granted);

    let tasks = backend.tasks(&p.manager, p.front.id).await;
    assert!(tasks.iter().all(|t| t.state == TaskState::Delivered), "{tasks:?}");
    let people: Vec<PersonInfo> = p.manager.people(true).await.unwrap();
    assert!(people.iter().any(|x| x.name == "Alice"), "Alice stays listed with show expired users");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn future_start_key_is_upcoming_then_works() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let p = property(&backend).await;
    let start = keyway_api::clock::now().saturating_add_secs(2);
    let (_, t) = backend
        .invite(&p.manager, app_invite("Dana", &[p.front.id], Some(start), Some(start.saturating_add_secs(DAY)), false))
        .await;
    let mut dana = phone(dir.path(), "dana");
    dana.accept_invite(&backend.base, &t).await.unwrap();
    assert_eq!(dana.keys_at(keyway_api::clock::now()).unwrap()[0].state, KeyState::Upcoming { start });
    assert!(matches!(dana.unlock(p.front.id, &mut p.front.connect()), Err(WalletError::NoKeyForDoor(_))));
    while keyway_api::clock::now() < start {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(dana.keys_at(keyway_api::clock::now()).unwrap()[0].state, KeyState::Active);
    assert!(unlock(&mut dana, &p.front).granted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unlocks_offline_with_the_backend_stopped_and_keeps_the_receipt_queued() {
    let dir = tempfile::tempdir().unwrap();
    let mut backend = Backend::start(dir.path()).await;
    let p = property(&backend).await;
    let (_, t) = backend
        .invite(
            &p.manager,
            app_invite("Eve", &[p.garage.id], None, Some(keyway_api::clock::now().saturating_add_secs(DAY)), false),
        )
        .await;
    let mut eve = phone(dir.path(), "eve");
    eve.accept_invite(&backend.base, &t).await.unwrap();
    backend.stop().await;

    let report = unlock(&mut eve, &p.garage);
    assert!(report.granted);
    let err = eve.sync().await.unwrap_err();
    assert!(matches!(err, WalletError::Backend(_)), "{err}");
    assert!(eve.upload().await.is_err());
    assert_eq!(eve.store().receipts_to_upload().unwrap().len(), 1, "the receipt waits for the backend");
    // Still works after the failed sync: local state was kept.
    assert!(unlock(&mut eve, &p.garage).granted);
    assert_eq!(eve.store().receipts_to_upload().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_key_from_another_property_neither_blocks_enrolment_nor_mixes_with_the_wallets_own_doors() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let home = property(&backend).await;
    let elsewhere = property(&backend).await;
    let now = keyway_api::clock::now();
    let expiry = Some(now.saturating_add_secs(30 * DAY));

    // Vic, a resident elsewhere, shares that building's front door with Gia before Gia has any
    // key of her own.
    let (_, t) = backend.invite(&elsewhere.manager, app_invite("Vic", &[elsewhere.front.id], None, expiry, true)).await;
    let mut vic = phone(dir.path(), "vic");
    vic.accept_invite(&backend.base, &t).await.unwrap();
    let mut gia = phone(dir.path(), "gia");
    let request = gia.share_request("Gia").to_text();
    let parent = vic.keys_at(now).unwrap()[0].key_id;
    let window = Validity::new(now, now.saturating_add_secs(7 * DAY)).unwrap();
    let offer = vic.share_offline(parent, &request, DoorSet::new(vec![elsewhere.front.id]).unwrap(), window).unwrap();
    gia.accept_guest_key(&offer).unwrap();
    assert!(gia.store().anchors().unwrap().keys().next().is_none(), "an offer adds nothing to the trusted set");

    // Gia then enrols at her own building: the offer's authority is not in the way.
    let (_, t) = backend.invite(&home.manager, app_invite("Gia", &[home.front.id], None, expiry, false)).await;
    let summary = gia.accept_invite(&backend.base, &t).await.unwrap();
    assert_eq!(summary.keys_received, 1);
    assert_eq!(gia.keys_at(keyway_api::clock::now()).unwrap().len(), 2);

    // Both keys work, each at its own building's door.
    let own = unlock(&mut gia, &home.front);
    assert!(own.granted && !own.is_guest, "{own:?}");
    let guest = unlock(&mut gia, &elsewhere.front);
    assert!(guest.granted && guest.is_guest, "{guest:?}");
    // Only her own building's receipt goes to her backend.
    let up = gia.upload().await.unwrap();
    assert_eq!(up.receipts_uploaded, 1);
    assert!(gia.store().receipts_to_upload().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receipt_the_backend_refuses_is_set_aside_and_the_others_go_through() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let p = property(&backend).await;
    let expiry = Some(keyway_api::clock::now().saturating_add_secs(30 * DAY));
    let (_, t) = backend.invite(&p.manager, app_invite("Ivy", &[p.front.id], None, expiry, false)).await;
    let mut ivy = phone(dir.path(), "ivy");
    ivy.accept_invite(&backend.base, &t).await.unwrap();

    // A receipt from the front door as it was before being re-keyed (or from an impostor):
    // signed by a key the backend no longer certifies for it. Then a genuine unlock.
    let genuine = unlock(&mut ivy, &p.front);
    let held = ivy.store().receipts_to_upload().unwrap()[0].receipt.clone();
    let stale = keyway_protocol::credential::Receipt::sign(
        held.body.clone(),
        &keyway_protocol::credential::KeyPair::generate(),
    );
    ivy.store_mut().record_receipt(&stale, keyway_api::clock::now()).unwrap();
    assert!(genuine.granted);
    assert_eq!(ivy.store().receipts_to_upload().unwrap().len(), 2);

    let up = ivy.upload().await.unwrap();
    assert_eq!((up.receipts_uploaded, up.receipts_refused), (1, 1), "{up:?}");
    assert!(up.new_activity >= 1, "the genuine receipt's activity arrived");
    let aside = ivy.store().set_aside_receipts().unwrap();
    assert_eq!(aside.len(), 1);
    assert_eq!(aside[0].receipt, stale);
    assert!(aside[0].set_aside.as_deref().unwrap_or("").contains("signed"), "{:?}", aside[0].set_aside);
    // It is kept for inspection but never sent again.
    assert!(ivy.store().receipts_to_upload().unwrap().is_empty());
    let again = ivy.upload().await.unwrap();
    assert_eq!((again.receipts_uploaded, again.receipts_refused), (0, 0));
}

/// A wallet joins a second property (here of the same backend) beside its first, and both
/// properties' doors open. An invite of a property it has joined already is refused on the
/// phone, before the backend binds it, and stays unspent for the wallet it was meant for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_property_joins_and_an_invite_of_a_joined_one_is_refused_before_it_is_spent() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let elm = property(&backend).await;
    let (_, t) = backend.invite(&elm.manager, app_invite("Ann", &[elm.front.id], None, None, false)).await;
    let mut ann = phone(dir.path(), "ann");
    ann.accept_invite(&backend.base, &t).await.unwrap();

    let oak = backend.create_property("Oak Row").await;
    let gate = oak.create_door("Gate", false).await.unwrap();
    let (_, oak_token) = backend.invite(&oak, app_invite("Ann at Oak Row", &[gate.door_id], None, None, false)).await;
    ann.accept_invite(&backend.base, &oak_token).await.unwrap();
    let properties = ann.properties().unwrap();
    assert_eq!(properties.len(), 2);
    assert_eq!(properties[1].name.as_deref(), Some("Oak Row"));
    let ids: Vec<u32> = properties.iter().map(|p| p.id.0).collect();
    assert_eq!(ids, vec![1, 2], "the first property keeps the one-property secure-storage names");
    assert_eq!(ann.keys_at(keyway_api::clock::now()).unwrap().len(), 2);
    assert!(unlock(&mut ann, &elm.front).granted, "the wallet keeps its first property");
    ann.sync().await.unwrap();

    // Another invite of Elm (Ann again, as someone else) is refused before it is spent.
    let (_, again) = backend.invite(&elm.manager, app_invite("Ann 2", &[elm.front.id], None, None, false)).await;
    let err = ann.accept_invite(&backend.base, &again).await.unwrap_err();
    assert!(matches!(&err, keyway_wallet::WalletError::AlreadyJoined { .. }), "{err}");
    assert!(err.to_string().contains("it was not used"), "{err}");
    // The invite is still good for a wallet of its own.
    let mut other = phone(dir.path(), "ann-2");
    other.accept_invite(&backend.base, &again).await.unwrap();
    assert_eq!(other.keys_at(keyway_api::clock::now()).unwrap().len(), 1);
}
