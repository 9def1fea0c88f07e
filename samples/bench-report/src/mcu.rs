//! The door as a lock's microcontroller sees it: what each protocol makes the door compute
//! ([`DoorWork`]), and a cycle-count profile ([`McuProfile`]) that turns it into time.
//!
//! Keyway's public-key operations are measured ([`keyway_protocol::door::DoorEngine::crypto_ops`]
//! around the session); the peers' come from their protocol definitions (the door's side of a
//! TLS 1.3 server or a Noise responder), plus the key-chain signatures the door verifies, which
//! are counted by `KeyChain::verify_structure_counting`. Symmetric work is estimated from the
//! definitions: HMAC-SHA256 invocations of each key schedule (HKDF extract and expand are one
//! each), and SHA-256 blocks and ChaCha20-Poly1305 bytes over every byte exchanged up to the
//! decision (an upper bound for all protocols alike).

use serde::Serialize;

/// What the door computes in one session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DoorWork {
    /// Before the decision (the lock actuates on it): variable-base X25519.
    pub x25519: u32,
    /// Before the decision: Ed25519 verifications (channel and key chain).
    pub verify: u32,
    /// Before the decision: Ed25519 signatures.
    pub sign: u32,
    /// Before the decision: HMAC-SHA256 invocations of the key schedule.
    pub hmac: u32,
    /// Before the decision: SHA-256 blocks (transcript hashing).
    pub sha256_blocks: u64,
    /// Before the decision: bytes through ChaCha20-Poly1305.
    pub aead_bytes: u64,
    /// After actuation, in the session: Ed25519 signatures (the receipt).
    pub sign_after: u32,
    /// When the door is idle (not on any session's path): signatures (Keyway's offer).
    pub idle_sign: u32,
    /// When the door is idle: fixed-base X25519 key generations (Keyway's offer key, the TLS
    /// key share and Noise ephemeral a door could make ahead of time). Not charged to the
    /// time to open of any protocol.
    pub idle_keygen: u32,
    /// Where the public-key counts come from.
    pub source: &'static str,
}

impl DoorWork {
    /// Public-key operations before the decision.
    pub fn public_key_ops(&self) -> u32 {
        self.x25519 + self.verify + self.sign
    }

    /// Adds the symmetric estimate for `bytes` exchanged up to the decision.
    pub fn with_bytes(mut self, bytes: usize) -> Self {
        self.aead_bytes = bytes as u64;
        self.sha256_blocks = (bytes as u64).div_ceil(64);
        self
    }
}

/// Cycle counts per operation of a door microcontroller. Every default is a published order of
/// magnitude, not a measurement of this code (see [`McuProfile::SOURCES`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct McuProfile {
    pub name: &'static str,
    pub clock_hz: u64,
    pub ed25519_verify: u64,
    pub ed25519_sign: u64,
    pub x25519: u64,
    pub sha256_block: u64,
    pub aead_per_byte: u64,
    pub hmac_message: u64,
}

impl Default for McuProfile {
    fn default() -> Self {
        McuProfile {
            name: "64 MHz Cortex-M4",
            clock_hz: 64_000_000,
            ed25519_verify: 2_300_000,
            ed25519_sign: 1_150_000,
            x25519: 550_000,
            sha256_block: 1_900,
            aead_per_byte: 20,
            hmac_message: 7_600,
        }
    }
}

impl McuProfile {
    /// Where each default comes from (printed with the report).
    pub const SOURCES: [(&'static str, &'static str); 7] = [
        (
            "X25519 550,000 cycles",
            "issue 15's figure for a Cortex-M4 (assembly implementations publish roughly 0.5-0.9 M cycles)",
        ),
        (
            "Ed25519 verify 2,300,000 cycles",
            "about four X25519-sized scalar multiplications, the order optimised Cortex-M4 code reaches; general-purpose libraries are slower (issue 15: SEGGER emCrypt 35-175 ms at 168-400 MHz, i.e. 5.9 M cycles and up; libsodium 54 ms on a 240 MHz ESP32, about 13 M): see the 5.9 M column",
        ),
        ("Ed25519 sign 1,150,000 cycles", "half a verify, a common ratio (fixed-base scalar multiplication)"),
        ("SHA-256 1,900 cycles per 64-byte block", "published order for C/assembly SHA-256 on a Cortex-M4"),
        (
            "ChaCha20-Poly1305 20 cycles per byte",
            "published order for Cortex-M4 ChaCha20 (about 13-15 cycles/byte) plus Poly1305 (about 5)",
        ),
        ("HMAC-SHA256 7,600 cycles per short message", "four SHA-256 blocks (inner and outer key blocks, two finals)"),
        ("clock 64 MHz", "the profile: a 64 MHz Cortex-M4 (nRF52-class BLE lock controller)"),
    ];

    /// The same profile with a general-purpose library's Ed25519 (emCrypt's 35 ms at 168 MHz),
    /// sign at half a verify.
    pub fn slow_ed25519(&self) -> Self {
        McuProfile { ed25519_verify: 5_900_000, ed25519_sign: 2_950_000, ..self.clone() }
    }

    /// Cycles the door spends before the decision.
    pub fn cycles_before(&self, w: &DoorWork) -> u64 {
        u64::from(w.x25519) * self.x25519
            + u64::from(w.verify) * self.ed25519_verify
            + u64::from(w.sign) * self.ed25519_sign
            + u64::from(w.hmac) * self.hmac_message
            + w.sha256_blocks * self.sha256_block
            + w.aead_bytes * self.aead_per_byte
    }

    /// Milliseconds of door CPU before the decision.
    pub fn ms_before(&self, w: &DoorWork) -> f64 {
        self.cycles_before(w) as f64 * 1000.0 / self.clock_hz as f64
    }

    /// Milliseconds of door CPU in the whole session (the receipt signature after actuation).
    pub fn ms_session(&self, w: &DoorWork) -> f64 {
        let after = u64::from(w.sign_after) * self.ed25519_sign;
        (self.cycles_before(w) + after) as f64 * 1000.0 / self.clock_hz as f64
    }
}

/// HMAC-SHA256 invocations per session at the door, from each key schedule's definition.
pub mod hmacs {
    /// Keyway full request (`unlock/seal.rs`): HKDF for the request, batch, result, proof and
    /// resume keys and the ticket id (6 × extract + expand), and the proof tag.
    pub const KEYWAY_FULL: u32 = 6 * 2 + 1;
    /// Keyway resumed request: HKDF for the request, batch, result and next keys and the ticket
    /// id (5 × 2).
    pub const KEYWAY_RESUME: u32 = 5 * 2;
    /// TLS 1.3 full handshake, server (RFC 8446 §7.1): 3 extracts, 8 Derive-Secrets, key and
    /// IV for 4 traffic secrets (8), 2 finished keys and 2 Finished MACs.
    pub const TLS_FULL: u32 = 3 + 8 + 8 + 4;
    /// TLS 1.3 PSK resumption, server: as the full handshake, plus the binder key, its finished
    /// key and the binder MAC, and the new ticket's PSK.
    pub const TLS_PSK: u32 = TLS_FULL + 3 + 1;
    /// Noise (as `..._SHA256`): 3 per MixKey (HKDF with two outputs), one MixKey per DH, 3 for
    /// Split. IK responder: 4 DH.
    pub const NOISE_IK: u32 = 4 * 3 + 3;
    /// XX responder: 3 DH.
    pub const NOISE_XX: u32 = 3 * 3 + 3;
}
