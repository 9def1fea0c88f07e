//! Noise handshakes (snow, `25519_ChaChaPoly_BLAKE2s`) carrying the unlock: the phone initiates,
//! the door responds. Each Noise message travels with the 2-byte length prefix of the Noise
//! spec's stream framing. The phone's static key is its device key's X25519 half, so the
//! handshake authenticates the key the Keyway chain names; the door checks that it is.
//!
//! - XX: `-> e`, `<- e, ee, s, es`, `-> s, se` + the request as the third message's payload.
//! - IK (the phone knows the door's static key from its certificate): `-> e, es, s, ss`,
//!   `<- e, ee, se`, then the request as the first transport message. IK could put the request
//!   in the first message's payload, but the door could not tell a replay of it from a fresh
//!   one, so the request waits for the door's ephemeral key.

use crate::app::{self, ChannelKey, PeerDoor};
use crate::driver::{Endpoint, LengthPrefixed, StreamOut};
use crate::property::{Holder, Property};
use keyway_protocol::credential::{KeyPair, PublicKey};
use keyway_protocol::unlock::Access;
use snow::params::HashChoice;
use snow::resolvers::{CryptoResolver, DefaultResolver};
use snow::{Builder, HandshakeState, TransportState};

const MAX_NOISE: usize = 65_535;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    IK,
    XX,
}

impl Pattern {
    fn params(self) -> &'static str {
        match self {
            Pattern::IK => "Noise_IK_25519_ChaChaPoly_BLAKE2s",
            Pattern::XX => "Noise_XX_25519_ChaChaPoly_BLAKE2s",
        }
    }
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// The door's static X25519 key (as provisioned).
pub struct NoiseKeys {
    door: snow::Keypair,
}

impl NoiseKeys {
    pub fn new() -> Result<Self, String> {
        let b = Builder::new(Pattern::XX.params().parse().map_err(err)?);
        Ok(NoiseKeys { door: b.generate_keypair().map_err(err)? })
    }
}

/// The X25519 secret of a device key: the first half of SHA-512 over its seed (X25519 clamps
/// it), as `crypto_sign_ed25519_sk_to_curve25519` makes it.
pub fn device_static(device: &KeyPair) -> Result<[u8; 32], String> {
    let mut hash = DefaultResolver.resolve_hash(&HashChoice::SHA512).ok_or("no SHA-512")?;
    hash.input(&device.secret()[..]);
    let mut out = [0u8; 64];
    hash.result(&mut out);
    let mut secret = [0u8; 32];
    secret.copy_from_slice(&out[..32]);
    Ok(secret)
}

enum State {
    Handshake(Box<HandshakeState>),
    Transport(Box<TransportState>),
    Broken,
}

fn send(state: &mut HandshakeState, payload: &[u8], out: &mut StreamOut) -> Result<(), String> {
    let mut buf = vec![0u8; MAX_NOISE];
    let n = state.write_message(payload, &mut buf).map_err(err)?;
    out.push(&LengthPrefixed::encode(buf.get(..n).ok_or("noise wrote past its buffer")?)?);
    Ok(())
}

fn send_transport(state: &mut TransportState, payload: &[u8], out: &mut StreamOut) -> Result<(), String> {
    let mut buf = vec![0u8; MAX_NOISE];
    let n = state.write_message(payload, &mut buf).map_err(err)?;
    out.push(&LengthPrefixed::encode(buf.get(..n).ok_or("noise wrote past its buffer")?)?);
    Ok(())
}

fn into_transport(hs: Box<HandshakeState>) -> Result<State, String> {
    Ok(State::Transport(Box::new(hs.into_transport_mode().map_err(err)?)))
}

pub struct NoisePhone {
    state: State,
    out: StreamOut,
    inbox: LengthPrefixed,
    holder: Holder,
    door_key: PublicKey,
    pub request: Option<Vec<u8>>,
    pub granted: Option<bool>,
}

impl NoisePhone {
    /// Builds the initiator and queues its first message.
    pub fn new(pattern: Pattern, keys: &NoiseKeys, p: &Property, holder: &Holder) -> Result<Self, String> {
        let secret = device_static(&holder.device)?;
        let b = Builder::new(pattern.params().parse().map_err(err)?).local_private_key(&secret).map_err(err)?;
        let b = match pattern {
            Pattern::IK => b.remote_public_key(&keys.door.public).map_err(err)?,
            Pattern::XX => b,
        };
        let mut hs = b.build_initiator().map_err(err)?;
        let mut out = StreamOut::default();
        send(&mut hs, &[], &mut out)?;
        Ok(NoisePhone {
            state: State::Handshake(Box::new(hs)),
            out,
            inbox: LengthPrefixed::default(),
            holder: holder.clone(),
            door_key: p.door_key.public(),
            request: None,
            granted: None,
        })
    }

    fn on_message(&mut self, message: &[u8]) -> Result<(), String> {
        let mut payload = vec![0u8; MAX_NOISE];
        match std::mem::replace(&mut self.state, State::Broken) {
            State::Handshake(mut hs) => {
                hs.read_message(message, &mut payload).map_err(err)?;
                let request = app::build_request(&self.holder, true, app::PHONE_NONCE)?;
                if hs.is_handshake_finished() {
                    // IK: the handshake is complete; the request is the first transport message.
                    let State::Transport(mut ts) = into_transport(hs)? else { return Err("no transport".into()) };
                    send_transport(&mut ts, &request, &mut self.out)?;
                    self.state = State::Transport(ts);
                } else {
                    // XX: the request is the payload of the third message.
                    send(&mut hs, &request, &mut self.out)?;
                    self.state = into_transport(hs)?;
                }
                self.request = Some(request);
            }
            State::Transport(mut ts) => {
                let n = ts.read_message(message, &mut payload).map_err(err)?;
                self.granted = Some(app::check_result(
                    payload.get(..n).ok_or("short payload")?,
                    &self.door_key,
                    app::PHONE_NONCE,
                )?);
                self.state = State::Transport(ts);
            }
            State::Broken => return Err("session already failed".into()),
        }
        Ok(())
    }
}

impl Endpoint for NoisePhone {
    fn receive(&mut self, frame: &[u8], _at_ms: u64) -> Result<(), String> {
        self.inbox.push(frame);
        while let Some(message) = self.inbox.next_message() {
            self.on_message(&message)?;
        }
        Ok(())
    }

    fn poll_frame(&mut self, max_frame: usize) -> Option<Vec<u8>> {
        self.out.poll(max_frame)
    }

    fn finished(&self) -> bool {
        self.granted.is_some()
    }
}

pub struct NoiseDoor {
    state: State,
    out: StreamOut,
    inbox: LengthPrefixed,
    pub door: PeerDoor,
    /// The phone's static key, once the handshake authenticated it.
    remote: Option<[u8; 32]>,
    pub request: Option<Vec<u8>>,
    pub access: Option<Access>,
    pub chain_verifications: u32,
}

impl NoiseDoor {
    pub fn new(pattern: Pattern, keys: &NoiseKeys, door: PeerDoor) -> Result<Self, String> {
        let hs = Builder::new(pattern.params().parse().map_err(err)?)
            .local_private_key(&keys.door.private)
            .map_err(err)?
            .build_responder()
            .map_err(err)?;
        Ok(NoiseDoor {
            state: State::Handshake(Box::new(hs)),
            out: StreamOut::default(),
            inbox: LengthPrefixed::default(),
            door,
            remote: None,
            request: None,
            access: None,
            chain_verifications: 0,
        })
    }

    fn decide(&mut self, request: Vec<u8>, ts: &mut TransportState) -> Result<(), String> {
        let remote = self.remote.ok_or("request before the handshake authenticated the phone")?;
        let answer = app::door_answer(&mut self.door, &request, ChannelKey::X25519(remote), false)?;
        send_transport(ts, &answer.result, &mut self.out)?;
        self.access = Some(answer.access);
        self.chain_verifications = answer.chain_verifications;
        self.request = Some(request);
        Ok(())
    }

    fn on_message(&mut self, message: &[u8]) -> Result<(), String> {
        let mut payload = vec![0u8; MAX_NOISE];
        match std::mem::replace(&mut self.state, State::Broken) {
            State::Handshake(mut hs) => {
                let n = hs.read_message(message, &mut payload).map_err(err)?;
                if !hs.is_handshake_finished() && hs.is_my_turn() {
                    send(&mut hs, &[], &mut self.out)?;
                }
                if hs.is_handshake_finished() {
                    let remote = hs.get_remote_static().ok_or("no static key from the phone")?;
                    self.remote = Some(remote.try_into().map_err(|_| "static key not 32 bytes")?);
                    let State::Transport(mut ts) = into_transport(hs)? else { return Err("no transport".into()) };
                    if n > 0 {
                        // XX: the request came as the last handshake message's payload.
                        self.decide(payload.get(..n).ok_or("short payload")?.to_vec(), &mut ts)?;
                    }
                    self.state = State::Transport(ts);
                } else {
                    self.state = State::Handshake(hs);
                }
            }
            State::Transport(mut ts) => {
                let n = ts.read_message(message, &mut payload).map_err(err)?;
                if self.request.is_some() {
                    return Err("a second request in one session".into());
                }
                self.decide(payload.get(..n).ok_or("short payload")?.to_vec(), &mut ts)?;
                self.state = State::Transport(ts);
            }
            State::Broken => return Err("session already failed".into()),
        }
        Ok(())
    }
}

impl Endpoint for NoiseDoor {
    fn receive(&mut self, frame: &[u8], _at_ms: u64) -> Result<(), String> {
        self.inbox.push(frame);
        while let Some(message) = self.inbox.next_message() {
            self.on_message(&message)?;
        }
        Ok(())
    }

    fn poll_frame(&mut self, max_frame: usize) -> Option<Vec<u8>> {
        self.out.poll(max_frame)
    }

    fn finished(&self) -> bool {
        self.access.is_some()
    }
}
