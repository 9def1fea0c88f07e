//! The guest's name from the share request travels with the guest key's registration: the
//! manager sees the guest under it ("Gus (Ann's guest)"), not as the host.

use keyway_e2e::*;
use keyway_protocol::credential::{ActivityEvent, DoorSet, Validity};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guests_name_is_registered_and_names_the_guests_unlocks() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let p = property(&backend).await;
    let (ann, t) = backend.invite(&p.manager, app_invite("Ann", &[p.front.id], None, None, true)).await;
    let mut ann_phone = phone(dir.path(), "ann");
    ann_phone.accept_invite(&backend.base, &t).await.unwrap();
    let now = keyway_api::clock::now();
    let parent = ann_phone.keys_at(now).unwrap()[0].key_id;

    let mut gus = phone(dir.path(), "gus");
    let request = gus.share_request("Gus").to_text();
    let window = Validity::new(now, now.saturating_add_secs(DAY)).unwrap();
    let offer = ann_phone.share_offline(parent, &request, DoorSet::new(vec![p.front.id]).unwrap(), window).unwrap();
    gus.accept_guest_key(&offer).unwrap();
    ann_phone.upload().await.unwrap();
    let info = p.manager.person(ann.person.person_id).await.unwrap();
    let guests: Vec<_> = info.keys.iter().flat_map(|k| k.guests.iter()).collect();
    assert_eq!(guests.len(), 1, "{info:?}");
    assert_eq!(guests[0].label.as_deref(), Some("Gus"), "the share request's name is registered");

    // Gus opens; Ann's next unlock carries the door's activity to her phone, her upload to
    // Mission Control.
    assert!(unlock(&mut gus, &p.front).granted);
    assert!(unlock(&mut ann_phone, &p.front).granted);
    ann_phone.upload().await.unwrap();
    let activity = p.manager.activity(Some(p.front.id), None).await.unwrap();
    let by_gus: Vec<_> =
        activity.iter().filter(|e| matches!(e.event, ActivityEvent::AppUnlock { guest: true, .. })).collect();
    assert_eq!(by_gus.len(), 1, "{activity:?}");
    assert_eq!(by_gus[0].person_name.as_deref(), Some("Ann"), "the host's key");
    assert_eq!(by_gus[0].guest_label.as_deref(), Some("Gus"));
    assert_eq!(by_gus[0].who.as_deref(), Some("Gus (Ann's guest)"));
    let by_ann = activity.iter().find(|e| matches!(e.event, ActivityEvent::AppUnlock { guest: false, .. })).unwrap();
    assert_eq!((by_ann.guest_label.as_deref(), by_ann.who.as_deref()), (None, Some("Ann")));
}

/// The sync summary counts each key once: Revoke All Keys of a host with one key and one guest
/// names the host's key as revoked (status and `revocations`) and the guest's too; the host's
/// phone held one key, and one is revoked. Before, the summary read "1 key received, 3 revoked".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_counts_each_key_once() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let p = property(&backend).await;
    let (ann, t) = backend.invite(&p.manager, app_invite("Ann", &[p.front.id], None, None, true)).await;
    let mut ann_phone = phone(dir.path(), "ann");
    let accepted = ann_phone.accept_invite(&backend.base, &t).await.unwrap();
    assert_eq!((accepted.keys_received, accepted.keys_revoked), (1, 0));
    let now = keyway_api::clock::now();
    let parent = ann_phone.keys_at(now).unwrap()[0].key_id;
    let gus = phone(dir.path(), "gus");
    let request = gus.share_request("Gus").to_text();
    let window = Validity::new(now, now.saturating_add_secs(DAY)).unwrap();
    ann_phone.share_offline(parent, &request, DoorSet::new(vec![p.front.id]).unwrap(), window).unwrap();
    ann_phone.upload().await.unwrap();

    p.manager.revoke_all_keys(ann.person.person_id).await.unwrap();
    let s = ann_phone.sync().await.unwrap();
    assert_eq!((s.keys_received, s.keys_revoked), (0, 1), "{s:?}");
    let again = ann_phone.sync().await.unwrap();
    assert_eq!((again.keys_received, again.keys_revoked), (0, 0), "nothing new: {again:?}");
}
