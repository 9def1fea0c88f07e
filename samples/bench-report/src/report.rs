//! The report: each protocol over the same simulated link at the two phone settings, and the
//! cost of carrying door updates inside an unlock.

use crate::driver::{DriveError, Endpoint, Exchange, drive, timed};
use crate::keyway::{KeywayDoor, KeywayPhone};
use crate::noise::{NoiseDoor, NoiseKeys, NoisePhone, Pattern};
use crate::property::{DOOR, HolderKind, Property};
use crate::tls::{TlsDoor, TlsPhone, TlsSetup};
use keyway_protocol::unlock::frame;
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
}

pub const PROTOCOLS: [Protocol; 4] = [Protocol::Keyway, Protocol::Tls13, Protocol::NoiseIK, Protocol::NoiseXX];

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Keyway => "Keyway",
            Protocol::Tls13 => "TLS 1.3 mutual",
            Protocol::NoiseIK => "Noise IK",
            Protocol::NoiseXX => "Noise XX",
        }
    }
}

/// Everything the protocols need, built once.
pub struct Context {
    pub property: Property,
    pub tls: TlsSetup,
    pub noise: NoiseKeys,
}

impl Context {
    pub fn new() -> Result<Self, String> {
        Ok(Context { property: Property::new(), tls: TlsSetup::new()?, noise: NoiseKeys::new()? })
    }
}

/// One run and what arrived.
pub struct Run {
    pub exchange: Exchange,
    pub granted_at_phone: bool,
    pub door_granted: bool,
    /// For TLS and Noise: the request bytes the phone sent and those the door decoded.
    pub request_sent: Option<Vec<u8>>,
    pub request_received: Option<Vec<u8>>,
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

/// One unlock of `holder` with `protocol` at `cfg`; `revocations` pending updates ride along
/// (Keyway only: the peers carry only the request).
pub fn run_once(
    ctx: &Context,
    protocol: Protocol,
    holder: HolderKind,
    cfg: SimConfig,
    revocations: u64,
) -> Result<Run, String> {
    let p = &ctx.property;
    let h = p.holder(holder);
    let engine = p.door.clone();
    match protocol {
        Protocol::Keyway => {
            let batch = (revocations > 0).then(|| p.revocations(revocations));
            let (phone, ps) = timed(|| KeywayPhone::new(p, h, batch));
            let mut phone = phone?;
            let (mut door, ds) = timed(|| KeywayDoor::new(engine, [0xD0; 16]));
            let exchange = drive_pair(cfg, &mut phone, &mut door, ps, ds)?;
            let outcome = phone.outcome.ok_or("no outcome")?;
            if outcome.updates.seq_after != revocations {
                return Err(format!("door applied {} of {revocations} updates", outcome.updates.seq_after));
            }
            Ok(Run {
                exchange,
                granted_at_phone: outcome.granted,
                door_granted: door.access.is_some_and(|a| a.is_granted()),
                request_sent: None,
                request_received: None,
            })
        }
        Protocol::Tls13 => {
            let (phone, ps) = timed(|| TlsPhone::new(&ctx.tls, p, h));
            let mut phone = phone?;
            let (door, ds) = timed(|| TlsDoor::new(&ctx.tls, engine));
            let mut door = door?;
            let exchange = drive_pair(cfg, &mut phone, &mut door, ps, ds)?;
            Ok(Run {
                exchange,
                granted_at_phone: phone.granted == Some(true),
                door_granted: door.access.is_some_and(|a| a.is_granted()),
                request_sent: phone.request,
                request_received: door.request,
            })
        }
        Protocol::NoiseIK | Protocol::NoiseXX => {
            let pattern = if protocol == Protocol::NoiseIK { Pattern::IK } else { Pattern::XX };
            let (phone, ps) = timed(|| NoisePhone::new(pattern, &ctx.noise, p, h));
            let mut phone = phone?;
            let (door, ds) = timed(|| NoiseDoor::new(pattern, &ctx.noise, engine));
            let mut door = door?;
            let exchange = drive_pair(cfg, &mut phone, &mut door, ps, ds)?;
            Ok(Run {
                exchange,
                granted_at_phone: phone.granted == Some(true),
                door_granted: door.access.is_some_and(|a| a.is_granted()),
                request_sent: phone.request,
                request_received: door.request,
            })
        }
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
    pub holder: HolderKind,
    pub setting: &'static str,
    pub mtu: usize,
    pub conn_interval_ms: u64,
    pub protocol: Protocol,
    pub bytes_phone_to_door: usize,
    pub bytes_door_to_phone: usize,
    pub frames_phone_to_door: usize,
    pub frames_door_to_phone: usize,
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
) -> Result<Row, String> {
    let mut phone = Vec::with_capacity(runs);
    let mut door = Vec::with_capacity(runs);
    let mut first: Option<Exchange> = None;
    for _ in 0..runs.max(1) {
        let run = run_once(ctx, protocol, holder, setting.sim(), 0)?;
        if !(run.granted_at_phone && run.door_granted) {
            return Err(format!("{} {holder:?}: the unlock was not granted", protocol.name()));
        }
        phone.push(run.exchange.phone_cpu);
        door.push(run.exchange.door_cpu);
        if let Some(f) = &first {
            if f.stats != run.exchange.stats {
                return Err(format!("{}: link cost differs between runs", protocol.name()));
            }
        } else {
            first = Some(run.exchange);
        }
    }
    let x = first.ok_or("no run")?;
    let s = &x.stats;
    Ok(Row {
        holder,
        setting: setting.name,
        mtu: setting.mtu,
        conn_interval_ms: setting.conn_interval_ms,
        protocol,
        bytes_phone_to_door: s.bytes_phone_to_door,
        bytes_door_to_phone: s.bytes_door_to_phone,
        frames_phone_to_door: s.frames_phone_to_door,
        frames_door_to_phone: s.frames_door_to_phone,
        flights: x.flights,
        flights_to_decision: x.flights_to_decision,
        round_trips_to_decision: x.flights_to_decision as f64 / 2.0,
        connection_events: s.connection_events,
        connection_events_to_decision: x.events_to_decision,
        decision_ms: x.door_decided_at.as_millis() as u64,
        result_ms: x.completed_at.as_millis() as u64,
        phone_cpu_us: micros(median(phone)),
        door_cpu_us: micros(median(door)),
    })
}

/// Keyway's figure over a peer's, per protocol and setting.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    pub holder: HolderKind,
    pub setting: &'static str,
    pub peer: Protocol,
    pub bytes: f64,
    pub decision_time: f64,
    pub phone_cpu: f64,
    pub door_cpu: f64,
}

pub fn ratios(rows: &[Row]) -> Vec<Ratio> {
    let mut out = Vec::new();
    for k in rows.iter().filter(|r| r.protocol == Protocol::Keyway) {
        for peer in
            rows.iter().filter(|r| r.protocol != Protocol::Keyway && r.holder == k.holder && r.setting == k.setting)
        {
            out.push(Ratio {
                holder: k.holder,
                setting: k.setting,
                peer: peer.protocol,
                bytes: k.total_bytes() as f64 / peer.total_bytes() as f64,
                decision_time: k.decision_ms as f64 / peer.decision_ms as f64,
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
    /// The signed batch message as carried.
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
                batch_frames: frame::frame_count(batch_bytes, setting.mtu).map_err(|e| e.to_string())?,
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

/// Request sizes (the message, before framing).
#[derive(Clone, Debug, Serialize)]
pub struct RequestSize {
    pub holder: HolderKind,
    pub request_bytes: usize,
    pub chain_bytes: usize,
}

pub fn request_sizes(ctx: &Context) -> Result<Vec<RequestSize>, String> {
    [HolderKind::Resident, HolderKind::Guest]
        .into_iter()
        .map(|kind| {
            let h = ctx.property.holder(kind);
            let bytes = crate::app::build_request(h, DOOR, [0; 16])?;
            Ok(RequestSize { holder: kind, request_bytes: bytes.len(), chain_bytes: h.chain.to_bytes().len() })
        })
        .collect()
}

/// The whole report.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub runs_per_row: usize,
    pub frames_per_event: usize,
    pub latency_ms: u64,
    pub tls_certificate_der_bytes: [usize; 3],
    pub requests: Vec<RequestSize>,
    pub rows: Vec<Row>,
    pub ratios: Vec<Ratio>,
    pub updates: Vec<UpdateRow>,
    /// Batch bytes per revocation beyond the first: (batch(1000) - batch(1)) / 999.
    pub marginal_bytes_per_revocation: f64,
}

pub fn build(ctx: &Context, runs: usize) -> Result<Report, String> {
    let mut rows = Vec::new();
    for holder in [HolderKind::Resident, HolderKind::Guest] {
        for setting in SETTINGS {
            for protocol in PROTOCOLS {
                rows.push(measure(ctx, protocol, holder, setting, runs)?);
            }
        }
    }
    let mut update_rows = Vec::new();
    for setting in SETTINGS {
        update_rows.extend(updates(ctx, setting, &[1, 100, 1000])?);
    }
    let b1 = ctx.property.revocations(1).to_bytes().len() as f64;
    let b1000 = ctx.property.revocations(1000).to_bytes().len() as f64;
    let d = SimConfig::default();
    Ok(Report {
        runs_per_row: runs,
        frames_per_event: d.frames_per_event,
        latency_ms: d.latency_ms,
        tls_certificate_der_bytes: ctx.tls.cert_sizes,
        requests: request_sizes(ctx)?,
        ratios: ratios(&rows),
        rows,
        updates: update_rows,
        marginal_bytes_per_revocation: (b1000 - b1) / 999.0,
    })
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
        let _ =
            writeln!(o, "{:?} unlock request: {} bytes (key chain {} bytes)", q.holder, q.request_bytes, q.chain_bytes);
    }
    let c = r.tls_certificate_der_bytes;
    let _ = writeln!(o, "TLS certificates (DER): CA {} B, door {} B, phone {} B", c[0], c[1], c[2]);
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "| holder | setting | protocol | bytes up | bytes down | frames up/down | flights | RTT to decision | conn. events (to decision) | decision ms | result ms | phone CPU µs | door CPU µs |"
    );
    let _ = writeln!(o, "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for x in &r.rows {
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
    let _ = writeln!(o);
    let _ = writeln!(o, "Keyway / peer (below 1: Keyway uses less):");
    let _ = writeln!(o, "| holder | setting | peer | bytes | time to decision | phone CPU | door CPU |");
    let _ = writeln!(o, "|---|---|---|---:|---:|---:|---:|");
    for x in &r.ratios {
        let _ = writeln!(
            o,
            "| {:?} | {} | {} | {:.2} (1/{:.1}) | {:.2} | {:.2} | {:.2} |",
            x.holder,
            x.setting,
            x.peer.name(),
            x.bytes,
            1.0 / x.bytes,
            x.decision_time,
            x.phone_cpu,
            x.door_cpu
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
