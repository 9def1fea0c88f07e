//! How much a door keeps: the embedder's choice, not the protocol's.

/// Capacities of a door's state. A door refuses (and reports) an update that would exceed them,
/// and its activity ring drops the oldest record when full; nothing a peer sends can grow the
/// state past them. The limits are a property of the door's firmware, not of its saved state:
/// they are given to [`DoorEngine::with_limits`](super::DoorEngine::with_limits) at start-up,
/// and a saved state that exceeds them is refused rather than truncated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DoorLimits {
    /// Revoked keys plus persons. Entries leave the set once their `until` has passed (the
    /// revoked key would have expired anyway), so only revocations of keys that are still
    /// within their validity occupy room.
    pub revocations: usize,
    /// Records in the activity ring.
    pub activity: usize,
    /// Daily doorcode slots.
    pub doorcode_slots: usize,
    /// Enrolled keycards.
    pub keycards: usize,
    /// Resume tickets held in memory (one per key that unlocked recently; each holds the key's
    /// verified chain, at most about 1.4 KB, typically 200 B).
    pub resume_tickets: usize,
}

impl DoorLimits {
    /// A door with room to spare (a controller with megabytes of RAM, the door simulator).
    pub const STANDARD: DoorLimits = DoorLimits {
        revocations: 16_384,
        activity: 1_024,
        doorcode_slots: 1_024,
        keycards: 4_096,
        resume_tickets: 512,
    };

    /// A lock on a small microcontroller: the whole door state, full to every limit, fits in
    /// 64 KiB of heap (test `door_limits`, which counts every allocation).
    pub const SMALL_MCU: DoorLimits =
        DoorLimits { revocations: 512, activity: 256, doorcode_slots: 64, keycards: 128, resume_tickets: 32 };
}

impl DoorLimits {
    /// No capacity limit: the structural checks of a decoded state alone (its size is already
    /// bounded by [`MAX_STATE_LEN`](super::state::MAX_STATE_LEN)).
    pub(crate) const UNBOUNDED: DoorLimits = DoorLimits {
        revocations: usize::MAX,
        activity: usize::MAX,
        doorcode_slots: usize::MAX,
        keycards: usize::MAX,
        resume_tickets: usize::MAX,
    };
}

impl Default for DoorLimits {
    fn default() -> Self {
        DoorLimits::STANDARD
    }
}
