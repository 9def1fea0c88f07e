//! The report: each protocol over the same simulated link at the two phone settings, first and
//! repeat unlocks, the door's work on a microcontroller profile, and the cost of carrying door
//! updates inside an unlock.

use crate::app::{self, PHONE_NONCE, PeerDoor, REPEAT_NONCE};
use crate::driver::{DriveError, Endpoint, Exchange, drive, timed};
use crate::keyway::{self, KeywayDoor, KeywayPhone};
use crate::mcu::{DoorWork, McuProfile, hmacs};
use crate::noise::{NoiseDoor, NoiseKeys, NoisePhone, Pattern};
use crate::property::{HolderKind, Property};
use crate::tls::{TlsDoor, TlsPhone, TlsSetup};
use keyway_protocol::codec::{self, BoundedBytes};
use keyway_protocol::credential::KeyChain;
use keyway_protocol::door::CryptoOps;
use keyway_protocol::unlock::UnlockRequest;
use keyway_protocol::unlock::frame;
use keyway_protocol::unlock::message::{PROTOCOL_VERSION, RequestBody, ResumeBody, ResumeRequest};
use keyway_protocol::unlock::seal::{PROOF_LEN, TAG_LEN};
use keyway_test_kit::sim::SimConfig;
use serde::Serialize;
use std::time::Duration;

/// A phone's connection as the report models it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Setting {
    pub name: &'static str,
    pub conn_interval_ms: u64,
    pub mtu: usize,
}

/// (a) iOS-like and (b) Android-like connections; both with `SimConfig`'s default 2 ms stack
/// latency and 4 packets per direction per connection event, and no loss.
pub const SETTINGS: [Setting; 2] = [
    Setting { name: "iOS-like", conn_interval_ms: 30, mtu: 185 },
    Setting { name: "Android-like", conn_interval_ms: 15, mtu: 247 },
];

impl Setting {
    pub fn sim(&self) -> SimConfig {
        SimConfig { mtu: self.mtu, conn_interval_ms: self.conn_interval_ms, ..SimConfig::default() }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Protocol {
    Keyway,
    #[serde(rename = "TLS 1.3 mutual")]
    Tls13,
    #[serde(rename = "Noise IK")]
    NoiseIK,
    #[serde(rename = "Noise XX")]
    NoiseXX,
    #[serde(rename = "TLS 1.3 PSK resumption")]
    Tls13Psk,
}

/// The protocols of a first unlock.
pub const PROTOCOLS: [Protocol; 4] = [Protocol::Keyway, Protocol::Tls13, Protocol::NoiseIK, Protocol::NoiseXX];
/// The protocols of a repeat unlock (the same key at the same door again): Keyway with the
/// ticket of the first unlock, TLS 1.3 resuming with the first handshake's ticket.
pub const REPEAT_PROTOCOLS: [Protocol; 2] = [Protocol::Keyway, Protocol::Tls13Psk];

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Keyway => "Keyway",
            Protocol::Tls13 => "TLS 1.3 mutual",
            Protocol::NoiseIK => "Noise IK",
            Protocol::NoiseXX => "Noise XX",
            Protocol::Tls13Psk => "TLS 1.3 PSK resumption",
        }
    }
}

/// A first unlock or a repeat unlock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unlock {
    First,
    Repeat,
}

/// Everything the protocols need, built once.
pub struct Context {
    pub property: Property,
    pub tls: TlsSetup,
    pub noise: NoiseKeys,
    pub mcu: McuProfile,
}

impl Context {
    pub fn new() -> Result<Self, String> {
        let property = Property::new();
        let tls = TlsSetup::new(&property)?;
        Ok(Context { property, tls, noise: NoiseKeys::new()?, mcu: McuProfile::default() })
    }
}

/// The door's randomness for a first and a repeat session.
const DOOR_RANDOM: [u8; 16] = [0xD0; 16];
const REPEAT_RANDOM: [u8; 16] = [0xD1; 16];

/// One run and what arrived.
pub struct Run {
    pub exchange: Exchange,
    pub granted_at_phone: bool,
    pub door_granted: bool,
    /// For TLS and Noise: the request bytes the phone sent and those the door decoded.
    pub request_sent: Option<Vec<u8>>,
    pub request_received: Option<Vec<u8>>,
    /// What the door computed.
    pub work: DoorWork,
    /// A repeat unlock that resumed (Keyway's ticket, TLS's PSK).
    pub resumed: bool,
    /// For a repeat unlock: frame bytes of the first unlock that left the ticket.
    pub seeding_bytes: Option<usize>,
}

fn drive_pair(
    cfg: SimConfig,
    phone: &mut dyn Endpoint,
    door: &mut dyn Endpoint,
    phone_setup: Duration,
    door_setup: Duration,
) -> Result<Exchange, String> {
    let mut x = drive(cfg, phone, door).map_err(|e: DriveError| e.to_string())?;
    x.phone_cpu += phone_setup;
    x.door_cpu += door_setup;
    Ok(x)
}

fn bytes_to_decision(x: &Exchange) -> usize {
    x.stats_at_decision.bytes_phone_to_door + x.stats_at_decision.bytes_door_to_phone
}

fn total_bytes(x: &Exchange) -> usize {
    x.stats.bytes_phone_to_door + x.stats.bytes_door_to_phone
}

/// Keyway's door work: public-key operations measured by `crypto_ops()`.
fn keyway_work(before: CryptoOps, whole: CryptoOps, idle: CryptoOps, hmac: u32, x: &Exchange) -> DoorWork {
    DoorWork {
        x25519: before.key_agreements,
        verify: before.verifications,
        sign: before.signatures,
        hmac,
        sign_after: whole.signatures - before.signatures,
        idle_sign: idle.signatures,
        // One offer key per signed offer.
        idle_keygen: idle.signatures,
        source: "measured: DoorEngine::crypto_ops()",
        ..DoorWork::default()
    }
    .with_bytes(bytes_to_decision(x))
}

/// One first unlock of `holder` with `protocol` at `cfg`; `revocations` pending updates ride
/// along (Keyway only: the peers carry only the request).
pub fn run_once(
    ctx: &Context,
    protocol: Protocol,
    holder: HolderKind,
    cfg: SimConfig,
    revocations: u64,
) -> Result<Run, String> {
    let p = &ctx.property;
    let h = p.holder(holder);
    let mut engine = p.door.clone();
    match protocol {
        Protocol::Keyway => {
            let idle = keyway::prepare(&mut engine, DOOR_RANDOM);
            let batch = (revocations > 0).then(|| p.revocations(revocations));
            let (phone, ps) = timed(|| KeywayPhone::new(keyway::params(p, h, batch, PHONE_NONCE, None)));
            let mut phone = phone?;
            let (mut door, ds) = timed(|| KeywayDoor::new(engine, DOOR_RANDOM));
            let exchange = drive_pair(cfg, &mut phone, &mut door, ps, ds)?;
            let outcome = phone.outcome.ok_or("no outcome")?;
            if outcome.updates.seq_after != revocations {
                return Err(format!("door applied {} of {revocations} updates", outcome.updates.seq_after));
            }
            let before = door.ops_before_decision().ok_or("no decision")?;
            let work = keyway_work(before, door.ops_in_session(), idle, hmacs::KEYWAY_FULL, &exchange);
            Ok(Run {
                work,
                granted_at_phone: outcome.granted,
                door_granted: door.access.is_some_and(|a| a.is_granted()),
                exchange,
                request_sent: None,
                request_received: None,
                resumed: false,
                seeding_bytes: None,
            })
        }
        Protocol::Tls13 => {
            let (client, server) = ctx.tls.first(holder);
            let (phone, ps) = timed(|| TlsPhone::new(client, p, h, PHONE_NONCE));
            let mut phone = phone?;
            let (door, ds) = timed(|| TlsDoor::new(server, PeerDoor::new(engine, p.anchors.clone())));
            let mut door = door?;
            let exchange = drive_pair(cfg, &mut phone, &mut door, ps, ds)?;
            // The TLS 1.3 server: ECDHE (its key share made ahead), CertificateVerify signed,
            // the client certificate's CA signature and the client's CertificateVerify
            // verified; then the key chain.
            let work = DoorWork {
                x25519: 1,
                verify: 2 + door.chain_verifications,
                sign: 1,
                hmac: hmacs::TLS_FULL,
                sign_after: 1,
                idle_keygen: 1,
                source: "TLS 1.3 server definition; chain signatures counted",
                ..DoorWork::default()
            }
            .with_bytes(bytes_to_decision(&exchange));
            Ok(Run {
                work,
                exchange,
                granted_at_phone: phone.granted == Some(true),
                door_granted: door.access.is_some_and(|a| a.is_granted()),
                request_sent: phone.request,
                request_received: door.request,
                resumed: false,
                seeding_bytes: None,
            })
        }
        Protocol::NoiseIK | Protocol::NoiseXX => {
            let pattern = if protocol == Protocol::NoiseIK { Pattern::IK } else { Pattern::XX };
            let (phone, ps) = timed(|| NoisePhone::new(pattern, &ctx.noise, p, h));
            let mut phone = phone?;
            let (door, ds) = timed(|| NoiseDoor::new(pattern, &ctx.noise, PeerDoor::new(engine, p.anchors.clone())));
            let mut door = door?;
            let exchange = drive_pair(cfg, &mut phone, &mut door, ps, ds)?;
            // The responder's DHs: IK es, ss, ee, se; XX ee, es, se (its ephemeral made ahead).
            let (x25519, hmac) = match pattern {
                Pattern::IK => (4, hmacs::NOISE_IK),
                Pattern::XX => (3, hmacs::NOISE_XX),
            };
            let work = DoorWork {
                x25519,
                verify: door.chain_verifications,
                hmac,
                sign_after: 1,
                idle_keygen: 1,
                source: "Noise responder pattern; chain signatures counted",
                ..DoorWork::default()
            }
            .with_bytes(bytes_to_decision(&exchange));
            Ok(Run {
                work,
                exchange,
                granted_at_phone: phone.granted == Some(true),
                door_granted: door.access.is_some_and(|a| a.is_granted()),
                request_sent: phone.request,
                request_received: door.request,
                resumed: false,
                seeding_bytes: None,
            })
        }
        Protocol::Tls13Psk => Err("TLS 1.3 PSK resumption is a repeat unlock: use run_repeat".into()),
    }
}

/// One repeat unlock: a first unlock of `holder` at the door (not measured), then the same key
/// at the same door again, measured. Keyway uses the first unlock's ticket; TLS resumes.
pub fn run_repeat(ctx: &Context, protocol: Protocol, holder: HolderKind, cfg: SimConfig) -> Result<Run, String> {
    let p = &ctx.property;
    let h = p.holder(holder);
    let mut engine = p.door.clone();
    match protocol {
        Protocol::Keyway => {
            keyway::prepare(&mut engine, DOOR_RANDOM);
            let mut phone = KeywayPhone::new(keyway::params(p, h, None, PHONE_NONCE, None))?;
            let mut door = KeywayDoor::new(engine, DOOR_RANDOM);
            let first = drive(cfg.clone(), &mut phone, &mut door).map_err(|e| e.to_string())?;
            let ticket = phone.outcome.and_then(|o| o.ticket).ok_or("the first unlock left no ticket")?;
            let mut engine = door.engine;
            // The idle door signs its next offer (the first unlock spent the last one).
            let idle = keyway::prepare(&mut engine, REPEAT_RANDOM);
            let params = keyway::params(p, h, None, REPEAT_NONCE, Some(ticket));
            let (phone, ps) = timed(|| KeywayPhone::new(params));
            let mut phone = phone?;
            let (mut door, ds) = timed(|| KeywayDoor::new(engine, REPEAT_RANDOM));
            let exchange = drive_pair(cfg, &mut phone, &mut door, ps, ds)?;
            let outcome = phone.outcome.ok_or("no outcome")?;
            let before = door.ops_before_decision().ok_or("no decision")?;
            let work = keyway_work(before, door.ops_in_session(), idle, hmacs::KEYWAY_RESUME, &exchange);
            Ok(Run {
                work,
                granted_at_phone: outcome.granted,
                door_granted: door.access.is_some_and(|a| a.is_granted()),
                exchange,
                request_sent: None,
                request_received: None,
                resumed: outcome.resumed,
                seeding_bytes: Some(total_bytes(&first)),
            })
        }
        Protocol::Tls13Psk => {
            let (client, server) = ctx.tls.resumable(holder);
            let mut phone = TlsPhone::new(client.clone(), p, h, PHONE_NONCE)?;
            let mut door = TlsDoor::new(server.clone(), PeerDoor::new(engine, p.anchors.clone()))?;
            let first = drive(cfg.clone(), &mut phone, &mut door).map_err(|e| e.to_string())?;
            if phone.granted != Some(true) {
                return Err("the TLS first unlock was not granted".into());
            }
            let (phone, ps) = timed(|| TlsPhone::new(client, p, h, REPEAT_NONCE));
            let mut phone = phone?;
            let (door, ds) = timed(|| TlsDoor::new(server, door.door));
            let mut door = door?;
            let exchange = drive_pair(cfg, &mut phone, &mut door, ps, ds)?;
            if !(phone.resumed && door.resumed) {
                return Err("rustls did not resume the session".into());
            }
            // The resumed server (psk_dhe_ke): one ECDHE (its key share made ahead), no
            // certificate, no signature; the door's cached chain is checked for revocation and
            // expiry only.
            let work = DoorWork {
                x25519: 1,
                verify: door.chain_verifications,
                hmac: hmacs::TLS_PSK,
                sign_after: 1,
                idle_keygen: 1,
                source: "TLS 1.3 psk_dhe_ke server definition",
                ..DoorWork::default()
            }
            .with_bytes(bytes_to_decision(&exchange));
            Ok(Run {
                work,
                exchange,
                granted_at_phone: phone.granted == Some(true),
                door_granted: door.access.is_some_and(|a| a.is_granted()),
                request_sent: phone.request,
                request_received: door.request,
                resumed: true,
                seeding_bytes: Some(total_bytes(&first)),
            })
        }
        other => Err(format!("{} has no repeat unlock in this report", other.name())),
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// One line of the comparison table.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub unlock: Unlock,
    pub holder: HolderKind,
    pub setting: &'static str,
    pub mtu: usize,
    pub conn_interval_ms: u64,
    pub protocol: Protocol,
    pub bytes_phone_to_door: usize,
    pub bytes_door_to_phone: usize,
    pub frames_phone_to_door: usize,
    pub frames_door_to_phone: usize,
    /// Frame bytes both ways up to the door's decision.
    pub bytes_to_decision: usize,
    pub flights: usize,
    pub flights_to_decision: usize,
    /// Flights to the decision over two.
    pub round_trips_to_decision: f64,
    pub connection_events: usize,
    pub connection_events_to_decision: usize,
    pub decision_ms: u64,
    pub result_ms: u64,
    /// Median over the runs.
    pub phone_cpu_us: f64,
    pub door_cpu_us: f64,
    /// What the door computes (the same in every run).
    pub door_work: DoorWork,
    /// The MCU profile's door CPU before the decision, ms.
    pub mcu_cpu_ms: f64,
    /// Modeled time to open: the link's decision time plus `mcu_cpu_ms`.
    pub open_ms: f64,
    /// The same with a general-purpose library's Ed25519 (5.9 M cycles per verify).
    pub open_ms_slow_ed25519: f64,
    /// The MCU profile's door CPU for the whole session (the receipt signature included), ms.
    pub mcu_session_ms: f64,
    /// For a repeat unlock: frame bytes of the first unlock that left the ticket.
    pub seeding_bytes: Option<usize>,
}

impl Row {
    pub fn total_bytes(&self) -> usize {
        self.bytes_phone_to_door + self.bytes_door_to_phone
    }
}

pub fn measure(
    ctx: &Context,
    protocol: Protocol,
    holder: HolderKind,
    setting: Setting,
    runs: usize,
    unlock: Unlock,
) -> Result<Row, String> {
    let mut phone = Vec::with_capacity(runs);
    let mut door = Vec::with_capacity(runs);
    let mut first: Option<Run> = None;
    for _ in 0..runs.max(1) {
        let run = match unlock {
            Unlock::First => run_once(ctx, protocol, holder, setting.sim(), 0)?,
            Unlock::Repeat => run_repeat(ctx, protocol, holder, setting.sim())?,
        };
        if !(run.granted_at_phone && run.door_granted) {
            return Err(format!("{} {holder:?}: the unlock was not granted", protocol.name()));
        }
        if unlock == Unlock::Repeat && !run.resumed {
            return Err(format!("{} {holder:?}: the repeat unlock did not resume", protocol.name()));
        }
        phone.push(run.exchange.phone_cpu);
        door.push(run.exchange.door_cpu);
        if let Some(f) = &first {
            if f.exchange.stats != run.exchange.stats || f.work != run.work {
                return Err(format!("{}: link cost or door work differs between runs", protocol.name()));
            }
        } else {
            first = Some(run);
        }
    }
    let run = first.ok_or("no run")?;
    let x = &run.exchange;
    let s = &x.stats;
    let mcu = &ctx.mcu;
    let decision_ms = x.door_decided_at.as_millis() as u64;
    let mcu_cpu_ms = mcu.ms_before(&run.work);
    Ok(Row {
        unlock,
        holder,
        setting: setting.name,
        mtu: setting.mtu,
        conn_interval_ms: setting.conn_interval_ms,
        protocol,
        bytes_phone_to_door: s.bytes_phone_to_door,
        bytes_door_to_phone: s.bytes_door_to_phone,
        frames_phone_to_door: s.frames_phone_to_door,
        frames_door_to_phone: s.frames_door_to_phone,
        bytes_to_decision: bytes_to_decision(x),
        flights: x.flights,
        flights_to_decision: x.flights_to_decision,
        round_trips_to_decision: x.flights_to_decision as f64 / 2.0,
        connection_events: s.connection_events,
        connection_events_to_decision: x.events_to_decision,
        decision_ms,
        result_ms: x.completed_at.as_millis() as u64,
        phone_cpu_us: micros(median(phone)),
        door_cpu_us: micros(median(door)),
        door_work: run.work,
        mcu_cpu_ms,
        open_ms: decision_ms as f64 + mcu_cpu_ms,
        open_ms_slow_ed25519: decision_ms as f64 + mcu.slow_ed25519().ms_before(&run.work),
        mcu_session_ms: mcu.ms_session(&run.work),
        seeding_bytes: run.seeding_bytes,
    })
}

/// Keyway's figure over a peer's, per protocol and setting.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    pub unlock: Unlock,
    pub holder: HolderKind,
    pub setting: &'static str,
    pub peer: Protocol,
    pub bytes: f64,
    pub decision_time: f64,
    pub open_time: f64,
    pub phone_cpu: f64,
    pub door_cpu: f64,
}

pub fn ratios(rows: &[Row]) -> Vec<Ratio> {
    let mut out = Vec::new();
    for k in rows.iter().filter(|r| r.protocol == Protocol::Keyway) {
        let peers = rows.iter().filter(|r| {
            r.protocol != Protocol::Keyway && r.holder == k.holder && r.setting == k.setting && r.unlock == k.unlock
        });
        for peer in peers {
            out.push(Ratio {
                unlock: k.unlock,
                holder: k.holder,
                setting: k.setting,
                peer: peer.protocol,
                bytes: k.total_bytes() as f64 / peer.total_bytes() as f64,
                decision_time: k.decision_ms as f64 / peer.decision_ms as f64,
                open_time: k.open_ms / peer.open_ms,
                phone_cpu: k.phone_cpu_us / peer.phone_cpu_us,
                door_cpu: k.door_cpu_us / peer.door_cpu_us,
            });
        }
    }
    out
}

/// Carrying `revocations` pending revocations inside a resident's unlock.
#[derive(Clone, Debug, Serialize)]
pub struct UpdateRow {
    pub revocations: u64,
    pub setting: &'static str,
    pub mtu: usize,
    pub conn_interval_ms: u64,
    /// The signed batch message as carried (before sealing).
    pub batch_bytes: usize,
    pub batch_frames: usize,
    /// Frame bytes up (request + batch) and down (challenge + result).
    pub bytes_phone_to_door: usize,
    pub bytes_door_to_phone: usize,
    /// Up-link bytes beyond the same unlock without updates.
    pub extra_bytes_up: usize,
    pub connection_events: usize,
    pub decision_ms: u64,
    /// The phone holds the receipt for the applied updates.
    pub result_ms: u64,
    pub batch_bytes_per_revocation: f64,
}

pub fn updates(ctx: &Context, setting: Setting, counts: &[u64]) -> Result<Vec<UpdateRow>, String> {
    let bare =
        run_once(ctx, Protocol::Keyway, HolderKind::Resident, setting.sim(), 0)?.exchange.stats.bytes_phone_to_door;
    counts
        .iter()
        .map(|&n| {
            let run = run_once(ctx, Protocol::Keyway, HolderKind::Resident, setting.sim(), n)?;
            if !run.granted_at_phone {
                return Err(format!("unlock with {n} revocations not granted"));
            }
            let batch_bytes = ctx.property.revocations(n).to_bytes().len();
            let s = &run.exchange.stats;
            Ok(UpdateRow {
                revocations: n,
                setting: setting.name,
                mtu: setting.mtu,
                conn_interval_ms: setting.conn_interval_ms,
                batch_bytes,
                batch_frames: frame::frame_count(batch_bytes + TAG_LEN, setting.mtu).map_err(|e| e.to_string())?,
                bytes_phone_to_door: s.bytes_phone_to_door,
                bytes_door_to_phone: s.bytes_door_to_phone,
                extra_bytes_up: s.bytes_phone_to_door.saturating_sub(bare),
                connection_events: s.connection_events,
                decision_ms: run.exchange.door_decided_at.as_millis() as u64,
                result_ms: run.exchange.completed_at.as_millis() as u64,
                batch_bytes_per_revocation: batch_bytes as f64 / n as f64,
            })
        })
        .collect()
}

/// The length of Keyway's full request for `chain` (no batch): the sealed body is the encoded
/// body plus the AEAD tag, so this is exact.
pub fn keyway_request_len(chain: &KeyChain) -> Result<usize, String> {
    let chain = BoundedBytes::new(chain.to_bytes()).ok_or("chain too long")?;
    let body = RequestBody { phone_nonce: [0; 16], activity_after: 0, chain, batch_digest: None };
    let sealed = BoundedBytes::new(vec![0; codec::encode(&body).len() + TAG_LEN]).ok_or("request too long")?;
    let request = UnlockRequest { version: PROTOCOL_VERSION, ephemeral: [0; 32], sealed, proof: [0; PROOF_LEN] };
    Ok(request.to_bytes().len())
}

/// The length of Keyway's resume request (no batch).
pub fn keyway_resume_len() -> Result<usize, String> {
    let body = ResumeBody { phone_nonce: [0; 16], activity_after: 0, batch_digest: None };
    let sealed = BoundedBytes::new(vec![0; codec::encode(&body).len() + TAG_LEN]).ok_or("request too long")?;
    Ok(ResumeRequest { version: PROTOCOL_VERSION, ticket: [0; 16], sealed }.to_bytes().len())
}

/// Request sizes (the message, before framing).
#[derive(Clone, Debug, Serialize)]
pub struct RequestSize {
    pub holder: HolderKind,
    /// Keyway's `UnlockRequest` (ephemeral key, sealed body, proof tag).
    pub request_bytes: usize,
    /// The peers' payload inside their channel (`RequestBody`).
    pub peer_payload_bytes: usize,
    pub chain_bytes: usize,
}

pub fn request_sizes(ctx: &Context) -> Result<Vec<RequestSize>, String> {
    [HolderKind::Resident, HolderKind::Guest]
        .into_iter()
        .map(|kind| {
            let h = ctx.property.holder(kind);
            Ok(RequestSize {
                holder: kind,
                request_bytes: keyway_request_len(&h.chain)?,
                peer_payload_bytes: app::build_request(h, true, PHONE_NONCE)?.len(),
                chain_bytes: h.chain.to_bytes().len(),
            })
        })
        .collect()
}

/// One of issue 15's targets (or goals) checked against the rows.
#[derive(Clone, Debug, Serialize)]
pub struct Target {
    pub target: String,
    pub setting: &'static str,
    pub measured: String,
    pub met: bool,
}

fn find(rows: &[Row], unlock: Unlock, protocol: Protocol, setting: &str) -> Result<Row, String> {
    rows.iter()
        .find(|r| {
            r.unlock == unlock && r.protocol == protocol && r.holder == HolderKind::Resident && r.setting == setting
        })
        .cloned()
        .ok_or_else(|| format!("no {unlock:?} {} row at {setting}", protocol.name()))
}

/// Issue 15's targets, per setting, from the resident rows.
pub fn targets(rows: &[Row]) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    for s in SETTINGS {
        let first = find(rows, Unlock::First, Protocol::Keyway, s.name)?;
        let tls = find(rows, Unlock::First, Protocol::Tls13, s.name)?;
        let repeat = find(rows, Unlock::Repeat, Protocol::Keyway, s.name)?;
        let psk = find(rows, Unlock::Repeat, Protocol::Tls13Psk, s.name)?;
        let limit = 2.0 * s.conn_interval_ms as f64 + 5.0;
        out.push(Target {
            target: format!("repeat unlock open ≤ 2 connection intervals + 5 ms door CPU ({limit:.0} ms)"),
            setting: s.name,
            measured: format!(
                "{:.1} ms = {} ms link ({} intervals) + {:.2} ms door CPU",
                repeat.open_ms,
                repeat.decision_ms,
                repeat.decision_ms as f64 / s.conn_interval_ms as f64,
                repeat.mcu_cpu_ms
            ),
            met: repeat.open_ms <= limit && repeat.mcu_cpu_ms <= 5.0,
        });
        let factor = tls.total_bytes() as f64 / first.total_bytes() as f64;
        out.push(Target {
            target: "first resident unlock: ≥ 5× fewer bytes than TLS 1.3 mutual".into(),
            setting: s.name,
            measured: format!("{} B vs {} B = {factor:.2}×", first.total_bytes(), tls.total_bytes()),
            met: factor >= 5.0,
        });
        out.push(Target {
            target: "repeat unlock: fewer bytes than TLS 1.3 PSK resumption".into(),
            setting: s.name,
            measured: format!(
                "{} B vs {} B = {:.2}×",
                repeat.total_bytes(),
                psk.total_bytes(),
                psk.total_bytes() as f64 / repeat.total_bytes() as f64
            ),
            met: repeat.total_bytes() < psk.total_bytes(),
        });
        out.push(Target {
            target: "repeat unlock: no public-key operation at the door before actuation".into(),
            setting: s.name,
            measured: format!("{} (crypto_ops)", repeat.door_work.public_key_ops()),
            met: repeat.door_work.public_key_ops() == 0,
        });
        out.push(Target {
            target:
                "first resident unlock: ≤ 1 signature verification + the key agreement, no signature, before actuation"
                    .into(),
            setting: s.name,
            measured: format!(
                "{} verify, {} X25519, {} sign (crypto_ops)",
                first.door_work.verify, first.door_work.x25519, first.door_work.sign
            ),
            met: first.door_work.verify <= 1 && first.door_work.sign == 0,
        });
    }
    let resume = keyway_resume_len()?;
    let frames = frame::frame_count(resume, 185).map_err(|e| e.to_string())?;
    out.push(Target {
        target: "repeat unlock request fits one ATT packet at MTU 185".into(),
        setting: "MTU 185",
        measured: format!("{resume} B, {frames} frame(s)"),
        met: frames == 1,
    });
    Ok(out)
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub runs_per_row: usize,
    pub frames_per_event: usize,
    pub latency_ms: u64,
    pub tls_certificate_der_bytes: [usize; 3],
    /// The PSK key exchange mode the rustls run used.
    pub tls_psk_mode: &'static str,
    pub requests: Vec<RequestSize>,
    pub resume_request_bytes: usize,
    /// First unlocks.
    pub rows: Vec<Row>,
    pub ratios: Vec<Ratio>,
    /// Repeat unlocks (resident).
    pub repeat_rows: Vec<Row>,
    pub repeat_ratios: Vec<Ratio>,
    pub mcu: McuProfile,
    pub mcu_sources: Vec<(&'static str, &'static str)>,
    pub targets: Vec<Target>,
    pub updates: Vec<UpdateRow>,
    /// Batch bytes per revocation beyond the first: (batch(1000) - batch(1)) / 999.
    pub marginal_bytes_per_revocation: f64,
}

pub fn build(ctx: &Context, runs: usize) -> Result<Report, String> {
    let mut rows = Vec::new();
    for holder in [HolderKind::Resident, HolderKind::Guest] {
        for setting in SETTINGS {
            for protocol in PROTOCOLS {
                rows.push(measure(ctx, protocol, holder, setting, runs, Unlock::First)?);
            }
        }
    }
    let mut repeat_rows = Vec::new();
    for setting in SETTINGS {
        for protocol in REPEAT_PROTOCOLS {
            repeat_rows.push(measure(ctx, protocol, HolderKind::Resident, setting, runs, Unlock::Repeat)?);
        }
    }
    let mut update_rows = Vec::new();
    for setting in SETTINGS {
        update_rows.extend(updates(ctx, setting, &[1, 100, 1000])?);
    }
    let all: Vec<Row> = rows.iter().chain(&repeat_rows).cloned().collect();
    let b1 = ctx.property.revocations(1).to_bytes().len() as f64;
    let b1000 = ctx.property.revocations(1000).to_bytes().len() as f64;
    let d = SimConfig::default();
    Ok(Report {
        runs_per_row: runs,
        frames_per_event: d.frames_per_event,
        latency_ms: d.latency_ms,
        tls_certificate_der_bytes: ctx.tls.cert_sizes,
        tls_psk_mode: "psk_dhe_ke",
        requests: request_sizes(ctx)?,
        resume_request_bytes: keyway_resume_len()?,
        ratios: ratios(&rows),
        repeat_ratios: ratios(&repeat_rows),
        targets: targets(&all)?,
        rows,
        repeat_rows,
        mcu: ctx.mcu.clone(),
        mcu_sources: McuProfile::SOURCES.to_vec(),
        updates: update_rows,
        marginal_bytes_per_revocation: (b1000 - b1) / 999.0,
    })
}

fn link_table(o: &mut String, rows: &[Row]) {
    use std::fmt::Write;
    let _ = writeln!(
        o,
        "| holder | setting | protocol | bytes up | bytes down | frames up/down | flights | RTT to decision | conn. events (to decision) | decision ms | result ms | phone CPU µs | door CPU µs |"
    );
    let _ = writeln!(o, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for x in rows {
        let _ = writeln!(
            o,
            "| {:?} | {} {} ms/MTU {} | {} | {} | {} | {}/{} | {} | {:.1} | {} ({}) | {} | {} | {:.0} | {:.0} |",
            x.holder,
            x.setting,
            x.conn_interval_ms,
            x.mtu,
            x.protocol.name(),
            x.bytes_phone_to_door,
            x.bytes_door_to_phone,
            x.frames_phone_to_door,
            x.frames_door_to_phone,
            x.flights,
            x.round_trips_to_decision,
            x.connection_events,
            x.connection_events_to_decision,
            x.decision_ms,
            x.result_ms,
            x.phone_cpu_us,
            x.door_cpu_us
        );
    }
}

fn ratio_table(o: &mut String, ratios: &[Ratio]) {
    use std::fmt::Write;
    let _ = writeln!(
        o,
        "| holder | setting | peer | bytes | time to decision | modeled time to open (M4) | phone CPU | door CPU |"
    );
    let _ = writeln!(o, "|---|---|---|---:|---:|---:|---:|---:|");
    for x in ratios {
        let _ = writeln!(
            o,
            "| {:?} | {} | {} | {:.2} (1/{:.1}) | {:.2} | {:.2} | {:.2} | {:.2} |",
            x.holder,
            x.setting,
            x.peer.name(),
            x.bytes,
            1.0 / x.bytes,
            x.decision_time,
            x.open_time,
            x.phone_cpu,
            x.door_cpu
        );
    }
}

fn mcu_table(o: &mut String, rows: &[Row]) {
    use std::fmt::Write;
    let _ = writeln!(
        o,
        "| unlock | holder | setting | protocol | X25519 | verify | sign | HMAC | SHA-256 blocks | AEAD B | sign after | idle sign/keygen | door CPU ms | link decision ms | **open ms** | open ms, verify 5.9 M | session CPU ms |"
    );
    let _ = writeln!(o, "|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for x in rows {
        let w = &x.door_work;
        let _ = writeln!(
            o,
            "| {:?} | {:?} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} | {:.2} | {} | **{:.1}** | {:.1} | {:.2} |",
            x.unlock,
            x.holder,
            x.setting,
            x.protocol.name(),
            w.x25519,
            w.verify,
            w.sign,
            w.hmac,
            w.sha256_blocks,
            w.aead_bytes,
            w.sign_after,
            w.idle_sign,
            w.idle_keygen,
            x.mcu_cpu_ms,
            x.decision_ms,
            x.open_ms,
            x.open_ms_slow_ed25519,
            x.mcu_session_ms
        );
    }
}

/// The report as text tables.
pub fn render(r: &Report) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Simulated BLE link: {} packets per direction per connection event, {} ms stack latency, no loss; CPU: median of {} runs, both sides.",
        r.frames_per_event, r.latency_ms, r.runs_per_row
    );
    for q in &r.requests {
        let _ = writeln!(
            o,
            "{:?} unlock request: Keyway {} bytes sealed (key chain {} bytes); the peers' payload inside their channel {} bytes",
            q.holder, q.request_bytes, q.chain_bytes, q.peer_payload_bytes
        );
    }
    let _ = writeln!(o, "Keyway resume request (repeat unlock): {} bytes", r.resume_request_bytes);
    let c = r.tls_certificate_der_bytes;
    let _ = writeln!(o, "TLS certificates (DER): CA {} B, door {} B, phone {} B", c[0], c[1], c[2]);
    let _ = writeln!(o);
    let _ = writeln!(o, "First unlock:");
    link_table(&mut o, &r.rows);
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "Repeat unlock (the same key at the same door after a first unlock; TLS resumes with {}):",
        r.tls_psk_mode
    );
    link_table(&mut o, &r.repeat_rows);
    for x in &r.repeat_rows {
        if let Some(b) = x.seeding_bytes {
            let _ = writeln!(
                o,
                "  {} {}: the first unlock that left the ticket cost {} B",
                x.protocol.name(),
                x.setting,
                b
            );
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "Keyway / peer, first unlock (below 1: Keyway uses less):");
    ratio_table(&mut o, &r.ratios);
    let _ = writeln!(o);
    let _ = writeln!(o, "Keyway / peer, repeat unlock:");
    ratio_table(&mut o, &r.repeat_ratios);
    let _ = writeln!(o);
    let m = &r.mcu;
    let _ = writeln!(
        o,
        "Door MCU profile \"{}\" ({} Hz): Ed25519 verify {} cycles, sign {}, X25519 {}, SHA-256 {} per 64-byte block, ChaCha20-Poly1305 {} per byte, HMAC-SHA256 {} per message.",
        m.name, m.clock_hz, m.ed25519_verify, m.ed25519_sign, m.x25519, m.sha256_block, m.aead_per_byte, m.hmac_message
    );
    let _ = writeln!(o, "Defaults are published orders of magnitude, not measurements:");
    for (what, source) in &r.mcu_sources {
        let _ = writeln!(o, "- {what}: {source}");
    }
    let _ = writeln!(
        o,
        "Operations before the decision (the lock actuates on it); Keyway's public-key counts measured by crypto_ops(), the peers' from their protocol definitions plus the chain signatures the door verified; symmetric work estimated (HMACs of each key schedule, SHA-256 and AEAD over every byte up to the decision). Modeled time to open = link decision ms + door CPU ms."
    );
    mcu_table(&mut o, &r.rows.iter().chain(&r.repeat_rows).cloned().collect::<Vec<_>>());
    let _ = writeln!(o);
    let _ = writeln!(o, "Issue 15 targets (resident):");
    let _ = writeln!(o, "| target | setting | measured | verdict |");
    let _ = writeln!(o, "|---|---|---|---|");
    for t in &r.targets {
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} |",
            t.target,
            t.setting,
            t.measured,
            if t.met { "met" } else { "**NOT met**" }
        );
    }
    let _ = writeln!(o);
    let _ = writeln!(o, "Door updates carried inside a resident's Keyway unlock:");
    let _ = writeln!(
        o,
        "| revocations | setting | batch bytes | batch frames | bytes up (total) | extra bytes up | bytes down | conn. events | decision ms | result ms | batch B/revocation |"
    );
    let _ = writeln!(o, "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for u in &r.updates {
        let _ = writeln!(
            o,
            "| {} | {} {} ms/MTU {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} |",
            u.revocations,
            u.setting,
            u.conn_interval_ms,
            u.mtu,
            u.batch_bytes,
            u.batch_frames,
            u.bytes_phone_to_door,
            u.extra_bytes_up,
            u.bytes_door_to_phone,
            u.connection_events,
            u.decision_ms,
            u.result_ms,
            u.batch_bytes_per_revocation
        );
    }
    let _ = writeln!(o, "Marginal batch bytes per revocation: {:.2}", r.marginal_bytes_per_revocation);
    o
}
