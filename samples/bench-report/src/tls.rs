//! TLS 1.3 with mutual authentication (rustls, ring provider, Ed25519 certificates issued by a
//! property CA made with rcgen), in memory: the phone is the client, the door the server. The
//! request rides as application data right behind the client's Finished, the door's result comes
//! back the same way (each with a 2-byte length prefix). The door's certificate and key are the
//! leaf under the property CA; each side trusts the CA only. Session tickets are off (a door
//! would not resume anyway and they would only add bytes to the first connection).

use crate::app;
use crate::driver::{Endpoint, LengthPrefixed, StreamOut};
use crate::property::{DOOR, Holder, Property};
use keyway_protocol::credential::PublicKey;
use keyway_protocol::door::DoorEngine;
use keyway_protocol::unlock::Access;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
use std::io::{Read, Write};
use std::sync::Arc;

const DOOR_NAME: &str = "door-7.keyway";
const NONCE_LABEL: &[u8] = b"EXPORTER-keyway-unlock-nonce";

/// Certificates and the two configurations, built once (a phone and a door would keep them).
pub struct TlsSetup {
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
    /// DER sizes: CA, door certificate, phone certificate.
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

impl TlsSetup {
    pub fn new() -> Result<Self, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
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

        let phone_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).map_err(err)?;
        let mut phone = named("key-4000123", vec![])?;
        phone.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let phone_cert = phone.signed_by(&phone_key, &issuer).map_err(err)?;

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
        let client = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(err)?
            .with_root_certificates(roots)
            .with_client_auth_cert(vec![CertificateDer::clone(phone_cert.der())], leaf_key_der(&phone_key))
            .map_err(err)?;
        Ok(TlsSetup {
            client: Arc::new(client),
            server: Arc::new(server),
            cert_sizes: [ca_cert.der().len(), door_cert.der().len(), phone_cert.der().len()],
        })
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

fn exporter_nonce(conn: &rustls::ConnectionCommon<impl rustls::SideData>) -> Result<[u8; 16], String> {
    conn.export_keying_material([0u8; 16], NONCE_LABEL, None).map_err(err)
}

pub struct TlsPhone {
    conn: ClientConnection,
    out: StreamOut,
    inbox: LengthPrefixed,
    holder: Holder,
    door_key: PublicKey,
    /// The request as sent (for the delivery check).
    pub request: Option<Vec<u8>>,
    pub granted: Option<bool>,
    error: Option<String>,
}

impl TlsPhone {
    pub fn new(setup: &TlsSetup, p: &Property, holder: &Holder) -> Result<Self, String> {
        let name = ServerName::try_from(DOOR_NAME).map_err(err)?;
        let conn = ClientConnection::new(setup.client.clone(), name).map_err(err)?;
        Ok(TlsPhone {
            conn,
            out: StreamOut::default(),
            inbox: LengthPrefixed::default(),
            holder: holder.clone(),
            door_key: p.door_key.public(),
            request: None,
            granted: None,
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
            let request = app::build_request(&self.holder, DOOR, exporter_nonce(&self.conn)?)?;
            self.conn.writer().write_all(&LengthPrefixed::encode(&request)?).map_err(err)?;
            self.request = Some(request);
        }
        read_plaintext(&mut self.conn, &mut self.inbox)?;
        if let Some(result) = self.inbox.next_message() {
            self.granted = Some(app::check_result(&result, &self.door_key)?);
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
    pub engine: DoorEngine,
    nonce: Option<[u8; 16]>,
    /// The request as received (for the delivery check).
    pub request: Option<Vec<u8>>,
    pub access: Option<Access>,
}

impl TlsDoor {
    pub fn new(setup: &TlsSetup, engine: DoorEngine) -> Result<Self, String> {
        let conn = ServerConnection::new(setup.server.clone()).map_err(err)?;
        Ok(TlsDoor {
            conn,
            out: StreamOut::default(),
            inbox: LengthPrefixed::default(),
            engine,
            nonce: None,
            request: None,
            access: None,
        })
    }
}

impl Endpoint for TlsDoor {
    fn receive(&mut self, frame: &[u8], _at_ms: u64) -> Result<(), String> {
        read_frame(&mut self.conn, frame)?;
        if self.nonce.is_none() && !self.conn.is_handshaking() {
            self.nonce = Some(exporter_nonce(&self.conn)?);
        }
        read_plaintext(&mut self.conn, &mut self.inbox)?;
        if let (Some(nonce), None) = (self.nonce, &self.request)
            && let Some(request) = self.inbox.next_message()
        {
            let answer = app::door_answer(&mut self.engine, &request, &nonce)?;
            self.conn.writer().write_all(&LengthPrefixed::encode(&answer.result)?).map_err(err)?;
            self.access = Some(answer.access);
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
