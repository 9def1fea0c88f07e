//! A compromised or buggy backend: bad signatures, another property's keys, a rolled-back
//! answer, truncated bodies, answers past the timeout. Each time the wallet refuses the answer
//! with a clear error, keeps every piece of good state, and still unlocks offline.

use keyway_api::client::{ClientConfig, RetryPolicy};
use keyway_api::*;
use keyway_e2e::proxy::{Proxy, Tamper, flip_b64};
use keyway_e2e::*;
use keyway_wallet::verify_sync::BadSync;
use keyway_wallet::{Wallet, WalletError};
use std::sync::Arc;
use std::time::Duration;

struct Setup {
    _dir: tempfile::TempDir,
    backend: Backend,
    p: Property,
    proxy: Proxy,
    wallet: Wallet,
    person: u64,
}

/// A resident with one key, enrolled through the proxy, and a second key granted since, so the
/// next sync has a new certificate in it.
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::start(dir.path()).await;
    let p = property(&backend).await;
    let proxy = Proxy::start(&backend.base).await;
    let expiry = keyway_api::clock::now().saturating_add_secs(30 * DAY);
    let (invite, token) =
        backend.invite(&p.manager, app_invite("Rita", &[p.front.id], None, Some(expiry), false)).await;
    let mut wallet = phone(dir.path(), "rita");
    wallet.accept_invite(&proxy.base, &token).await.unwrap();
    wallet
        .set_client_config(ClientConfig {
            base_url: proxy.base.clone(),
            timeout: Duration::from_millis(500),
            retry: RetryPolicy {
                max_attempts: 2,
                initial_backoff: Duration::from_millis(10),
                max_backoff: Duration::from_millis(20),
            },
        })
        .unwrap();
    let person = invite.person.person_id.0;
    let grant = KeyGrant { doors: vec![p.garage.id], start: None, expiry: expiry.into() };
    p.manager.add_key(invite.person.person_id, &grant).await.unwrap();
    Setup { _dir: dir, backend, p, proxy, wallet, person }
}

/// Nothing the refused answer carried was stored, and the wallet still opens the front door.
fn assert_intact(s: &mut Setup, cursor_before: &Option<String>) {
    assert_eq!(s.wallet.keys_at(keyway_api::clock::now()).unwrap().len(), 1, "the refused answer's key was not stored");
    assert_eq!(&s.wallet.store().cursor().unwrap(), cursor_before, "the cursor did not move");
    assert!(unlock(&mut s.wallet, &s.p.front).granted, "still unlocks offline");
}

fn with_json(f: impl Fn(&mut serde_json::Value) + Send + Sync + 'static) -> Tamper {
    Tamper::Json(Arc::new(f))
}

/// A key id as the JSON carries it (a decimal string).
fn key_id(k: &serde_json::Value) -> u64 {
    k["key_id"].as_str().and_then(|id| id.parse().ok()).expect("a key id as a decimal string")
}

fn new_key_certificate(v: &mut serde_json::Value) -> &mut serde_json::Value {
    let keys = v["keys"].as_array_mut().unwrap();
    let newest = keys.iter_mut().max_by_key(|k| key_id(k)).unwrap();
    &mut newest["certificate"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signature_on_a_key_certificate_is_refused_and_good_state_kept() {
    let mut s = setup().await;
    let cursor = s.wallet.store().cursor().unwrap();
    s.proxy.set(with_json(|v| flip_b64(new_key_certificate(v))));
    let err = s.wallet.sync().await.unwrap_err();
    assert!(matches!(err, WalletError::BadSync(BadSync::Signature { what: "key certificate", .. })), "{err}");
    assert_intact(&mut s, &cursor);
    // The same answer, untouched, is taken.
    s.proxy.set(Tamper::Pass);
    assert_eq!(s.wallet.sync().await.unwrap().keys_received, 1);
    assert_eq!(s.wallet.keys_at(keyway_api::clock::now()).unwrap().len(), 2);
    assert!(unlock(&mut s.wallet, &s.p.garage).granted);
}

/// The signed time a phone carries to lagging doors is checked like the rest of the answer: a
/// forged one (which would move every door this phone visits) refuses the whole answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_signed_time_is_refused_with_the_whole_answer() {
    let mut s = setup().await;
    let held = s.wallet.store().time_statement().unwrap().expect("the enrolment's signed time");
    let cursor = s.wallet.store().cursor().unwrap();
    s.proxy.set(with_json(|v| flip_b64(&mut v["time"])));
    let err = s.wallet.sync().await.unwrap_err();
    assert!(matches!(err, WalletError::BadSync(BadSync::Signature { what: "signed time", .. })), "{err}");
    assert_eq!(s.wallet.store().time_statement().unwrap(), Some(held.clone()), "the held one is kept");
    assert_intact(&mut s, &cursor);
    s.proxy.set(Tamper::Pass);
    s.wallet.sync().await.unwrap();
    let newer = s.wallet.store().time_statement().unwrap().unwrap();
    assert!(newer.body.time >= held.body.time);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_door_update_batch_is_refused() {
    let mut s = setup().await;
    // Someone else's revocation puts a batch in the next answer for the front door.
    let expiry = keyway_api::clock::now().saturating_add_secs(DAY);
    let (other, _) =
        s.backend.invite(&s.p.manager, app_invite("Otto", &[s.p.front.id], None, Some(expiry), false)).await;
    s.p.manager.delete_person(other.person.person_id).await.unwrap();
    let cursor = s.wallet.store().cursor().unwrap();
    s.proxy.set(with_json(|v| {
        for door in v["doors"].as_array_mut().unwrap() {
            if !door["pending_updates"].is_null() {
                flip_b64(&mut door["pending_updates"]);
            }
        }
    }));
    let err = s.wallet.sync().await.unwrap_err();
    assert!(matches!(err, WalletError::BadSync(BadSync::Signature { what: "door update batch", .. })), "{err}");
    assert!(s.wallet.pending_updates().unwrap().is_empty());
    assert_intact(&mut s, &cursor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_propertys_answer_is_refused() {
    let mut s = setup().await;
    // A second property on the same backend, with its own authority and its own resident.
    let oak_row = s.backend.create_property("Oak Row").await;
    let door = oak_row.create_door("Gate", false).await.unwrap();
    let (_, token) = s
        .backend
        .invite(
            &oak_row,
            app_invite("Ola", &[door.door_id], None, Some(keyway_api::clock::now().saturating_add_secs(DAY)), false),
        )
        .await;
    // Ola's phone accepts her invite; the full answer it gets is what we replay to Rita.
    let client = keyway_api::client::SyncClient::new(ClientConfig::new(s.backend.base.clone())).unwrap();
    let accepted = client.accept_invite(&token, &keyway_protocol::credential::KeyPair::generate()).await.unwrap();
    assert_eq!(accepted.sync.keys.len(), 1);
    let foreign = serde_json::to_vec(&accepted.sync).unwrap();

    let cursor = s.wallet.store().cursor().unwrap();
    s.proxy.set(Tamper::Replay(foreign.clone()));
    let err = s.wallet.sync().await.unwrap_err();
    assert!(matches!(err, WalletError::BadSync(BadSync::AnchorsReplaced)), "{err}");
    assert_intact(&mut s, &cursor);

    // Our own authority listed beside a foreign one does not smuggle the foreign one in.
    let ours = s.wallet.store().anchors().unwrap();
    let ours: Vec<String> =
        ours.keys().map(|k| B64(*k)).map(|k| serde_json::to_value(k).unwrap().as_str().unwrap().to_string()).collect();
    let mut v: serde_json::Value = serde_json::from_slice(&foreign).unwrap();
    v["trust_anchors"].as_array_mut().unwrap().extend(ours.into_iter().map(serde_json::Value::String));
    s.proxy.set(Tamper::Replay(serde_json::to_vec(&v).unwrap()));
    let err = s.wallet.sync().await.unwrap_err();
    assert!(matches!(err, WalletError::BadSync(BadSync::AnchorAdded)), "{err}");
    assert_intact(&mut s, &cursor);
}

/// An answer that keeps the property's authority key and adds one of the attacker's used to
/// make the wallet trust the added key, and with it a door certificate for an impostor's door
/// key under a real door's id. Trust is never widened by an answer now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_cannot_add_an_authority_key_and_with_it_an_impostor_door() {
    use keyway_protocol::credential::{AuthorityKeyId, DoorCertBody, DoorCertificate, KeyPair, Signed};
    let mut s = setup().await;
    let front = s.p.front.id;
    let held = s.wallet.store().door_cert(front).unwrap().expect("the front door's certificate").1;
    let attacker = KeyPair::generate();
    let impostor = KeyPair::generate();
    let forged: DoorCertificate =
        Signed::sign(DoorCertBody::new(front, impostor.public(), AuthorityKeyId::of(&attacker.public().0)), &attacker);
    let attacker_anchor = serde_json::to_value(B64(attacker.public())).unwrap();
    let forged_json = serde_json::to_value(B64(forged)).unwrap();
    let cursor = s.wallet.store().cursor().unwrap();
    s.proxy.set(with_json(move |v| {
        v["trust_anchors"].as_array_mut().unwrap().push(attacker_anchor.clone());
        for door in v["doors"].as_array_mut().unwrap() {
            if door["door_id"] == serde_json::json!(front.0) {
                door["certificate"] = forged_json.clone();
            }
        }
    }));
    let err = s.wallet.sync().await.unwrap_err();
    assert!(matches!(err, WalletError::BadSync(BadSync::AnchorAdded)), "{err}");
    assert_eq!(s.wallet.store().door_cert(front).unwrap().unwrap().1, held, "the real door's certificate stays");
    assert_eq!(s.wallet.store().anchors().unwrap().keys().count(), 1);
    assert_intact(&mut s, &cursor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_back_answer_takes_nothing_away() {
    let mut s = setup().await;
    // Record an answer from before the second key existed on the server's side.
    s.proxy.set(Tamper::Pass);
    let stale = {
        // A full sync (no cursor) from a wallet that has not seen the second key is what a
        // backend restored from yesterday's backup would send.
        let mut v: serde_json::Value = serde_json::from_slice(&{
            s.wallet.sync().await.unwrap();
            s.proxy.last_sync().unwrap()
        })
        .unwrap();
        let keys = v["keys"].as_array_mut().unwrap();
        let newest = keys.iter().map(key_id).max().unwrap();
        keys.retain(|k| key_id(k) != newest);
        v["full"] = serde_json::Value::Bool(true);
        v["server_time"] = serde_json::json!(keyway_api::clock::now().saturating_sub_secs(DAY).0);
        v["cursor"] = serde_json::json!("0");
        serde_json::to_vec(&v).unwrap()
    };
    assert_eq!(s.wallet.keys_at(keyway_api::clock::now()).unwrap().len(), 2);
    let server_time = s.wallet.store().last_server_time().unwrap().unwrap();

    s.proxy.set(Tamper::Replay(stale));
    s.wallet.sync().await.unwrap();
    let keys = s.wallet.keys_at(keyway_api::clock::now()).unwrap();
    assert_eq!(keys.len(), 2);
    assert!(keys.iter().all(|k| k.state == keyway_wallet::key_state::KeyState::Active), "{keys:?}");
    assert_eq!(s.wallet.store().last_server_time().unwrap().unwrap(), server_time, "the server time never goes back");
    assert!(unlock(&mut s.wallet, &s.p.garage).granted);
    // The next genuine sync with the rolled-back cursor gets a full answer and converges.
    s.proxy.set(Tamper::Pass);
    s.wallet.sync().await.unwrap();
    assert_eq!(s.wallet.keys_at(keyway_api::clock::now()).unwrap().len(), 2);
    let _ = s.person;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_late_answers_are_errors_not_damage() {
    let mut s = setup().await;
    let cursor = s.wallet.store().cursor().unwrap();
    s.proxy.set(Tamper::Truncate);
    let err = s.wallet.sync().await.unwrap_err();
    assert!(matches!(err, WalletError::Backend(_)), "{err}");
    assert_intact(&mut s, &cursor);

    s.proxy.set(Tamper::Delay(Duration::from_secs(3)));
    let started = std::time::Instant::now();
    let err = s.wallet.sync().await.unwrap_err();
    assert!(matches!(err, WalletError::Backend(keyway_api::client::SyncError::Network { attempts: 2, .. })), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "gave up at the timeout, not after the slow answer");
    assert_intact(&mut s, &cursor);

    s.proxy.set(Tamper::Pass);
    s.wallet.sync().await.unwrap();
    assert_eq!(s.wallet.keys_at(keyway_api::clock::now()).unwrap().len(), 2);
}
