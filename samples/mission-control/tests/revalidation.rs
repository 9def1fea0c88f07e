//! Revalidation windows, as Mission Control keeps them: a key certificate is fresh only for
//! the property's window from the sync that issued it, each sync re-issues it, and a
//! revocation therefore lasts only as long as the freshest certificate it could affect — also
//! for a key with no expiry.

mod common;

use common::*;
use keyway_api::*;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::*;
use reqwest::Method;

const DAY: u64 = 86_400;

fn fresh_until(sync: &SyncResponse, key: KeyId) -> UnixTime {
    let entry = sync.keys.iter().find(|k| k.key_id == key).expect("the key in the sync");
    entry.certificate.as_ref().expect("a certificate").0.body.fresh_until
}

#[tokio::test]
async fn certificates_are_fresh_for_the_window_and_each_sync_revalidates() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (ann, t) =
        invite(&mc, &p.pm, "Ann", AccessKind::AppKey, vec![grant(&[p.garage.door_id], None, None)], false).await;
    let key = ann.person.keys[0].key_id;
    let before = now();
    let phone = accept(&mc, &t).await;
    let issued = fresh_until(&phone.accepted.sync, key);
    assert!(issued >= before.saturating_add_secs(7 * DAY) && issued <= now().saturating_add_secs(7 * DAY));
    let cert = phone.cert(key);
    assert_eq!(cert.body.validity.expiry, keyway_api::NO_EXPIRY, "the lease itself has no end");
    cert.verify_signature(&p.anchors().get(cert.body.issuer).unwrap()).unwrap();

    // A sync soon after keeps the certificate (nothing to re-sign yet).
    let again = mc.phone_client().sync(&phone.token, None).await.unwrap();
    assert_eq!(fresh_until(&again, key), issued);

    // A Portfolio Manager widens the window to 30 days: the next sync re-issues.
    let settings: PropertySettings = mc
        .ok(
            Method::PATCH,
            "/v1/property",
            &p.pm,
            Some(PropertySettingsRequest { revalidation_days: Some(30), ..Default::default() }),
        )
        .await;
    assert_eq!(settings.revalidation_days, 30);
    let cursor = again.cursor.clone();
    let widened = mc.phone_client().sync(&phone.token, Some(&cursor)).await.unwrap();
    assert!(!widened.full, "an incremental sync brings the re-issued certificate");
    assert!(fresh_until(&widened, key) >= before.saturating_add_secs(30 * DAY));
}

/// The root cause behind "a revocation of a key with no expiry is never pruned": its `until`
/// was 9999-12-31. Now it is the freshness of the last certificate issued for the key.
#[tokio::test]
async fn revoking_a_key_with_no_expiry_is_bounded_by_its_last_certificates_freshness() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (ann, t) = invite(
        &mc,
        &p.pm,
        "Ann",
        AccessKind::AppKey,
        vec![grant(&[p.garage.door_id, p.lobby.door_id], None, None)],
        false,
    )
    .await;
    let phone = accept(&mc, &t).await;
    let key = ann.person.keys[0].key_id;
    let certified = fresh_until(&phone.accepted.sync, key);
    let _: RevocationResponse =
        mc.ok(Method::POST, &format!("/v1/people/{}/revoke-all", ann.person.person_id.0), &p.pm, None::<()>).await;
    for door in [p.garage.door_id, p.lobby.door_id] {
        let t = tasks(&mc, &p.pm, door).await;
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].ops, vec![DoorOp::RevokeKey { key, until: certified }], "{door}");
        assert!(certified < now().saturating_add_secs(8 * DAY));
    }
    // The phone is told the same bound.
    let sync = mc.phone_client().sync(&phone.token, None).await.unwrap();
    let r = sync.revocations.iter().find(|r| r.key_id == key).expect("the revocation");
    assert_eq!(r.until, certified);
    // And a revoked key is never re-issued: its bound cannot grow.
    assert!(
        sync.keys.iter().filter(|k| k.key_id == key).all(|k| k.certificate.as_ref().is_none_or(|c| c
            .0
            .body
            .fresh_until
            <= certified))
    );

    // Delete Person is bounded the same way.
    let (bob, t) =
        invite(&mc, &p.pm, "Bob", AccessKind::AppKey, vec![grant(&[p.garage.door_id], None, None)], false).await;
    let bob_phone = accept(&mc, &t).await;
    let bob_fresh = fresh_until(&bob_phone.accepted.sync, bob.person.keys[0].key_id);
    let _: RevocationResponse =
        mc.ok(Method::DELETE, &format!("/v1/people/{}", bob.person.person_id.0), &p.pm, None::<()>).await;
    let t = tasks(&mc, &p.pm, p.garage.door_id).await;
    assert!(
        t.iter().any(|t| t.ops.contains(&DoorOp::RevokePerson { person: bob.person.person_id, until: bob_fresh })),
        "{t:?}"
    );
}

#[tokio::test]
async fn the_window_is_a_portfolio_managers_setting_within_1_to_90_days() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let settings: PropertySettings = mc.get("/v1/property", &p.pm).await;
    assert_eq!(settings.revalidation_days, 7);
    for days in [0, 91] {
        let (status, body) = mc
            .call(Method::PATCH, "/v1/property", Some(&p.pm), Some(serde_json::json!({ "revalidation_days": days })))
            .await;
        assert_eq!(status, 400, "{days}: {body}");
    }
    let sam: ManagerCredentials = mc
        .ok(
            Method::POST,
            "/v1/managers",
            &p.pm,
            Some(CreateManagerRequest { name: "Sam".into(), portfolio_manager: false, key_management: true }),
        )
        .await;
    let (status, _) = mc
        .call(Method::PATCH, "/v1/property", Some(&sam.token), Some(serde_json::json!({ "revalidation_days": 30 })))
        .await;
    assert_eq!(status, 403);
    assert_eq!(mc.get::<PropertySettings>("/v1/property", &p.pm).await.revalidation_days, 7);
}
