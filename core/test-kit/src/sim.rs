//! A simulated BLE connection: in memory, deterministic, driven by a modeled clock.
//!
//! The model: connection events happen every `conn_interval_ms`; in each event each direction
//! carries at most `frames_per_event` frames (ATT writes without response / notifications). A
//! frame becomes ready `latency_ms` after its sender produced it and goes in the first event at
//! or after that with room left. A lost packet (seeded, `loss_per_mille`) is retransmitted by the
//! link layer in the next slot, as BLE does, or, with `drop_lost`, vanishes (to exercise the
//! reassembler's missing-frame detection). `disconnect_after_bytes` drops the connection when the
//! frame bytes carried (both directions) would exceed it. Nothing reads the system clock, so a
//! run is a pure function of its inputs.
//!
//! Two ways to use it:
//! - [`SimPair::run`]: drives a [`PhoneSession`] and a [`DoorSession`] against each other
//!   (quinn-proto test-pair style) and returns the outcome, the door's decision, every delivered
//!   frame and the [`LinkStats`].
//! - [`SimDoorLink`]: a [`Link`] for the phone side that hosts a shared door
//!   (`Arc<Mutex<DoorEngine>>`); the door processes frames as they are delivered, so the wallet
//!   can unlock a simulated door through [`keyway_link::run_unlock`].
//! - [`SimChannel`]: the connection model on its own, for drivers of other protocols (the
//!   benchmark report runs TLS and Noise handshakes over it, with the same timing).

use keyway_link::{Link, LinkError};
use keyway_protocol::UnixTime;
use keyway_protocol::door::DoorEngine;
use keyway_protocol::door::{DoorSession, DoorSessionError};
use keyway_protocol::unlock::frame::{ATT_OVERHEAD, MAX_MTU, MIN_MTU};
use keyway_protocol::unlock::{Access, PhoneSession, ProtocolError, UnlockOutcome};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// ATT MTU (23..=517).
    pub mtu: usize,
    pub conn_interval_ms: u64,
    /// Stack and processing delay before a produced frame can be sent.
    pub latency_ms: u64,
    /// Frames each direction carries per connection event.
    pub frames_per_event: usize,
    /// Chance per frame transmission, in thousandths, that the packet is lost.
    pub loss_per_mille: u16,
    /// Lost packets vanish instead of being retransmitted by the link layer.
    pub drop_lost: bool,
    pub seed: u64,
    pub disconnect_after_bytes: Option<usize>,
}

impl Default for SimConfig {
    /// A typical phone connection: MTU 247, 30 ms interval, 4 packets per event each way.
    fn default() -> Self {
        SimConfig {
            mtu: 247,
            conn_interval_ms: 30,
            latency_ms: 2,
            frames_per_event: 4,
            loss_per_mille: 0,
            drop_lost: false,
            seed: 1,
            disconnect_after_bytes: None,
        }
    }
}

impl SimConfig {
    pub fn with_mtu(mtu: usize) -> Self {
        SimConfig { mtu, ..Default::default() }
    }
}

/// What a simulated connection carried.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frame bytes (headers included, ATT overhead excluded).
    pub bytes_phone_to_door: usize,
    pub bytes_door_to_phone: usize,
    pub frames_phone_to_door: usize,
    pub frames_door_to_phone: usize,
    /// Distinct connection events that carried at least one frame.
    pub connection_events: usize,
    pub retransmissions: usize,
    pub frames_dropped: usize,
    pub disconnected: bool,
    /// Modeled time from connection to the last delivered frame.
    pub modeled_time: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Direction {
    PhoneToDoor,
    DoorToPhone,
}

/// The connection model (timing, loss, disconnect, statistics) shared by [`SimPair`],
/// [`SimDoorLink`] and any other driver: it schedules frames, it does not carry them.
#[derive(Debug)]
pub struct SimChannel {
    cfg: SimConfig,
    rng: u64,
    stats: LinkStats,
    events: BTreeSet<u64>,
    /// Per direction: the last event used and how many frames it carried.
    slot: [(u64, usize); 2],
    bytes: usize,
}

impl SimChannel {
    pub fn new(mut cfg: SimConfig) -> Self {
        cfg.mtu = cfg.mtu.clamp(MIN_MTU, MAX_MTU);
        cfg.conn_interval_ms = cfg.conn_interval_ms.max(1);
        cfg.frames_per_event = cfg.frames_per_event.max(1);
        let rng = cfg.seed ^ 0x9E37_79B9_7F4A_7C15;
        SimChannel { cfg, rng, stats: LinkStats::default(), events: BTreeSet::new(), slot: [(0, 0); 2], bytes: 0 }
    }

    /// The configuration in force (MTU, interval and packets per event clamped to valid values).
    pub fn config(&self) -> &SimConfig {
        &self.cfg
    }

    /// Largest frame the connection carries (MTU minus the ATT header).
    pub fn max_frame(&self) -> usize {
        self.cfg.mtu - ATT_OVERHEAD
    }

    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// SplitMix64.
    fn next_random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_slot(&mut self, dir: Direction, ready_ms: u64) -> u64 {
        let interval = self.cfg.conn_interval_ms;
        let (last, count) = &mut self.slot[dir as usize];
        let earliest = ready_ms.div_ceil(interval);
        if earliest > *last {
            *last = earliest;
            *count = 0;
        } else if *count >= self.cfg.frames_per_event {
            *last += 1;
            *count = 0;
        }
        *count += 1;
        *last
    }

    /// Schedules a frame of `len` bytes that its sender has ready at `ready_ms` (modeled
    /// milliseconds since the connection); returns its delivery time, or `None` if it was lost
    /// for good or the connection dropped while carrying it.
    pub fn transmit(&mut self, dir: Direction, len: usize, ready_ms: u64) -> Result<Option<u64>, LinkError> {
        if self.stats.disconnected {
            return Err(LinkError::Disconnected);
        }
        if len > self.max_frame() {
            return Err(LinkError::FrameTooLarge { len, max: self.max_frame() });
        }
        if self.cfg.disconnect_after_bytes.is_some_and(|n| self.bytes + len > n) {
            self.stats.disconnected = true;
            return Ok(None);
        }
        let mut event = self.next_slot(dir, ready_ms);
        self.events.insert(event);
        while self.next_random() % 1000 < u64::from(self.cfg.loss_per_mille) {
            if self.cfg.drop_lost {
                self.stats.frames_dropped += 1;
                self.stats.connection_events = self.events.len();
                return Ok(None);
            }
            self.stats.retransmissions += 1;
            event = self.next_slot(dir, event * self.cfg.conn_interval_ms + 1);
            self.events.insert(event);
        }
        self.bytes += len;
        match dir {
            Direction::PhoneToDoor => {
                self.stats.bytes_phone_to_door += len;
                self.stats.frames_phone_to_door += 1;
            }
            Direction::DoorToPhone => {
                self.stats.bytes_door_to_phone += len;
                self.stats.frames_door_to_phone += 1;
            }
        }
        let at = event * self.cfg.conn_interval_ms;
        self.stats.connection_events = self.events.len();
        self.stats.modeled_time = self.stats.modeled_time.max(Duration::from_millis(at));
        Ok(Some(at))
    }
}

fn door_time(start: UnixTime, ms: u64) -> UnixTime {
    start.saturating_add_secs(ms / 1000)
}

// ---------------------------------------------------------------------------------------------
// Test pair

/// Why a simulated run did not produce an outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimFailure {
    Phone(ProtocolError),
    Door(DoorSessionError),
    Link(LinkError),
    /// Nothing left in flight and no outcome (e.g. the last frame was dropped).
    Stalled,
}

/// The result of [`SimPair::run`].
#[derive(Debug, Clone)]
pub struct SimRun {
    pub outcome: Result<UnlockOutcome, SimFailure>,
    /// The door's decision, if it made one (it may have opened even if the phone never heard).
    pub door_access: Option<Access>,
    /// Modeled time at which the door decided (the lock actuates then, before the batch is in).
    pub door_decided_at: Option<Duration>,
    /// Every delivered frame in delivery order, for replay tests.
    pub frames: Vec<(Direction, Vec<u8>)>,
    pub stats: LinkStats,
}

/// A frame in flight: delivery time, send order, direction, bytes.
type InFlight = (u64, u64, Direction, Vec<u8>);

/// Drives a phone and a door session against each other over the modeled connection.
pub struct SimPair {
    cfg: SimConfig,
}

impl SimPair {
    pub fn new(cfg: SimConfig) -> Self {
        SimPair { cfg }
    }

    /// Runs one unlock. The door's clock starts at `door_start` and advances with modeled time.
    pub fn run(
        &self,
        mut phone: PhoneSession,
        door: &mut DoorEngine,
        door_start: UnixTime,
        door_nonce: [u8; 16],
    ) -> SimRun {
        let mut ch = SimChannel::new(self.cfg.clone());
        let mtu = ch.cfg.mtu;
        let latency = ch.cfg.latency_ms;
        let mut heap: BinaryHeap<Reverse<InFlight>> = BinaryHeap::new();
        let mut order = 0u64;
        let mut frames = Vec::new();
        let mut door_access = None;
        let mut door_decided_at = None;
        let mut session = DoorSession::new(door, door_start, door_nonce);

        macro_rules! send {
            ($l:lifetime, $dir:expr, $frame:expr, $ready:expr) => {{
                let f: Vec<u8> = $frame;
                match ch.transmit($dir, f.len(), $ready) {
                    Ok(Some(at)) => {
                        order += 1;
                        heap.push(Reverse((at, order, $dir, f)));
                    }
                    Ok(None) => {}
                    Err(e) => break $l Err(SimFailure::Link(e)),
                }
            }};
        }

        let outcome = 'run: {
            while let Some(f) = session.poll_transmit(mtu) {
                send!('run, Direction::DoorToPhone, f, latency);
            }
            loop {
                let Some(Reverse((at, _, dir, frame))) = heap.pop() else {
                    break 'run Err(if ch.stats.disconnected {
                        SimFailure::Link(LinkError::Disconnected)
                    } else {
                        SimFailure::Stalled
                    });
                };
                frames.push((dir, frame.clone()));
                match dir {
                    Direction::DoorToPhone => {
                        let got = match phone.handle_frame(&frame) {
                            Ok(o) => o,
                            Err(e) => break 'run Err(SimFailure::Phone(e)),
                        };
                        while let Some(f) = phone.poll_transmit(mtu) {
                            send!('run, Direction::PhoneToDoor, f, at + latency);
                        }
                        if let Some(o) = got {
                            break 'run Ok(o);
                        }
                    }
                    Direction::PhoneToDoor => {
                        let now = door_time(door_start, at);
                        match crate::door::feed(&mut session, door, &frame, now) {
                            Ok(fed) => {
                                if let Some(entry) = fed.decided {
                                    door_access = Some(entry.access);
                                    door_decided_at = Some(Duration::from_millis(at));
                                }
                            }
                            Err(e) => break 'run Err(SimFailure::Door(e)),
                        }
                        while let Some(f) = session.poll_transmit(mtu) {
                            send!('run, Direction::DoorToPhone, f, at + latency);
                        }
                    }
                }
            }
        };
        SimRun { outcome, door_access, door_decided_at, frames, stats: ch.stats }
    }
}

// ---------------------------------------------------------------------------------------------
// Link hosting a shared door

/// A [`Link`] to a simulated door. The door (shared, e.g. with a test that inspects it or with
/// several phones in turn) processes each frame when the model delivers it.
pub struct SimDoorLink {
    door: Arc<Mutex<DoorEngine>>,
    session: Option<DoorSession>,
    channel: SimChannel,
    door_start: UnixTime,
    phone_clock_ms: u64,
    inbox: VecDeque<(u64, Vec<u8>)>,
    door_access: Option<Access>,
    door_error: Option<DoorSessionError>,
}

impl SimDoorLink {
    /// Connects: the door starts a session at `door_start` with `door_nonce` and its challenge
    /// is put in flight.
    pub fn connect(door: Arc<Mutex<DoorEngine>>, cfg: SimConfig, door_start: UnixTime, door_nonce: [u8; 16]) -> Self {
        let mut link = SimDoorLink {
            door,
            session: None,
            channel: SimChannel::new(cfg),
            door_start,
            phone_clock_ms: 0,
            inbox: VecDeque::new(),
            door_access: None,
            door_error: None,
        };
        let session = match link.door.lock() {
            Ok(mut engine) => Some(DoorSession::new(&mut engine, door_start, door_nonce)),
            Err(_) => None,
        };
        link.session = session;
        let latency = link.channel.cfg.latency_ms;
        link.flush_door(latency);
        link
    }

    pub fn stats(&self) -> &LinkStats {
        &self.channel.stats
    }

    /// The door's decision in this connection, if it made one.
    pub fn door_access(&self) -> Option<Access> {
        self.door_access
    }

    /// Why the door abandoned the session, if it did.
    pub fn door_error(&self) -> Option<&DoorSessionError> {
        self.door_error.as_ref()
    }

    fn flush_door(&mut self, ready_ms: u64) {
        let mtu = self.channel.cfg.mtu;
        let Some(session) = self.session.as_mut() else { return };
        while let Some(f) = session.poll_transmit(mtu) {
            match self.channel.transmit(Direction::DoorToPhone, f.len(), ready_ms) {
                Ok(Some(at)) => self.inbox.push_back((at, f)),
                Ok(None) => {}
                Err(_) => return,
            }
        }
    }

    fn deliver_to_door(&mut self, frame: &[u8], at: u64) {
        let now = door_time(self.door_start, at);
        let (Some(session), Ok(mut engine)) = (self.session.as_mut(), self.door.lock()) else {
            self.door_error = Some(DoorSessionError::UnexpectedFrame);
            return;
        };
        match crate::door::feed(session, &mut engine, frame, now) {
            Ok(fed) => {
                if let Some(entry) = fed.decided {
                    self.door_access = Some(entry.access);
                }
            }
            Err(e) => self.door_error = Some(e),
        }
        drop(engine);
        if self.door_error.is_some() {
            // The door drops the connection on a session error.
            self.session = None;
            self.channel.stats.disconnected = true;
            return;
        }
        let latency = self.channel.cfg.latency_ms;
        self.flush_door(at + latency);
    }
}

impl Link for SimDoorLink {
    fn mtu(&self) -> usize {
        self.channel.cfg.mtu
    }

    fn send(&mut self, frame: &[u8]) -> Result<(), LinkError> {
        let ready = self.phone_clock_ms + self.channel.cfg.latency_ms;
        // Writes are queued (the phone does not wait for delivery), so the phone's clock stays.
        if let Some(at) = self.channel.transmit(Direction::PhoneToDoor, frame.len(), ready)? {
            self.deliver_to_door(frame, at);
        }
        Ok(())
    }

    fn recv(&mut self, timeout: Duration) -> Result<Vec<u8>, LinkError> {
        if let Some((at, frame)) = self.inbox.pop_front() {
            self.phone_clock_ms = self.phone_clock_ms.max(at);
            return Ok(frame);
        }
        if self.channel.stats.disconnected {
            return Err(LinkError::Disconnected);
        }
        self.phone_clock_ms =
            self.phone_clock_ms.saturating_add(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        Err(LinkError::Timeout)
    }

    fn close(&mut self) {
        self.session = None;
    }
}
