//! Secrets at rest and the operator credential: the authority and doorcode secrets never reach
//! the database file in clear, a wrong or missing key is refused (never replaced), the key file
//! is its owner's only, a database from before sealing is sealed on first open and keeps
//! working; creating a property on the binary needs the operator token, within a quota and a
//! rate.

mod common;

use common::*;
use keyway_api::client::{ManagerClient, SyncError};
use keyway_api::*;
use keyway_protocol::UnixTime;
use keyway_protocol::credential::*;
use mission_control::{SECRET_KEY_ENV_VAR, Server, ServerOptions};
use reqwest::Method;
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

const OPERATOR_ENV: &str = "KEYWAY_MC_OPERATOR_TOKEN";

fn loopback() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn key_file(db: &Path) -> PathBuf {
    PathBuf::from(format!("{}.key", db.display()))
}

fn elm_court() -> CreatePropertyRequest {
    CreatePropertyRequest { name: "Elm Court".into(), utc_offset_minutes: 60, manager_name: "Pat".into() }
}

/// Every byte SQLite keeps of the database at `db`, once no server has it open: the file after
/// a checkpoint, and whatever write-ahead log or journal is left.
fn raw_bytes(db: &Path) -> Vec<u8> {
    let conn = Connection::open(db).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())).unwrap();
    drop(conn);
    let mut bytes = std::fs::read(db).unwrap();
    for suffix in ["-wal", "-journal"] {
        if let Ok(more) = std::fs::read(format!("{}{suffix}", db.display())) {
            bytes.extend(more);
        }
    }
    bytes
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Whether some 32 bytes of `haystack` are the secret key of `public`.
fn holds_secret_of(haystack: &[u8], public: &PublicKey) -> bool {
    haystack
        .windows(32)
        .filter(|w| w.iter().filter(|b| **b != 0).count() > 8)
        .any(|w| KeyPair::from_secret(&<[u8; 32]>::try_from(w).unwrap()).public() == *public)
}

async fn refusal_of(server: Result<Server, mission_control::ServeError>) -> String {
    match server {
        Ok(_) => panic!("the server started"),
        Err(e) => e.to_string(),
    }
}

// ---- 1. secrets at rest ----------------------------------------------------------------------

#[tokio::test]
async fn the_database_file_holds_no_clear_authority_secret_or_doorcode_secret() {
    let mc = Mc::start().await;
    let p = property(&mc, "Elm Court").await;
    let (_, code_token) =
        invite(&mc, &p.pm, "Dora", AccessKind::DailyDoorcode, vec![grant(&[p.lobby.door_id], None, None)], false).await;
    assert_eq!(mc.phone_client().doorcodes(&code_token).await.unwrap().codes.len(), 1, "sealed secrets still work");
    let Mc { server, dir, .. } = mc;
    server.shutdown().await.unwrap();

    let bytes = raw_bytes(&dir.path().join("mc.db"));
    let clear_doorcodes: Vec<u32> = [&p.lobby, &p.garage, &p.online]
        .iter()
        .filter(|door| contains(&bytes, &door.doorcode_secret.0.0))
        .map(|door| door.door_id.0)
        .collect();
    let clear_authority = holds_secret_of(&bytes, &p.authority);
    assert_eq!(
        (clear_doorcodes, clear_authority),
        (vec![], false),
        "doors whose doorcode secret, and whether the authority secret, is in the file in clear"
    );
}

#[tokio::test]
async fn another_key_or_no_key_is_refused_and_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mc.db");
    let server = Server::start(&path, loopback()).await.unwrap();
    let (created, pm) = ManagerClient::create_property(&server.base_url(), &elm_court()).await.unwrap();
    pm.create_door("Lobby", false).await.unwrap();
    server.shutdown().await.unwrap();
    let key = key_file(&path);
    let original = std::fs::read(&key).unwrap();

    let other = format!("{}\n", "ab".repeat(32));
    std::fs::write(&key, &other).unwrap();
    let refused = refusal_of(Server::start(&path, loopback()).await).await;
    assert!(refused.contains("does not open this database's secrets"), "{refused}");
    assert_eq!(std::fs::read_to_string(&key).unwrap(), other, "the key file is left as it was");

    std::fs::remove_file(&key).unwrap();
    let refused = refusal_of(Server::start(&path, loopback()).await).await;
    assert!(refused.contains("is missing but this database's secrets are sealed"), "{refused}");
    assert!(!key.exists(), "no new key is made for a sealed database");

    std::fs::write(&key, &original).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let server = Server::start(&path, loopback()).await.unwrap();
    let pm = ManagerClient::new(&server.base_url(), created.manager.token).unwrap();
    assert_eq!(pm.doors().await.unwrap().len(), 1);
}

#[tokio::test]
async fn the_key_file_is_the_owners_only_and_exactly_one_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mc.db");
    Server::start(&path, loopback()).await.unwrap().shutdown().await.unwrap();
    let key = key_file(&path);
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    assert_eq!(meta.len(), 65, "64 hex digits and a newline");

    for mode in [0o640, 0o604, 0o660] {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(mode)).unwrap();
        let refused = refusal_of(Server::start(&path, loopback()).await).await;
        assert!(refused.contains("is open to other users"), "{mode:o}: {refused}");
    }
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    Server::start(&path, loopback()).await.unwrap().shutdown().await.unwrap();

    let original = std::fs::read_to_string(&key).unwrap();
    for wrong in [&original[..62], &original[..32], &format!("{}00\n", original.trim_end())] {
        std::fs::write(&key, wrong).unwrap();
        let refused = refusal_of(Server::start(&path, loopback()).await).await;
        assert!(refused.contains("must hold exactly 64 hex digits"), "{wrong:?}: {refused}");
    }
}

/// What a database at schema version 3 holds in clear, and the certificate of its one key.
struct AtV3 {
    authority: KeyPair,
    doorcode: [u8; 32],
    key: KeyCertificate,
}

/// A database as version 3 of the schema left it: a property (its manager's token `mgr_v3`),
/// the offline door 1 with its doorcode secret in clear, Xavier with a device (`dev_xavier`)
/// and a certified key to the door.
fn database_at_v3(path: &Path) -> AtV3 {
    let mut conn = Connection::open(path).unwrap();
    rusqlite_migration::Migrations::new(vec![
        rusqlite_migration::M::up(include_str!("../src/schema_v1.sql")),
        rusqlite_migration::M::up(include_str!("../src/schema_v2.sql")),
        rusqlite_migration::M::up(include_str!("../src/schema_v3.sql")),
    ])
    .to_latest(&mut conn)
    .unwrap();
    let authority = KeyPair::generate();
    let doorcode = *DoorcodeSecret::generate().as_bytes();
    let issuer = AuthorityKeyId::of(&authority.public().0);
    let t = now().0 as i64;
    let hash = |token: &str| Sha256::digest(token.as_bytes()).to_vec();
    conn.execute(
        "INSERT INTO properties (id, name, authority_secret, utc_offset_minutes, change_seq, created_at) VALUES (1, 'Elm Court', ?1, 60, 5, ?2)",
        params![authority.secret().to_vec(), t],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO managers (property_id, name, token_hash, portfolio_manager, key_management, created_at) VALUES (1, 'Pat', ?1, 1, 1, ?2)",
        params![hash("mgr_v3"), t],
    )
    .unwrap();
    let door = DoorCertificate::sign(DoorCertBody::new(DoorId(1), KeyPair::generate().public(), issuer), &authority);
    conn.execute(
        "INSERT INTO doors (id, property_id, name, online, certificate, doorcode_secret, created_at) VALUES (1, 1, 'Lobby', 0, ?1, ?2, ?3)",
        params![door.to_bytes(), doorcode.to_vec(), t],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO people (id, property_id, name, contact, access, resident, may_share, token_hash, changed_seq, created_at)
         VALUES (1, 1, 'Xavier', 'x@example.com', 'app_key', 1, 1, ?1, 1, ?2)",
        params![hash("inv_xavier"), t],
    )
    .unwrap();
    let device = KeyPair::generate();
    conn.execute(
        "INSERT INTO devices (person_id, public_key, token_hash, created_at) VALUES (1, ?1, ?2, ?3)",
        params![device.public().0.to_vec(), hash("dev_xavier"), t],
    )
    .unwrap();
    let validity = Validity::new(UnixTime(now().0 - DAY), now().saturating_add_secs(30 * DAY)).unwrap();
    let flags = KeyFlags { resident: true, may_share: false };
    let doors = DoorSet::new(vec![DoorId(1)]).unwrap();
    let key = KeyCertificate::sign(
        KeyCertBody::new(KeyId(1), PersonId(1), device.public(), doors, validity, flags, issuer),
        &authority,
    );
    conn.execute(
        "INSERT INTO keys (id, person_id, doors, start, expiry, resident, may_share, certificate, changed_seq, created_at)
         VALUES (1, 1, '[1]', ?1, ?2, 1, 0, ?3, 2, ?4)",
        params![validity.start.0 as i64, validity.expiry.0 as i64, key.to_bytes(), t],
    )
    .unwrap();
    AtV3 { authority, doorcode, key }
}

#[tokio::test]
async fn a_database_at_schema_v3_is_sealed_on_first_open_and_keeps_working() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mc.db");
    let v3 = database_at_v3(&path);
    assert!(contains(&raw_bytes(&path), &v3.doorcode), "the old database holds the doorcode secret in clear");
    let before = now().0;
    let server = Server::start(&path, loopback()).await.unwrap();
    let after = now().0;
    let mc = Mc { base: server.base_url(), server, dir, http: reqwest::Client::new() };

    {
        let conn = Connection::open(&path).unwrap();
        let authority: Vec<u8> = conn.query_row("SELECT authority_secret FROM properties", [], |r| r.get(0)).unwrap();
        let doorcode: Vec<u8> = conn.query_row("SELECT doorcode_secret FROM doors", [], |r| r.get(0)).unwrap();
        assert_ne!(authority.as_slice(), v3.authority.secret().as_slice(), "the authority secret is sealed");
        assert_ne!(doorcode.as_slice(), v3.doorcode.as_slice(), "the doorcode secret is sealed");
        assert_eq!((authority.len(), doorcode.len()), (73, 73), "version, nonce, 32 bytes, tag");
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert!(version >= 4, "upgraded past the sealing migration: {version}");
    }

    // The manager, the device and its key of before still work, and what the server signs now
    // is signed by the same authority.
    let doors: Vec<DoorInfo> = mc.get("/v1/doors", "mgr_v3").await;
    // Its token, which never expired, now does: the default lifetime from the upgrade (schema v5).
    let me: ManagerInfo = mc.get("/v1/managers/me", "mgr_v3").await;
    let lifetime = ServerOptions::DEFAULT_MANAGER_TOKEN_LIFETIME.as_secs();
    assert!((before + lifetime..=after + lifetime).contains(&me.token_expires_at.0), "{}", me.token_expires_at);
    assert_eq!(doors.len(), 1);
    let sync = mc.phone_client().sync("dev_xavier", None).await.unwrap();
    assert_eq!(sync.trust_anchors[0].0, v3.authority.public());
    // The certificate of before carried no freshness (format 1): the sync re-issues it for the
    // same key, device and doors, fresh for the revalidation window (schema v7).
    let kept = sync.keys[0].certificate.clone().expect("the key's certificate").0;
    assert_eq!(kept.body.version, KeyCertBody::VERSION);
    assert_eq!(
        (kept.body.key_id, kept.body.holder, kept.body.doors.clone(), kept.body.validity),
        (v3.key.body.key_id, v3.key.body.holder, v3.key.body.doors.clone(), v3.key.body.validity)
    );
    assert!(kept.body.fresh_until <= now().saturating_add_secs(7 * DAY));
    kept.verify_signature(&v3.authority.public()).unwrap();
    let later = now().saturating_add_secs(60 * DAY);
    let _: KeyChangeResponse =
        mc.ok(Method::POST, "/v1/people/1/keys", "mgr_v3", Some(grant(&[DoorId(1)], None, Some(later)))).await;
    let sync = mc.phone_client().sync("dev_xavier", None).await.unwrap();
    assert_eq!(sync.keys.len(), 2);
    for key in &sync.keys {
        key.certificate.as_ref().expect("certified").0.verify_signature(&v3.authority.public()).unwrap();
    }

    // The door keeps its doorcode secret, so a code the server hands out is the door's.
    let (answer, token) =
        invite(&mc, "mgr_v3", "Dora", AccessKind::DailyDoorcode, vec![grant(&[DoorId(1)], None, None)], false).await;
    let [DoorOp::AddDoorcode { slot, .. }] = answer.updates[0].ops.as_slice() else { panic!("{:?}", answer.updates) };
    let codes = mc.phone_client().doorcodes(&token).await.unwrap();
    let expected = DoorcodeSecret::new(v3.doorcode).code_at(*slot, codes.server_time, 60);
    assert_eq!(codes.codes[0].code, expected.to_string());

    let Mc { server, dir, .. } = mc;
    server.shutdown().await.unwrap();
    let bytes = raw_bytes(&dir.path().join("mc.db"));
    assert!(!contains(&bytes, &v3.doorcode), "the clear doorcode secret is overwritten, not left in free space");
    assert!(!contains(&bytes, v3.authority.secret().as_slice()), "the clear authority secret is overwritten");
}

// ---- 2. the operator credential, on the binary -------------------------------------------------

struct Running {
    child: Child,
    base: String,
    /// The binary's stderr, line by line, read on a thread of its own.
    stderr: Receiver<String>,
}

impl Running {
    /// The operator token the binary printed on stderr.
    fn printed_operator_token(&mut self) -> String {
        loop {
            let line = self.stderr.recv_timeout(Duration::from_secs(10)).expect("an operator token on stderr");
            if line.contains("operator token") {
                return line.split_whitespace().last().unwrap().to_string();
            }
        }
    }

    /// Stops the binary; what else it wrote on stderr.
    fn stop(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.stderr.iter().collect::<Vec<_>>().join("\n")
    }
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "mission-control at {}", self.base)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary on `db` with `args` and `env` (and neither secret from the test's environment);
/// or, if it exits instead of listening, what it wrote on stderr.
fn launch(db: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<Running, String> {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mission-control"));
    command
        .args(["--db", db.to_str().unwrap(), "--listen", "127.0.0.1:0"])
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove(SECRET_KEY_ENV_VAR)
        .env_remove(OPERATOR_ENV)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let (lines, stderr) = mpsc::channel();
    let reader = BufReader::new(child.stderr.take().unwrap());
    std::thread::spawn(move || reader.lines().map_while(Result::ok).try_for_each(|l| lines.send(l)));
    if line.is_empty() {
        let status = child.wait().unwrap();
        let text = stderr.iter().collect::<Vec<_>>().join("\n");
        assert!(!status.success(), "it stopped without an error: {text}");
        return Err(text);
    }
    let base = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
    Ok(Running { child, base, stderr })
}

async fn create_property(base: &str, token: Option<&str>, name: &str) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/v1/properties"))
        .json(&serde_json::json!({ "name": name, "manager_name": "Pat" }));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn the_binary_creates_properties_only_with_its_operator_token() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mc.db");
    let mut server = launch(&db, &[], &[]).unwrap();
    let (status, body) = create_property(&server.base, None, "Elm Court").await;
    assert_eq!((status, body["code"].as_str()), (401, Some("unauthorized")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("operator token"), "{body}");
    let (status, body) = create_property(&server.base, Some(&format!("op_{}", "0".repeat(64))), "Elm Court").await;
    assert_eq!((status, body["message"].as_str()), (401, Some("unknown operator token")));
    let token = server.printed_operator_token();
    assert!(token.starts_with("op_"), "{token}");
    let (status, created) = create_property(&server.base, Some(&token), "Elm Court").await;
    assert_eq!(status, 200, "{created}");
    // A manager's token is not an operator's.
    let manager = created["manager"]["token"].as_str().unwrap().to_string();
    assert_eq!(create_property(&server.base, Some(&manager), "Oak Row").await.0, 401);
    // Refused before the body is judged: nothing is learnt without the token.
    let malformed =
        reqwest::Client::new().post(format!("{}/v1/properties", server.base)).body("{").send().await.unwrap();
    assert_eq!(malformed.status().as_u16(), 401);
    server.stop();

    // Shown once: a restart prints no token, and the first one still works.
    let mut server = launch(&db, &[], &[]).unwrap();
    assert_eq!(create_property(&server.base, Some(&token), "Oak Row").await.0, 200);
    let rest = server.stop();
    assert!(!rest.contains("operator token"), "{rest}");

    // Stored as its SHA-256 only.
    let bytes = raw_bytes(&db);
    assert!(!contains(&bytes, token.as_bytes()));
    let conn = Connection::open(&db).unwrap();
    let hashes: Vec<Vec<u8>> = conn
        .prepare("SELECT token_hash FROM operators")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(hashes, vec![Sha256::digest(token.as_bytes()).to_vec()]);
}

#[tokio::test]
async fn an_operator_token_has_a_quota_and_a_rate() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mc.db");
    let token = "op_from_the_environment_0123456789";
    let args = ["--max-properties-per-operator", "2", "--property-creations-per-minute", "3"];
    let mut server = launch(&db, &args, &[(OPERATOR_ENV, token)]).unwrap();
    assert_eq!(create_property(&server.base, Some(token), "One").await.0, 200);
    assert_eq!(create_property(&server.base, Some(token), "Two").await.0, 200);
    let (status, body) = create_property(&server.base, Some(token), "Three").await;
    assert_eq!((status, body["code"].as_str()), (403, Some("forbidden")), "{body}");
    assert!(
        body["message"].as_str().unwrap().starts_with("quota reached: this operator token has created 2"),
        "{body}"
    );
    let (status, body) = create_property(&server.base, Some(token), "Four").await;
    assert_eq!(status, 429, "{body}");
    assert!(body["message"].as_str().unwrap().contains("3 properties a minute: retry in"), "{body}");
    // An unknown token is refused as such, whatever the rate of the known one.
    assert_eq!(create_property(&server.base, Some("op_someone_else_0123456789"), "Five").await.0, 401);
    let rest = server.stop();
    assert!(!rest.contains("operator token"), "a given token is never printed: {rest}");

    // Another operator token has its own quota.
    let other = "op_second_operator_0123456789";
    let server = launch(&db, &["--operator-token", other, "--max-properties-per-operator", "2"], &[]).unwrap();
    assert_eq!(create_property(&server.base, Some(other), "Six").await.0, 200);
    assert_eq!(create_property(&server.base, Some(token), "Seven").await.0, 403, "the first one's quota stays");

    assert!(launch(&db, &["--operator-token", "short"], &[]).unwrap_err().contains("operator token must be"));
}

#[tokio::test]
async fn the_binary_takes_its_secret_key_from_the_environment_and_refuses_another() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("mc.db");
    let key = "5a".repeat(32);
    let operator = ("KEYWAY_MC_OPERATOR_TOKEN", "op_key_from_env_0123456789");
    let server = launch(&db, &[], &[(SECRET_KEY_ENV_VAR, &key), operator]).unwrap();
    let (status, created) = create_property(&server.base, Some(operator.1), "Elm Court").await;
    assert_eq!(status, 200);
    drop(server);
    assert!(!key_file(&db).exists(), "with the key in the environment there is no key file");

    let other = "a5".repeat(32);
    let refused = launch(&db, &[], &[(SECRET_KEY_ENV_VAR, &other), operator]).unwrap_err();
    assert!(refused.contains("does not open this database's secrets"), "{refused}");
    let refused = launch(&db, &[], &[operator]).unwrap_err();
    assert!(refused.contains("is missing but this database's secrets are sealed"), "{refused}");
    assert!(!key_file(&db).exists());
    let refused = launch(&db, &[], &[(SECRET_KEY_ENV_VAR, "not hex"), operator]).unwrap_err();
    assert!(refused.contains("KEYWAY_MC_SECRET_KEY must be 64 hex digits"), "{refused}");

    let server = launch(&db, &[], &[(SECRET_KEY_ENV_VAR, &key), operator]).unwrap();
    let pm = ManagerClient::new(&server.base, created["manager"]["token"].as_str().unwrap()).unwrap();
    assert_eq!(pm.me().await.unwrap().name, "Pat");
    assert_eq!(pm.create_door("Lobby", false).await.unwrap().name, "Lobby");
}

// ---- 2. the operator credential, in process --------------------------------------------------

#[tokio::test]
async fn an_in_process_server_with_operator_tokens_shows_its_generated_token_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mc.db");
    let server = Server::start_with(&path, loopback(), ServerOptions::default()).await.unwrap();
    let token = server.operator_token().expect("a generated token").to_string();
    let base = server.base_url();
    let refused = ManagerClient::create_property(&base, &elm_court()).await.unwrap_err();
    assert!(matches!(refused, SyncError::Rejected { status: 401, .. }), "{refused:?}");
    let (_, pm) = ManagerClient::create_property_as_operator(&base, &token, &elm_court()).await.unwrap();
    assert_eq!(pm.me().await.unwrap().name, "Pat");
    server.shutdown().await.unwrap();
    let again = Server::start_with(&path, loopback(), ServerOptions::default()).await.unwrap();
    assert_eq!(again.operator_token(), None, "shown once");
}

/// A 429 has a wire code of its own (it used to say `unavailable`), a `Retry-After` header
/// and the same seconds in its message; the client hands it back as "retry later", with the wait.
#[tokio::test]
async fn too_many_requests_has_its_own_code_and_says_when_to_retry() {
    let dir = tempfile::tempdir().unwrap();
    let token = "op_rate_limited_0123456789";
    let options = ServerOptions {
        property_creation: mission_control::PropertyCreation::Operator(mission_control::OperatorSettings {
            token: Some(token.into()),
            creations_per_minute: 1,
            ..Default::default()
        }),
        ..ServerOptions::default()
    };
    let server = Server::start_with(dir.path().join("mc.db"), loopback(), options).await.unwrap();
    let base = server.base_url();
    ManagerClient::create_property_as_operator(&base, token, &elm_court()).await.unwrap();

    let response = reqwest::Client::new()
        .post(format!("{base}/v1/properties"))
        .bearer_auth(token)
        .json(&elm_court())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let secs: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&secs), "{secs}");
    let body: ApiError = response.json().await.unwrap();
    assert_eq!(body.code, ErrorCode::TooManyRequests);
    assert!(body.message.ends_with(&format!(": retry in {secs} s")), "{}", body.message);

    let refused = ManagerClient::create_property_as_operator(&base, token, &elm_court()).await.unwrap_err();
    assert!(refused.is_retryable_later(), "{refused:?}");
    let SyncError::TooManyRequests { retry_after: Some(wait), error } = &refused else { panic!("{refused:?}") };
    assert!(wait.as_secs() >= 1 && wait.as_secs() <= secs, "{wait:?}");
    assert_eq!(error.code, ErrorCode::TooManyRequests);
    assert_eq!(refused.status(), Some(429));
    let conn = Connection::open(dir.path().join("mc.db")).unwrap();
    let properties: i64 = conn.query_row("SELECT count(*) FROM properties", [], |r| r.get(0)).unwrap();
    assert_eq!(properties, 1, "nothing was created above the rate");
}

#[tokio::test]
async fn open_property_creation_is_for_loopback_only() {
    let dir = tempfile::tempdir().unwrap();
    let refused = refusal_of(Server::start(dir.path().join("mc.db"), "0.0.0.0:0".parse().unwrap()).await).await;
    assert!(refused.contains("open property creation is for loopback only"), "{refused}");
}
