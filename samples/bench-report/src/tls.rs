//! TLS 1.3 with mutual authentication (rustls, ring provider, `TLS_CHACHA20_POLY1305_SHA256`
//! with X25519, the suite a door MCU without AES hardware would pick; Ed25519 certificates
//! issued by a property CA made with rcgen), in memory: the phone is the client, the door the
//! server. The phone's client certificate certifies its device key (the key the Keyway chain
//! names). The request rides as application data right behind the client's Finished, the
//! door's result comes back the same way (each with a 2-byte length prefix).
//!
//! First unlocks run with session tickets off (they would only add bytes). The repeat unlock
//! runs a full handshake with one stateful ticket (the smallest: a 32-byte id the door looks
//! up), then resumes with it: rustls' client offers only `psk_dhe_ke` (PSK plus an X25519
//! exchange), and a resumed server sends no certificate, CertificateVerify or
//! CertificateRequest.

use crate::app::{self, ChannelKey, PeerDoor};
use crate::driver::{Endpoint, LengthPrefixed, StreamOut};
use crate::property::{Holder, HolderKind, Property};
use keyway_protocol::credential::{KeyPair, PublicKey};
use keyway_protocol::unlock::Access;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyUsagePurpose,
};
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::{ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{ClientConfig, ClientConnection, HandshakeKind, RootCertStore, ServerConfig, ServerConnection};
use std::io::{Read, Write};
use std::sync::Arc;

const DOOR_NAME: &str = "door-7.keyway";
/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410); the key follows.
const ED25519_SPKI: [u8; 12] = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/// Certificates and the configurations, built once (a phone and a door would keep them).
pub struct TlsSetup {
    resident: Arc<ClientConfig>,
    guest: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    /// DER sizes: CA, door certificate, resident's phone certificate.
    pub cert_sizes: [usize; 3],
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn named(cn: &str, sans: Vec<String>) -> Result<CertificateParams, String> {
    let mut params = CertificateParams::new(sans).map_err(err)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    Ok(params)
}

fn leaf_key_der(key: &rcgen::KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

/// A Keyway key pair as an rcgen key pair (PKCS#8 v2, RFC 8410).
fn device_key(device: &KeyPair) -> Result<rcgen::KeyPair, String> {
    let mut der = vec![0x30, 0x53, 0x02, 0x01, 0x01, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];
    der.extend_from_slice(&device.secret()[..]);
    der.extend_from_slice(&[0xa1, 0x23, 0x03, 0x21, 0x00]);
    der.extend_from_slice(&device.public().0);
    rcgen::KeyPair::try_from(der.as_slice()).map_err(err)
}

/// The Ed25519 key of a DER certificate's subject.
fn subject_key(cert: &[u8]) -> Option<[u8; 32]> {
    let at = cert.windows(ED25519_SPKI.len()).position(|w| w == ED25519_SPKI)? + ED25519_SPKI.len();
    cert.get(at..at + 32)?.try_into().ok()
}

impl TlsSetup {
    pub fn new(p: &Property) -> Result<Self, String> {
        let base = rustls::crypto::ring::default_provider();
        let provider = Arc::new(CryptoProvider {
            cipher_suites: vec![rustls::crypto::ring::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256],
            kx_groups: vec![rustls::crypto::ring::kx_group::X25519],
            ..base
        });
        let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(err)?;
        let mut ca = named("Keyway property authority", vec![])?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
        let issuer = Issuer::new(ca, &ca_key);

        let door_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(err)?;
        let mut door = named("door-7", vec![DOOR_NAME.to_string()])?;
        door.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let door_cert = door.signed_by(&door_key, &issuer).map_err(err)?;

        let mut roots = RootCertStore::empty();
        roots.add(ca_cert.der().clone()).map_err(err)?;
        let roots = Arc::new(roots);
        let verifier =
            WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone()).build().map_err(err)?;
        let mut server = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(err)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![CertificateDer::clone(door_cert.der())], leaf_key_der(&door_key))
            .map_err(err)?;
        server.send_tls13_tickets = 0;

        let mut sizes = [ca_cert.der().len(), door_cert.der().len(), 0];
        let mut client = |holder: &Holder, cn: &str| -> Result<Arc<ClientConfig>, String> {
            let key = device_key(&holder.device)?;
            let mut params = named(cn, vec![])?;
            params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            let cert = params.signed_by(&key, &issuer).map_err(err)?;
            if sizes[2] == 0 {
                sizes[2] = cert.der().len();
            }
            let config = ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(&[&rustls::version::TLS13])
                .map_err(err)?
                .with_root_certificates(roots.clone())
                .with_client_auth_cert(vec![CertificateDer::clone(cert.der())], leaf_key_der(&key))
                .map_err(err)?;
            Ok(Arc::new(config))
        };
        let resident = client(&p.resident, "key-4000123")?;
        let guest = client(&p.guest, "key-guest")?;
        Ok(TlsSetup { resident, guest, server: Arc::new(server), cert_sizes: sizes })
    }

    /// The configurations of a first unlock (no tickets).
    pub fn first(&self, holder: HolderKind) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
        let client = match holder {
            HolderKind::Resident => self.resident.clone(),
            HolderKind::Guest => self.guest.clone(),
        };
        (client, self.server.clone())
    }

    /// Fresh configurations for a full handshake and its resumption: a new client session store
    /// and a door issuing one stateful ticket into a new session cache.
    pub fn resumable(&self, holder: HolderKind) -> (Arc<ClientConfig>, Arc<ServerConfig>) {
        let (client, server) = self.first(holder);
        let mut client = (*client).clone();
        client.resumption = Resumption::in_memory_sessions(4);
        let mut server = (*server).clone();
        server.send_tls13_tickets = 1;
        server.session_storage = ServerSessionMemoryCache::new(16);
        (Arc::new(client), Arc::new(server))
    }
}

/// Feeds one frame of TLS bytes into a connection and processes the records it completes.
fn read_frame(conn: &mut rustls::ConnectionCommon<impl rustls::SideData>, mut frame: &[u8]) -> Result<(), String> {
    while !frame.is_empty() {
        conn.read_tls(&mut frame).map_err(err)?;
        conn.process_new_packets().map_err(err)?;
    }
    Ok(())
}

fn read_plaintext(
    conn: &mut rustls::ConnectionCommon<impl rustls::SideData>,
    into: &mut LengthPrefixed,
) -> Result<(), String> {
    let mut buf = [0u8; 2048];
    loop {
        match conn.reader().read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => into.push(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(err(e)),
        }
    }
}

fn write_out(conn: &mut rustls::ConnectionCommon<impl rustls::SideData>, out: &mut StreamOut) -> Result<(), String> {
    while conn.wants_write() {
        let mut bytes = Vec::new();
        conn.write_tls(&mut bytes).map_err(err)?;
        out.push(&bytes);
    }
    Ok(())
}

pub struct TlsPhone {
    conn: ClientConnection,
    out: StreamOut,
    inbox: LengthPrefixed,
    holder: Holder,
    door_key: PublicKey,
    nonce: [u8; 16],
    /// The request as sent (for the delivery check).
    pub request: Option<Vec<u8>>,
    pub granted: Option<bool>,
    /// Whether the handshake was a resumption.
    pub resumed: bool,
    error: Option<String>,
}

impl TlsPhone {
    pub fn new(config: Arc<ClientConfig>, p: &Property, holder: &Holder, nonce: [u8; 16]) -> Result<Self, String> {
        let name = ServerName::try_from(DOOR_NAME).map_err(err)?;
        let conn = ClientConnection::new(config, name).map_err(err)?;
        Ok(TlsPhone {
            conn,
            out: StreamOut::default(),
            inbox: LengthPrefixed::default(),
            holder: holder.clone(),
            door_key: p.door_key.public(),
            nonce,
            request: None,
            granted: None,
            resumed: false,
            error: None,
        })
    }
}

impl Endpoint for TlsPhone {
    fn receive(&mut self, frame: &[u8], _at_ms: u64) -> Result<(), String> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        read_frame(&mut self.conn, frame)?;
        if self.request.is_none() && !self.conn.is_handshaking() {
            // A resumed session stands for the device key and the door has its chain.
            self.resumed = self.conn.handshake_kind() == Some(HandshakeKind::Resumed);
            let request = app::build_request(&self.holder, !self.resumed, self.nonce)?;
            self.conn.writer().write_all(&LengthPrefixed::encode(&request)?).map_err(err)?;
            self.request = Some(request);
        }
        read_plaintext(&mut self.conn, &mut self.inbox)?;
        if let Some(result) = self.inbox.next_message() {
            self.granted = Some(app::check_result(&result, &self.door_key, self.nonce)?);
        }
        write_out(&mut self.conn, &mut self.out)
    }

    fn poll_frame(&mut self, max_frame: usize) -> Option<Vec<u8>> {
        if let Err(e) = write_out(&mut self.conn, &mut self.out) {
            self.error = Some(e);
        }
        self.out.poll(max_frame)
    }

    fn finished(&self) -> bool {
        self.granted.is_some()
    }
}

pub struct TlsDoor {
    conn: ServerConnection,
    out: StreamOut,
    inbox: LengthPrefixed,
    pub door: PeerDoor,
    /// The request as received (for the delivery check).
    pub request: Option<Vec<u8>>,
    pub access: Option<Access>,
    pub resumed: bool,
    pub chain_verifications: u32,
}

impl TlsDoor {
    pub fn new(config: Arc<ServerConfig>, door: PeerDoor) -> Result<Self, String> {
        let conn = ServerConnection::new(config).map_err(err)?;
        Ok(TlsDoor {
            conn,
            out: StreamOut::default(),
            inbox: LengthPrefixed::default(),
            door,
            request: None,
            access: None,
            resumed: false,
            chain_verifications: 0,
        })
    }
}

impl Endpoint for TlsDoor {
    fn receive(&mut self, frame: &[u8], _at_ms: u64) -> Result<(), String> {
        read_frame(&mut self.conn, frame)?;
        read_plaintext(&mut self.conn, &mut self.inbox)?;
        if self.request.is_none()
            && !self.conn.is_handshaking()
            && let Some(request) = self.inbox.next_message()
        {
            let cert = self.conn.peer_certificates().and_then(|c| c.first()).ok_or("no client certificate")?;
            let key = subject_key(cert).ok_or("the client certificate has no Ed25519 key")?;
            self.resumed = self.conn.handshake_kind() == Some(HandshakeKind::Resumed);
            let answer = app::door_answer(&mut self.door, &request, ChannelKey::Ed25519(key), self.resumed)?;
            self.conn.writer().write_all(&LengthPrefixed::encode(&answer.result)?).map_err(err)?;
            self.access = Some(answer.access);
            self.chain_verifications = answer.chain_verifications;
            self.request = Some(request);
        }
        write_out(&mut self.conn, &mut self.out)
    }

    fn poll_frame(&mut self, max_frame: usize) -> Option<Vec<u8>> {
        // A write error leaves the output empty; the exchange then stalls and is reported.
        let _ = write_out(&mut self.conn, &mut self.out);
        self.out.poll(max_frame)
    }

    fn finished(&self) -> bool {
        self.access.is_some()
    }
}
