//! Revalidation windows (`bench-report --revalidation`): what the freshness costs on the air
//! and at the backend.
//!
//! - Request bytes: the resident and guest unlock requests with today's certificates (format 2,
//!   with `fresh_until`) next to the same requests with the format-1 layout (no freshness),
//!   both encoded by postcard from the same values.
//! - Backend: one person holding `keys` keys on the real Mission Control (in-process, its own
//!   SQLite file). The revalidation window is widened so the next sync must re-issue every
//!   certificate; that sync is timed against the one after it, which re-issues nothing.

use keyway_api::client::{ClientConfig, ManagerClient, SyncClient};
use keyway_api::*;
use keyway_protocol::UnixTime;
use keyway_protocol::codec;
use keyway_protocol::credential::*;
use keyway_protocol::unlock::frame;
use keyway_test_kit::fixture::{DOOR_A, Holder, Property as Fixture, doors, window};
use mission_control::Server;
use serde::Serialize;
use std::time::{Duration, Instant};

#[derive(Clone, Debug, Serialize)]
pub struct RevalidationReport {
    pub resident_request_bytes: usize,
    pub resident_request_bytes_format_1: usize,
    pub guest_request_bytes: usize,
    pub guest_request_bytes_format_1: usize,
    /// ATT packets at MTU 247 for the resident request (must stay 1).
    pub resident_frames_at_247: usize,
    pub keys: usize,
    /// The sync that re-issues every certificate (ms).
    pub reissue_sync_ms: f64,
    /// The sync after it, which re-issues nothing (ms).
    pub plain_sync_ms: f64,
    /// (re-issuing sync − plain sync) / keys, in microseconds per certificate.
    pub reissue_us_per_key: f64,
}

/// The certificate body as format 1 laid it out: everything but `fresh_until`.
#[derive(Serialize)]
struct KeyCertBodyV1<'a> {
    version: u8,
    key_id: KeyId,
    person_id: PersonId,
    holder: PublicKey,
    doors: &'a DoorSet,
    validity: Validity,
    flags: KeyFlags,
    issuer: AuthorityKeyId,
}

fn request_len(h: &Holder) -> Result<usize, String> {
    crate::report::keyway_request_len(&h.chain)
}

/// What the same request measures with the format-1 certificate: the chain carries the
/// certificate once, so the difference is that of the two bodies.
fn format_1_saving(cert: &KeyCertificate) -> usize {
    let b = &cert.body;
    let v1 = KeyCertBodyV1 {
        version: 1,
        key_id: b.key_id,
        person_id: b.person_id,
        holder: b.holder,
        doors: &b.doors,
        validity: b.validity,
        flags: b.flags,
        issuer: b.issuer,
    };
    codec::encode(b).len() - codec::encode(&v1).len()
}

fn bytes() -> Result<(usize, usize, usize, usize, usize), String> {
    let p = Fixture::new();
    let now = keyway_test_kit::fixture::NOW;
    let resident = p.resident(1, 1);
    let guest = Fixture::guest_of(&resident, 9, 50, doors(&[DOOR_A]), window(now, now.saturating_add_secs(86_400)));
    let saving = format_1_saving(resident.chain.root());
    let (r, g) = (request_len(&resident)?, request_len(&guest)?);
    let frames = frame::frame_count(r, 247).map_err(|e| e.to_string())?;
    Ok((r, r - saving, g, g - saving, frames))
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Measures with one person holding `keys` keys.
pub async fn measure(keys: usize) -> Result<RevalidationReport, String> {
    let (resident, resident_v1, guest, guest_v1, frames) = bytes()?;
    let dir = tempfile::tempdir().map_err(err)?;
    let server = Server::start(dir.path().join("mc.db"), "127.0.0.1:0".parse().map_err(err)?).await.map_err(err)?;
    let base = server.base_url();
    let req = CreatePropertyRequest { name: "Bench Court".into(), utc_offset_minutes: 0, manager_name: "Pat".into() };
    let manager = ManagerClient::create_property(&base, &req).await.map_err(err)?.1;
    let door = manager.create_door("Front", false).await.map_err(err)?;
    let grant = || KeyGrant { doors: vec![door.door_id], start: None, expiry: Expiry::Never };
    let invite = InviteRequest {
        name: "Ann".into(),
        contact: "ann@example.com".into(),
        access: AccessKind::AppKey,
        keys: vec![grant()],
        resident: true,
        may_share: false,
    };
    let invited = manager.invite(&invite).await.map_err(err)?;
    let token = manager.welcome_token(invited.person.person_id).await.map_err(err)?.ok_or("no welcome message")?;
    let mut config = ClientConfig::new(base.clone());
    config.timeout = Duration::from_secs(120);
    let phone = SyncClient::new(config).map_err(err)?;
    let device = KeyPair::generate();
    let accepted = phone.accept_invite(&token, &device).await.map_err(err)?;
    let device_token = accepted.credentials.device_token;
    for _ in 1..keys {
        manager.add_key(invited.person.person_id, &grant()).await.map_err(err)?;
    }
    // Every key certified (the adds certify at once); a sync now re-issues nothing.
    phone.sync(&device_token, None).await.map_err(err)?;

    // A wider window: the next sync must re-issue every certificate.
    manager.set_revalidation_days(30).await.map_err(err)?;
    let started = Instant::now();
    let reissued = phone.sync(&device_token, None).await.map_err(err)?;
    let reissue = started.elapsed();
    let horizon = UnixTime(keyway_api::clock::now().0 + 29 * 86_400);
    let fresh = reissued.keys.iter().filter(|k| k.certificate.as_ref().is_some_and(|c| c.0.body.fresh_until > horizon));
    if fresh.count() != keys {
        return Err(format!("the sync re-issued fewer than {keys} certificates"));
    }
    let started = Instant::now();
    phone.sync(&device_token, None).await.map_err(err)?;
    let plain = started.elapsed();
    server.shutdown().await.map_err(err)?;

    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(RevalidationReport {
        resident_request_bytes: resident,
        resident_request_bytes_format_1: resident_v1,
        guest_request_bytes: guest,
        guest_request_bytes_format_1: guest_v1,
        resident_frames_at_247: frames,
        keys,
        reissue_sync_ms: ms(reissue),
        plain_sync_ms: ms(plain),
        reissue_us_per_key: (ms(reissue) - ms(plain)).max(0.0) * 1000.0 / keys as f64,
    })
}

pub fn render(r: &RevalidationReport) -> String {
    let mut out = String::new();
    out.push_str("Revalidation windows: certificates fresh for the window, re-issued at sync\n\n");
    out.push_str("                      format 2 (fresh_until)   format 1 (none)   ratio\n");
    let row = |name: &str, now: usize, before: usize| {
        format!("  {name:<20}{now:>12} B{before:>17} B{:>11.3}\n", now as f64 / before as f64)
    };
    out.push_str(&row("resident request", r.resident_request_bytes, r.resident_request_bytes_format_1));
    out.push_str(&row("guest request", r.guest_request_bytes, r.guest_request_bytes_format_1));
    out.push_str(&format!("  resident request at MTU 247: {} ATT packet(s)\n\n", r.resident_frames_at_247));
    out.push_str(&format!(
        "Backend, one phone with {} keys (Mission Control in-process, SQLite):\n  sync re-issuing every certificate {:.1} ms, the same sync re-issuing none {:.1} ms: {:.1} µs per certificate\n",
        r.keys, r.reissue_sync_ms, r.plain_sync_ms, r.reissue_us_per_key
    ));
    out
}
