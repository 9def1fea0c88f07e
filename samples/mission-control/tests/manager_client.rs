//! `ManagerClient` against a real server: every method reaches its endpoint and decodes.

use keyway_api::client::ManagerClient;
use keyway_api::client::{ClientConfig, SyncClient};
use keyway_api::*;
use keyway_protocol::credential::KeyPair;
use mission_control::Server;

#[tokio::test]
async fn every_manager_call_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path().join("mc.db"), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = server.base_url();
    let (created, pm) = ManagerClient::create_property(
        &base,
        &CreatePropertyRequest { name: "Elm".into(), utc_offset_minutes: 0, manager_name: "Pat".into() },
    )
    .await
    .unwrap();
    assert!(pm.me().await.unwrap().portfolio_manager);
    let lobby = pm.create_door("Lobby", false).await.unwrap();
    assert_eq!(pm.doors().await.unwrap().len(), 1);
    let staff = pm
        .create_manager(&CreateManagerRequest { name: "Sam".into(), portfolio_manager: false, key_management: false })
        .await
        .unwrap();
    let sam = pm.with_token(&staff.token);
    let req = InviteRequest {
        name: "Ann".into(),
        contact: "ann@example.com".into(),
        access: AccessKind::AppKey,
        keys: vec![KeyGrant { doors: vec![lobby.door_id], start: None, expiry: Expiry::Never }],
        resident: true,
        may_share: true,
    };
    let refused = sam.invite(&req).await.unwrap_err();
    assert_eq!(refused.status(), Some(403));
    assert!(refused.to_string().contains("ask a Portfolio Manager"));
    assert!(pm.set_key_management(staff.manager_id, true).await.unwrap().key_management);
    assert_eq!(pm.managers().await.unwrap().len(), 2);
    let invited = sam.invite(&req).await.unwrap();
    let person = invited.person.person_id;
    let token = sam.welcome_token(person).await.unwrap().unwrap();
    assert_eq!(pm.outbox().await.unwrap().len(), 1);

    let phone = SyncClient::new(ClientConfig::new(&base)).unwrap();
    let accepted = phone.accept_invite(&token, &KeyPair::generate()).await.unwrap();
    assert_eq!(accepted.credentials.property_id, created.property_id);
    assert!(pm.person(person).await.unwrap().accepted);

    let added = sam
        .add_key(person, &KeyGrant { doors: vec![lobby.door_id], start: None, expiry: Expiry::Never })
        .await
        .unwrap();
    let changed =
        sam.change_expiry(added.key.key_id, keyway_api::clock::now().saturating_add_secs(86_400)).await.unwrap();
    assert_ne!(changed.key.key_id, added.key.key_id, "earlier than no expiry: a new key id");
    assert_eq!(sam.delete_key(changed.key.key_id).await.unwrap().updates.len(), 1);
    let card = AddKeycardRequest {
        card: "0a0b0c0d".into(),
        doors: vec![lobby.door_id],
        start: None,
        expiry: Expiry::Never,
        kind: KeycardKind::Secure,
    };
    sam.add_keycard(person, &card).await.unwrap();
    sam.remove_keycard(person, "0a0b0c0d").await.unwrap();
    sam.revoke_all_keys(person).await.unwrap();
    assert!(sam.people(false).await.unwrap().is_empty());
    assert_eq!(sam.people(true).await.unwrap().len(), 1);
    let pending = sam.door_updates(Some(lobby.door_id), Some(TaskState::Pending)).await.unwrap();
    assert_eq!(pending.iter().map(|t| t.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5]);
    assert!(sam.door_updates(None, Some(TaskState::Delivered)).await.unwrap().is_empty());
    assert!(sam.activity(Some(lobby.door_id), Some(person)).await.unwrap().is_empty());
    sam.delete_person(person).await.unwrap();
    assert_eq!(sam.person(person).await.unwrap_err().status(), Some(404));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn managers_are_removed_and_tokens_rotated_through_the_client() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path().join("mc.db"), "127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = server.base_url();
    let (_, pm) = ManagerClient::create_property(
        &base,
        &CreatePropertyRequest { name: "Elm".into(), utc_offset_minutes: 0, manager_name: "Pat".into() },
    )
    .await
    .unwrap();
    let staff = pm
        .create_manager(&CreateManagerRequest { name: "Sam".into(), portfolio_manager: false, key_management: true })
        .await
        .unwrap();
    let sam = pm.with_token(&staff.token);
    let fresh = sam.rotate_token().await.unwrap();
    assert_eq!(fresh.manager_id, staff.manager_id);
    assert_eq!(sam.me().await.unwrap_err().status(), Some(401), "the old token is refused");
    let sam = sam.with_token(&fresh.token);
    assert_eq!(sam.me().await.unwrap().manager_id, staff.manager_id);
    let me = pm.me().await.unwrap();
    assert_eq!(sam.remove_manager(me.manager_id).await.unwrap_err().status(), Some(403));
    assert_eq!(pm.remove_manager(me.manager_id).await.unwrap_err().status(), Some(409), "the last Portfolio Manager");
    assert_eq!(pm.remove_manager(staff.manager_id).await.unwrap().manager_id, staff.manager_id);
    assert_eq!(sam.me().await.unwrap_err().status(), Some(401));
    assert_eq!(pm.managers().await.unwrap().len(), 1);
    server.shutdown().await.unwrap();
}
