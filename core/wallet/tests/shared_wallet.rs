//! The wallet shared by an app's threads: an unlock does not wait for a stuck sync, reads do
//! not wait for a silent door, one unlock at a time, and a reset drops what calls under way
//! bring back. Time bounds are generous; the old single-lock wallet missed each by seconds.

use keyway_link::{Link, LinkError};
use keyway_protocol::UnixTime;
use keyway_protocol::credential::*;
use keyway_protocol::door::{DoorEngine, DoorProvisioning};
use keyway_test_kit::sim::{SimConfig, SimDoorLink};
use keyway_wallet::store::SyncChanges;
use keyway_wallet::store::secure::{MemorySecureStorage, SecureStorage};
use keyway_wallet::{HttpOptions, SharedWallet, UnlockOptions, Wallet, WalletError};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

struct Site {
    authority: KeyPair,
    door: Arc<Mutex<DoorEngine>>,
    cert: DoorCertificate,
}

fn site() -> Site {
    let authority = KeyPair::generate();
    let door_key = KeyPair::generate();
    let issuer = AuthorityKeyId::of(&authority.public().0);
    let cert = Signed::sign(DoorCertBody::new(DoorId(4), door_key.public(), issuer), &authority);
    let door = DoorEngine::new(DoorProvisioning {
        door_id: DoorId(4),
        door_key,
        anchors: TrustAnchors::new([authority.public()]),
        doorcode_secret: DoorcodeSecret::generate(),
        card_key: None,
        utc_offset_minutes: 0,
        clock: keyway_api::clock::now(),
    });
    Site { authority, door: Arc::new(Mutex::new(door)), cert }
}

impl Site {
    /// Gives `wallet` the door and a resident key for it, as a sync would.
    fn enroll(&self, wallet: &mut Wallet) {
        let now = keyway_api::clock::now().0;
        let body = KeyCertBody::new(
            KeyId(1),
            PersonId(1),
            wallet.device_public_key(),
            DoorSet::new(vec![DoorId(4)]).unwrap(),
            Validity::new(UnixTime(now - 3600), UnixTime(now + 86_400)).unwrap(),
            KeyFlags { resident: true, may_share: false },
            AuthorityKeyId::of(&self.authority.public().0),
        );
        let changes = SyncChanges {
            anchors: Some(TrustAnchors::new([self.authority.public()])),
            door_certs: vec![("Lobby".into(), self.cert.clone())],
            keys: vec![KeyChain::resident(Signed::sign(body, &self.authority))],
            server_time: keyway_api::clock::now(),
            ..Default::default()
        };
        wallet.store_mut().apply_sync(&changes, keyway_api::clock::now()).unwrap();
    }

    fn link(&self) -> SimDoorLink {
        SimDoorLink::connect(self.door.clone(), SimConfig::with_mtu(247), keyway_api::clock::now(), [7; 16])
    }
}

/// A door that accepted the connection and then says nothing.
struct SilentDoor {
    waiting: mpsc::Sender<()>,
}

impl Link for SilentDoor {
    fn mtu(&self) -> usize {
        247
    }
    fn send(&mut self, _frame: &[u8]) -> Result<(), LinkError> {
        Ok(())
    }
    fn recv(&mut self, timeout: Duration) -> Result<Vec<u8>, LinkError> {
        let _ = self.waiting.send(());
        std::thread::sleep(timeout);
        Err(LinkError::Timeout)
    }
    fn close(&mut self) {}
}

/// A backend that accepts connections and never answers.
fn black_hole() -> (String, mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (accepted, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming() {
            held.push(conn);
            let _ = accepted.send(());
        }
    });
    (url, rx)
}

/// A secure store as an install enrolled at `backend_url` leaves it.
fn enrolled_secure_store(backend_url: &str) -> Arc<MemorySecureStorage> {
    let secure = Arc::new(MemorySecureStorage::default());
    secure.put("device-token", b"token").unwrap();
    secure.put("backend-url", backend_url.as_bytes()).unwrap();
    secure
}

fn shared_wallet(site: &Site, secure: Arc<MemorySecureStorage>) -> Arc<SharedWallet> {
    let mut wallet = Wallet::open_in_memory(secure).unwrap();
    site.enroll(&mut wallet);
    Arc::new(SharedWallet::new(wallet))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlock_runs_while_a_sync_waits_on_a_black_holed_backend() {
    let site = site();
    let (url, accepted) = black_hole();
    let wallet = shared_wallet(&site, enrolled_secure_store(&url));
    let syncing = wallet.clone();
    let sync = tokio::spawn(async move { syncing.sync(None).await });
    tokio::task::spawn_blocking(move || accepted.recv_timeout(Duration::from_secs(5))).await.unwrap().unwrap();

    let started = Instant::now();
    let unlocking = wallet.clone();
    let link = site.link();
    let report = tokio::task::spawn_blocking(move || {
        let mut link = link;
        unlocking.unlock(DoorId(4), &mut link, UnlockOptions::default())
    })
    .await
    .unwrap()
    .unwrap();
    assert!(report.granted);
    assert!(started.elapsed() < Duration::from_secs(2), "unlock took {:?}", started.elapsed());
    assert!(!sync.is_finished(), "the sync is still waiting for the backend");
    sync.abort();
    assert_eq!(wallet.with(|w| w.receipts()).unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_call_http_options_bound_a_sync() {
    let site = site();
    let (url, _accepted) = black_hole();
    let wallet = shared_wallet(&site, enrolled_secure_store(&url));
    let started = Instant::now();
    let options = HttpOptions { timeout: Duration::from_millis(200), attempts: 2 };
    let err = wallet.sync(Some(&options)).await.unwrap_err();
    assert!(err.to_string().contains("after 2 attempts"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3), "sync took {:?}", started.elapsed());
}

#[test]
fn reads_and_a_second_unlock_do_not_wait_for_a_silent_door() {
    let site = site();
    let wallet = shared_wallet(&site, Arc::new(MemorySecureStorage::default()));
    let (waiting, at_door) = mpsc::channel();
    let unlocking = wallet.clone();
    let first = std::thread::spawn(move || {
        let options = UnlockOptions { timeout: Duration::from_secs(2) };
        unlocking.unlock(DoorId(4), &mut SilentDoor { waiting }, options)
    });
    at_door.recv_timeout(Duration::from_secs(5)).unwrap();

    let mut reads = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let keys = wallet.with(|w| w.keys_at(keyway_api::clock::now())).unwrap();
        reads.push(started.elapsed());
        assert_eq!(keys.len(), 1);
    }
    reads.sort();
    assert!(reads[2] < Duration::from_millis(50), "keys took {reads:?} while an unlock waited");

    let refused = wallet.unlock(DoorId(4), &mut site.link(), UnlockOptions::default());
    assert!(matches!(refused, Err(WalletError::UnlockInProgress)), "{refused:?}");
    assert!(matches!(first.join().unwrap(), Err(WalletError::Unlock(_))));
    assert!(wallet.unlock(DoorId(4), &mut site.link(), UnlockOptions::default()).unwrap().granted);
}

#[test]
fn an_unlock_slot_released_early_frees_the_next_unlock() {
    let site = site();
    let wallet = shared_wallet(&site, Arc::new(MemorySecureStorage::default()));
    let slot = wallet.claim_unlock().unwrap();
    assert!(matches!(wallet.claim_unlock(), Err(WalletError::UnlockInProgress)));
    slot.release();
    let next = wallet.claim_unlock().unwrap();
    drop(slot);
    assert!(matches!(wallet.claim_unlock(), Err(WalletError::UnlockInProgress)), "a released slot frees once");
    drop(next);
    assert!(wallet.claim_unlock().is_ok());
}

#[test]
fn an_unlock_that_ends_after_a_reset_stores_nothing() {
    let site = site();
    let mut wallet = Wallet::open_in_memory(Arc::new(MemorySecureStorage::default())).unwrap();
    site.enroll(&mut wallet);
    let prepared = wallet.prepare_unlock(DoorId(4), UnlockOptions::default()).unwrap();
    let finished = prepared.exchange(&mut site.link()).unwrap();
    wallet.reset().unwrap();
    assert!(matches!(wallet.record_unlock(finished), Err(WalletError::Reset)));
    assert!(wallet.receipts().unwrap().is_empty());
}

#[test]
fn reset_wipes_the_store_and_the_wallets_secure_entries() {
    let site = site();
    let secure = enrolled_secure_store("http://127.0.0.1:9");
    let mut wallet = Wallet::open_in_memory(secure.clone()).unwrap();
    site.enroll(&mut wallet);
    assert!(wallet.is_enrolled().unwrap());
    let old_device = wallet.device_public_key();
    assert!(wallet.unlock(DoorId(4), &mut site.link()).unwrap().granted);

    wallet.reset().unwrap();
    assert!(!wallet.is_enrolled().unwrap());
    assert!(wallet.keys_at(keyway_api::clock::now()).unwrap().is_empty());
    assert!(wallet.doors().unwrap().is_empty() && wallet.receipts().unwrap().is_empty());
    assert!(matches!(wallet.sync().await_blocking(), Err(WalletError::NotEnrolled)));
    assert_eq!(secure.get("device-token").unwrap(), None);
    assert_eq!(secure.get("backend-url").unwrap(), None);
    assert_ne!(wallet.device_public_key(), old_device, "a new device key after sign-out");
    let reopened = Wallet::open_in_memory(secure).unwrap();
    assert_eq!(reopened.device_public_key(), wallet.device_public_key(), "the new key is kept");
}

#[test]
fn a_database_kept_when_the_secure_store_was_lost_is_wiped_at_open() {
    let site = site();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("w.db");
    let mut wallet = Wallet::open(&db, enrolled_secure_store("http://127.0.0.1:9")).unwrap();
    site.enroll(&mut wallet);
    assert!(wallet.is_enrolled().unwrap());
    drop(wallet);

    // A reinstall that lost the Keychain: a new device key, the old database.
    let wallet = Wallet::open(&db, Arc::new(MemorySecureStorage::default())).unwrap();
    assert!(!wallet.is_enrolled().unwrap());
    assert!(wallet.keys_at(keyway_api::clock::now()).unwrap().is_empty(), "keys of another device key");
    assert!(wallet.doors().unwrap().is_empty());
}

#[test]
fn a_lost_database_with_a_kept_secure_store_is_still_enrolled() {
    let dir = tempfile::tempdir().unwrap();
    let secure = enrolled_secure_store("http://127.0.0.1:9");
    let wallet = Wallet::open(&dir.path().join("new.db"), secure).unwrap();
    assert!(wallet.is_enrolled().unwrap());
    let properties = wallet.properties().unwrap();
    assert_eq!(properties.iter().map(|p| p.backend_url.as_str()).collect::<Vec<_>>(), ["http://127.0.0.1:9"]);

    // A token without the backend's address (an install from before it was kept) is not an
    // enrollment this wallet can use.
    let secure = Arc::new(MemorySecureStorage::default());
    secure.put("device-token", b"token").unwrap();
    let wallet = Wallet::open(&dir.path().join("other.db"), secure).unwrap();
    assert!(!wallet.is_enrolled().unwrap());
}

/// Runs a wallet future to completion on a throwaway runtime.
trait AwaitBlocking: std::future::Future + Sized {
    fn await_blocking(self) -> Self::Output {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(self)
    }
}

impl<F: std::future::Future> AwaitBlocking for F {}
