//! Runs any two-party exchange over the simulated BLE connection of
//! [`keyway_test_kit::sim`], with the same timing model as `SimPair`: a frame its
//! sender produced at `t` is ready at `t + latency` and goes in the first connection event with
//! room (`frames_per_event` per direction), and each side reacts when a frame is delivered.
//! The driver also measures the CPU time each side spends in its own calls.

use keyway_test_kit::sim::{Direction, LinkStats, SimChannel, SimConfig};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::{Duration, Instant};

/// One side of an exchange, fed frames by the driver.
pub trait Endpoint {
    /// Takes one frame from the peer, delivered at `at_ms` (modeled milliseconds since the
    /// subscription).
    fn receive(&mut self, frame: &[u8], at_ms: u64) -> Result<(), String>;
    /// Next frame to send, at most `max_frame` bytes.
    fn poll_frame(&mut self, max_frame: usize) -> Option<Vec<u8>>;
    /// Phone: the door's result is in and checked. Door: the access decision is made.
    fn finished(&self) -> bool;
}

/// What one exchange cost.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub stats: LinkStats,
    /// Modeled time at which the door decided.
    pub door_decided_at: Duration,
    /// Link cost up to the decision (every frame sent until then).
    pub stats_at_decision: LinkStats,
    /// Modeled time at which the phone had the door's result.
    pub completed_at: Duration,
    /// Runs of consecutive frames in one direction, in delivery order.
    pub flights: usize,
    pub flights_to_decision: usize,
    /// Distinct connection events that carried a frame, up to the decision.
    pub events_to_decision: usize,
    pub phone_cpu: Duration,
    pub door_cpu: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriveError {
    #[error("phone: {0}")]
    Phone(String),
    #[error("door: {0}")]
    Door(String),
    #[error("link: {0}")]
    Link(String),
    #[error("the exchange stalled before the phone had the result")]
    Stalled,
}

type InFlight = (u64, u64, Direction, Vec<u8>);

struct Queue {
    ch: SimChannel,
    heap: BinaryHeap<Reverse<InFlight>>,
    order: u64,
}

impl Queue {
    fn flush(
        &mut self,
        side: &mut dyn Endpoint,
        cpu: &mut Duration,
        dir: Direction,
        ready_ms: u64,
    ) -> Result<(), DriveError> {
        let max = self.ch.max_frame();
        loop {
            let t = Instant::now();
            let frame = side.poll_frame(max);
            *cpu += t.elapsed();
            let Some(frame) = frame else { return Ok(()) };
            match self.ch.transmit(dir, frame.len(), ready_ms) {
                Ok(Some(at)) => {
                    self.order += 1;
                    self.heap.push(Reverse((at, self.order, dir, frame)));
                }
                Ok(None) => {}
                Err(e) => return Err(DriveError::Link(e.to_string())),
            }
        }
    }
}

/// Runs `f` and returns its value with the time it took (to charge constructing an endpoint to
/// its side's CPU time).
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed())
}

/// Connects (time 0 is the phone's subscription), lets each side send what it has from the
/// start (the door first), and delivers frames until the phone has the result.
pub fn drive(cfg: SimConfig, phone: &mut dyn Endpoint, door: &mut dyn Endpoint) -> Result<Exchange, DriveError> {
    let (mut phone_cpu, mut door_cpu) = (Duration::ZERO, Duration::ZERO);

    let mut q = Queue { ch: SimChannel::new(cfg), heap: BinaryHeap::new(), order: 0 };
    let latency = q.ch.config().latency_ms;
    q.flush(door, &mut door_cpu, Direction::DoorToPhone, latency)?;
    q.flush(phone, &mut phone_cpu, Direction::PhoneToDoor, latency)?;

    let mut events = BTreeSet::new();
    let mut flights = 0;
    let mut last_dir = None;
    let mut decided: Option<(u64, usize, usize, LinkStats)> = None;
    loop {
        let Some(Reverse((at, _, dir, frame))) = q.heap.pop() else {
            return Err(DriveError::Stalled);
        };
        events.insert(at);
        if last_dir != Some(dir) {
            flights += 1;
            last_dir = Some(dir);
        }
        match dir {
            Direction::DoorToPhone => {
                let t = Instant::now();
                let got = phone.receive(&frame, at);
                phone_cpu += t.elapsed();
                got.map_err(DriveError::Phone)?;
                q.flush(phone, &mut phone_cpu, Direction::PhoneToDoor, at + latency)?;
                if phone.finished() {
                    let (decided_at, flights_to_decision, events_to_decision, stats_at_decision) =
                        decided.clone().ok_or(DriveError::Stalled)?;
                    return Ok(Exchange {
                        stats: q.ch.stats().clone(),
                        door_decided_at: Duration::from_millis(decided_at),
                        stats_at_decision,
                        completed_at: Duration::from_millis(at),
                        flights,
                        flights_to_decision,
                        events_to_decision,
                        phone_cpu,
                        door_cpu,
                    });
                }
            }
            Direction::PhoneToDoor => {
                let t = Instant::now();
                let got = door.receive(&frame, at);
                door_cpu += t.elapsed();
                got.map_err(DriveError::Door)?;
                if decided.is_none() && door.finished() {
                    decided = Some((at, flights, events.len(), q.ch.stats().clone()));
                }
                q.flush(door, &mut door_cpu, Direction::DoorToPhone, at + latency)?;
            }
        }
    }
}

/// An outgoing byte stream cut into frames as the link takes them (TLS records and Noise
/// messages travel as a stream over the GATT characteristic: ATT writes and notifications are
/// ordered and acknowledged by the link layer, so no per-frame header is needed).
#[derive(Default, Debug)]
pub struct StreamOut {
    pending: std::collections::VecDeque<u8>,
}

impl StreamOut {
    pub fn push(&mut self, bytes: &[u8]) {
        self.pending.extend(bytes);
    }

    pub fn poll(&mut self, max_frame: usize) -> Option<Vec<u8>> {
        if self.pending.is_empty() || max_frame == 0 {
            return None;
        }
        let n = max_frame.min(self.pending.len());
        Some(self.pending.drain(..n).collect())
    }
}

/// Messages with a 2-byte big-endian length prefix over a byte stream (the Noise framing for
/// stream transports; also used for the application message inside TLS).
#[derive(Default, Debug)]
pub struct LengthPrefixed {
    buffer: Vec<u8>,
}

impl LengthPrefixed {
    pub fn encode(message: &[u8]) -> Result<Vec<u8>, String> {
        let len =
            u16::try_from(message.len()).map_err(|_| format!("message of {} bytes exceeds 65535", message.len()))?;
        let mut out = Vec::with_capacity(2 + message.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(message);
        Ok(out)
    }

    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete message, if it has arrived.
    pub fn next_message(&mut self) -> Option<Vec<u8>> {
        let [a, b, ..] = self.buffer[..] else { return None };
        let len = usize::from(u16::from_be_bytes([a, b]));
        if self.buffer.len() < 2 + len {
            return None;
        }
        let message = self.buffer[2..2 + len].to_vec();
        self.buffer.drain(..2 + len);
        Some(message)
    }
}
