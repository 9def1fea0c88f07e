//! Revalidation end to end: Mission Control's certificates, the wallet's key states, offline
//! doors running the real engine, and a guest who revalidates online through the host's
//! backend. The doors' clocks are moved forward to see what a week without a sync does.

use keyway_e2e::*;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::{DenialReason, DoorSet, Validity};
use keyway_test_kit::sim::{SimConfig, SimDoorLink};
use keyway_wallet::key_state::KeyState;
use keyway_wallet::store::secure::{FileSecureStorage, SecureStorage};

/// The device key a phone made by [`phone`] keeps in its secure storage (to sign as that
/// phone's app would, outside the wallet).
fn device_key(dir: &std::path::Path, name: &str) -> keyway_protocol::credential::KeyPair {
    let secure = FileSecureStorage::new(dir.join(format!("{name}-secrets"))).unwrap();
    let seed: [u8; 32] = secure.get("device-key").unwrap().unwrap().as_slice().try_into().unwrap();
    keyway_protocol::credential::KeyPair::from_secret(&seed)
}

/// An unlock at `door` whose clock reads `at` (its RTC; the engine takes it as now).
fn unlock_at(wallet: &mut keyway_wallet::Wallet, door: &Door, at: UnixTime) -> keyway_wallet::UnlockReport {
    let mut link = SimDoorLink::connect(door.engine.clone(), SimConfig::default(), at, rand::random());
    wallet.unlock(door.id, &mut link).unwrap()
}

/// The story: Ann is revoked and her phone never syncs again; no other phone visits
/// the Garage, so the revocation never reaches it. A week later the Garage refuses her anyway,
/// while Bob, who synced within the week, still opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_revoked_phone_is_refused_at_an_unvisited_door_once_its_window_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let p = property(&backend).await;
    let (ann, t) = backend.invite(&p.manager, app_invite("Ann", &[p.garage.id], None, None, false)).await;
    let mut ann_phone = phone(dir.path(), "ann");
    ann_phone.accept_invite(&backend.base, &t).await.unwrap();
    let (_, t) = backend.invite(&p.manager, app_invite("Bob", &[p.garage.id], None, None, false)).await;
    let mut bob_phone = phone(dir.path(), "bob");
    bob_phone.accept_invite(&backend.base, &t).await.unwrap();
    let now = keyway_api::clock::now();
    let view = ann_phone.keys_at(now).unwrap()[0].clone();
    assert_eq!(view.state, KeyState::Active);
    assert!(view.fresh_until <= now.saturating_add_secs(7 * DAY), "sync needed by {}", view.fresh_until);

    p.manager.revoke_all_keys(ann.person.person_id).await.unwrap();
    // Six days on: nobody delivered the revocation, so Ann still opens (today's exposure) —
    // and so does Bob, offline for less than the window, who notices nothing.
    let six_days = now.saturating_add_secs(6 * DAY);
    assert!(unlock_at(&mut ann_phone, &p.garage, six_days).granted);
    assert!(unlock_at(&mut bob_phone, &p.garage, six_days).granted);
    // Past the window: Ann is refused, at a door that never heard of the revocation.
    let eight_days = now.saturating_add_secs(8 * DAY);
    let a = unlock_at(&mut ann_phone, &p.garage, eight_days);
    assert_eq!((a.granted, a.denial), (false, Some(DenialReason::NotRevalidated)));
    assert_eq!(
        ann_phone.keys_at(eight_days).unwrap()[0].state,
        KeyState::NeedsSync { since: view.fresh_until },
        "the app said so too"
    );
    assert_eq!(p.garage.seq(), 0, "no update ever reached the Garage");
}

/// A guest opens for its own window as long as its host keeps revalidating: online, it asks
/// the host's backend for the host's current certificate. A revoked guest key is refused there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_guest_revalidates_through_its_hosts_backend_until_its_key_is_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let p = property(&backend).await;
    let (_ann, t) = backend.invite(&p.manager, app_invite("Ann", &[p.front.id], None, None, true)).await;
    let mut ann_phone = phone(dir.path(), "ann");
    ann_phone.accept_invite(&backend.base, &t).await.unwrap();
    let now = keyway_api::clock::now();
    let parent = ann_phone.keys_at(now).unwrap()[0].key_id;

    // Gus has no account anywhere: only the offer.
    let mut gus = phone(dir.path(), "gus");
    let request = gus.share_request("Gus").to_text();
    let window = Validity::new(now, now.saturating_add_secs(30 * DAY)).unwrap();
    let offer = ann_phone.share_offline(parent, &request, DoorSet::new(vec![p.front.id]).unwrap(), window).unwrap();
    let guest = gus.accept_guest_key(&offer).unwrap();
    let first = guest.fresh_until;
    assert!(first <= now.saturating_add_secs(7 * DAY), "the guest lapses with the copy of the host it holds");

    // Not registered yet (Ann has not uploaded): the backend does not know it.
    let s = gus.refresh_guest_keys().await.unwrap();
    assert_eq!(s.failed.len(), 1, "{s:?}");
    assert!(s.failed[0].1.contains("not registered"), "{s:?}");
    ann_phone.upload().await.unwrap();
    let s = gus.refresh_guest_keys().await.unwrap();
    assert_eq!(s.unchanged, vec![guest.key_id], "Ann has not revalidated since: nothing newer");

    // Ann revalidates with a longer window (a Portfolio Manager's setting): Gus, online,
    // gets her fresher certificate, and opens past the day his copy would have lapsed.
    p.manager.set_revalidation_days(30).await.unwrap();
    ann_phone.sync().await.unwrap();
    let s = gus.refresh_guest_keys().await.unwrap();
    assert_eq!(s.renewed, vec![guest.key_id], "{s:?}");
    let renewed = gus.keys_at(now).unwrap().into_iter().find(|k| k.key_id == guest.key_id).unwrap();
    assert!(renewed.fresh_until > first.saturating_add_secs(20 * DAY));
    let later = first.saturating_add_secs(DAY);
    let g = unlock_at(&mut gus, &p.front, later);
    assert!(g.granted && g.is_guest, "{g:?}");

    // Sam deletes the guest key: the backend no longer revalidates it.
    p.manager.delete_guest_key(parent, guest.key_id).await.unwrap();
    let s = gus.refresh_guest_keys().await.unwrap();
    assert_eq!(s.failed.len(), 1);
    assert!(s.failed[0].1.contains("revoked"), "{s:?}");
}

/// What the refresh endpoint tells a stranger: nothing. A chain whose guest link the host never
/// registered, or one replayed by someone without the guest's device key, is refused alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_refresh_endpoint_needs_the_guests_own_key_and_a_registered_link() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let p = property(&backend).await;
    let (_ann, t) = backend.invite(&p.manager, app_invite("Ann", &[p.front.id], None, None, true)).await;
    let mut ann_phone = phone(dir.path(), "ann");
    ann_phone.accept_invite(&backend.base, &t).await.unwrap();
    let now = keyway_api::clock::now();
    let parent = ann_phone.keys_at(now).unwrap()[0].key_id;
    let gus = phone(dir.path(), "gus");
    let request = gus.share_request("Gus").to_text();
    let window = Validity::new(now, now.saturating_add_secs(DAY)).unwrap();
    let offer = ann_phone.share_offline(parent, &request, DoorSet::new(vec![p.front.id]).unwrap(), window).unwrap();
    ann_phone.upload().await.unwrap();
    let chain = keyway_wallet::share::GuestKeyOffer::from_text(&offer).unwrap().chain;
    let client =
        keyway_api::client::SyncClient::new(keyway_api::client::ClientConfig::new(backend.base.clone())).unwrap();

    // Signed by someone else's key (a chain recorded off the air, replayed).
    let mallory = keyway_protocol::credential::KeyPair::generate();
    let err = client.refresh_guest_key(&chain, &mallory, now).await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    // A stale request, signed by the right key an hour ago.
    let gus_key = device_key(dir.path(), "gus");
    assert_eq!(gus_key.public(), gus.device_public_key());
    let err = client.refresh_guest_key(&chain, &gus_key, now.saturating_sub_secs(3600)).await.unwrap_err();
    assert_eq!(err.status(), Some(401), "{err}");
    // The right key, now: the host's current certificate.
    let answer = client.refresh_guest_key(&chain, &gus_key, now).await.unwrap();
    assert_eq!(answer.root.0.body.key_id, parent);
}
