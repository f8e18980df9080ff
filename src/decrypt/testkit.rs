//! Test helpers: real rustls sessions run in memory with their bytes recorded per direction,
//! re-chunking of those bytes, and a decryptor run that collects what it reported.

use super::{Alert, DecryptEvent, Decryptor, HandshakeFacts, KeyLog, Notice, StopReason};
use crate::decode::tls::{CipherSuite, TlsVersion};
use crate::vocab::Dir;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, SupportedKxGroup};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, ServerConfig, ServerConnection, SupportedCipherSuite,
};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

/// A throwaway 2048-bit RSA key for the RSA suites (rcgen with *ring* cannot make one).
pub const RSA_KEY_PEM: &str = include_str!("testdata/rsa2048.key.pem");

/// A self-signed certificate and its PKCS#8 key: RSA, or ECDSA P-256.
pub fn cert(
    rsa: bool,
) -> (
    CertificateDer<'static>,
    PrivatePkcs8KeyDer<'static>,
    String,
    String,
) {
    let key = if rsa {
        rcgen::KeyPair::from_pkcs8_pem_and_sign_algo(RSA_KEY_PEM, &rcgen::PKCS_RSA_SHA256)
    } else {
        rcgen::KeyPair::generate()
    }
    .expect("key");
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    let cert = params.self_signed(&key).expect("self-signed");
    let pem = (cert.pem(), key.serialize_pem());
    let der = PrivatePkcs8KeyDer::from(key.serialize_der());
    (cert.der().clone(), der, pem.0, pem.1)
}

/// Collects key log lines as rustls reports them.
#[derive(Debug, Default)]
pub struct Collected(Mutex<String>);

impl Collected {
    /// The key log text so far.
    pub fn text(&self) -> String {
        self.0.lock().expect("lock").clone()
    }
}

impl rustls::KeyLog for Collected {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        let line = format!(
            "{label} {} {}\n",
            super::hex::encode(client_random),
            super::hex::encode(secret)
        );
        self.0.lock().expect("lock").push_str(&line);
    }

    fn will_log(&self, _label: &str) -> bool {
        true
    }
}

/// Accepts any server certificate (the peers are in this process) but checks signatures.
#[derive(Debug)]
struct AcceptAny(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algs = &self.0.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algs)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Recorded bytes: each write (or read) with its direction, in capture order.
pub type Chunks = Vec<(Dir, Vec<u8>)>;

/// One thing a session script does.
#[derive(Debug, Clone)]
pub enum Step {
    /// The sender of this direction writes these bytes.
    Send(Dir, Vec<u8>),
    /// The sender of this direction updates its TLS 1.3 keys.
    KeyUpdate(Dir),
    /// The sender of this direction sends close_notify.
    Close(Dir),
}

/// The bytes that crossed the wire, in the order they were moved, and the plaintext sent.
#[derive(Debug, Default, Clone)]
pub struct Transcript {
    /// Each direction's writes, in capture order.
    pub chunks: Chunks,
    /// The application data each side sent, by direction (early data excluded).
    pub sent: [Vec<u8>; 2],
    /// The application data each side's rustls received, by direction.
    pub received: [Vec<u8>; 2],
}

/// A client and server configuration that share one key log.
pub struct Peers {
    pub client: Arc<ClientConfig>,
    pub server: Arc<ServerConfig>,
    pub keylog: Arc<Collected>,
}

impl Peers {
    /// Peers that can only agree on `suite` (in its TLS version).
    pub fn for_suite(suite: SupportedCipherSuite) -> Peers {
        Peers::build(suite, None, |_, _| {})
    }

    /// As `for_suite`; `server_groups` limits the server's key exchange groups (to force a
    /// HelloRetryRequest), then `tweak` adjusts both configurations.
    pub fn build(
        suite: SupportedCipherSuite,
        server_groups: Option<Vec<&'static dyn SupportedKxGroup>>,
        tweak: impl FnOnce(&mut ClientConfig, &mut ServerConfig),
    ) -> Peers {
        let mut provider = rustls::crypto::ring::default_provider();
        provider.cipher_suites = vec![suite];
        let provider = Arc::new(provider);
        let mut server_provider = (*provider).clone();
        if let Some(groups) = server_groups {
            server_provider.kx_groups = groups;
        }
        let versions: &[&rustls::SupportedProtocolVersion] = match suite {
            SupportedCipherSuite::Tls12(_) => &[&rustls::version::TLS12],
            SupportedCipherSuite::Tls13(_) => &[&rustls::version::TLS13],
        };
        let rsa = format!("{:?}", suite.suite()).contains("_RSA_");
        let (cert, key, _, _) = cert(rsa);
        let keylog = Arc::new(Collected::default());
        let mut server = ServerConfig::builder_with_provider(Arc::new(server_provider))
            .with_protocol_versions(versions)
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![cert], PrivateKeyDer::Pkcs8(key))
            .expect("server config");
        server.key_log = keylog.clone();
        let mut client = ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(versions)
            .expect("versions")
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth();
        client.key_log = keylog.clone();
        tweak(&mut client, &mut server);
        Peers {
            client: Arc::new(client),
            server: Arc::new(server),
            keylog,
        }
    }

    /// Runs one connection: handshake, the script, with early data first if given.
    pub fn run(&self, early: Option<&[u8]>, steps: &[Step]) -> Transcript {
        let name = ServerName::try_from("localhost").expect("name");
        let mut client = ClientConnection::new(self.client.clone(), name).expect("client");
        let mut server = ServerConnection::new(self.server.clone()).expect("server");
        let mut t = Transcript::default();
        if let Some(data) = early {
            let mut ed = client.early_data().expect("early data offered");
            ed.write_all(data).expect("early write");
        }
        pump(&mut client, &mut server, &mut t);
        for step in steps {
            match step {
                Step::Send(Dir::C2S, data) => client.writer().write_all(data).expect("write"),
                Step::Send(Dir::S2C, data) => server.writer().write_all(data).expect("write"),
                Step::KeyUpdate(Dir::C2S) => client.refresh_traffic_keys().expect("update"),
                Step::KeyUpdate(Dir::S2C) => server.refresh_traffic_keys().expect("update"),
                Step::Close(Dir::C2S) => client.send_close_notify(),
                Step::Close(Dir::S2C) => server.send_close_notify(),
            }
            if let Step::Send(dir, data) = step {
                t.sent[dir.idx()].extend_from_slice(data);
            }
            pump(&mut client, &mut server, &mut t);
        }
        t
    }
}

/// Moves bytes both ways until neither side has anything to send, recording them.
fn pump(client: &mut ClientConnection, server: &mut ServerConnection, t: &mut Transcript) {
    loop {
        let mut moved = false;
        let mut buf = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut buf).expect("client write_tls");
        }
        if !buf.is_empty() {
            moved = true;
            let mut rd = &buf[..];
            while !rd.is_empty() {
                server.read_tls(&mut rd).expect("server read_tls");
                server.process_new_packets().expect("server process");
                drain(server.reader(), &mut t.received[Dir::C2S.idx()]);
            }
            t.chunks.push((Dir::C2S, buf));
        }
        let mut buf = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut buf).expect("server write_tls");
        }
        if !buf.is_empty() {
            moved = true;
            let mut rd = &buf[..];
            while !rd.is_empty() {
                client.read_tls(&mut rd).expect("client read_tls");
                client.process_new_packets().expect("client process");
                drain(client.reader(), &mut t.received[Dir::S2C.idx()]);
            }
            t.chunks.push((Dir::S2C, buf));
        }
        if !moved {
            return;
        }
    }
}

fn drain(mut reader: rustls::Reader<'_>, into: &mut Vec<u8>) {
    let mut buf = [0u8; 4096];
    while let Ok(n @ 1..) = reader.read(&mut buf) {
        into.extend_from_slice(&buf[..n]);
    }
}

/// How to cut a transcript into feed calls; direction order is always kept.
#[derive(Debug, Clone, Copy)]
pub enum Chunking {
    /// One feed per recorded write.
    AsRecorded,
    /// One byte per feed.
    Bytes,
    /// Pseudo-random pieces of 1 to 700 bytes, from this seed.
    Random(u64),
    /// Consecutive writes of the same direction joined into one feed.
    Coalesced,
}

/// The transcript cut as `how` says.
pub fn rechunk(chunks: &[(Dir, Vec<u8>)], how: Chunking) -> Vec<(Dir, Vec<u8>)> {
    let mut out: Vec<(Dir, Vec<u8>)> = Vec::new();
    let mut state = match how {
        Chunking::Random(seed) => seed | 1,
        _ => 1,
    };
    for (dir, data) in chunks {
        match how {
            Chunking::AsRecorded => out.push((*dir, data.clone())),
            Chunking::Bytes => out.extend(data.iter().map(|b| (*dir, vec![*b]))),
            Chunking::Random(_) => {
                let mut rest = &data[..];
                while !rest.is_empty() {
                    // xorshift64: deterministic, no dependency.
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let n = (1 + (state % 700) as usize).min(rest.len());
                    out.push((*dir, rest[..n].to_vec()));
                    rest = &rest[n..];
                }
            }
            Chunking::Coalesced => match out.last_mut() {
                Some((d, buf)) if d == dir => buf.extend_from_slice(data),
                _ => out.push((*dir, data.clone())),
            },
        }
    }
    out
}

/// What a decryptor run reported.
#[derive(Debug, Default)]
pub struct Outcome {
    pub plain: [Vec<u8>; 2],
    pub events: Vec<String>,
    pub negotiated: Vec<(TlsVersion, CipherSuite, bool, bool)>,
    pub stops: Vec<(Dir, StopReason)>,
    pub alerts: Vec<(Dir, Alert, bool)>,
    pub notices: Vec<(Dir, Notice)>,
    pub key_updates: Vec<Dir>,
    pub hello_retries: usize,
    pub facts: HandshakeFacts,
}

/// Feeds `chunks` to a new decryptor with `keys`, then finishes it.
pub fn decrypt(chunks: &[(Dir, Vec<u8>)], keys: &KeyLog) -> Outcome {
    let mut dec = Decryptor::new();
    let mut o = Outcome::default();
    let mut on = |e: DecryptEvent<'_>| collect(&mut o, e);
    for (dir, data) in chunks {
        dec.feed(*dir, data, keys, &mut on);
    }
    dec.finish(&mut on);
    o.facts = dec.facts().clone();
    o
}

fn collect(o: &mut Outcome, e: DecryptEvent<'_>) {
    if !matches!(e, DecryptEvent::AppData { .. }) {
        o.events.push(e.to_string());
    }
    match e {
        DecryptEvent::AppData { dir, data } => o.plain[dir.idx()].extend_from_slice(data),
        DecryptEvent::Negotiated {
            version,
            suite,
            decryptable,
            keys_found,
        } => o.negotiated.push((version, suite, decryptable, keys_found)),
        DecryptEvent::Stopped { dir, reason } => o.stops.push((dir, reason)),
        DecryptEvent::Alert {
            dir,
            alert,
            encrypted,
        } => o.alerts.push((dir, alert, encrypted)),
        DecryptEvent::Notice { dir, notice } => o.notices.push((dir, notice)),
        DecryptEvent::KeyUpdate { dir, .. } => o.key_updates.push(dir),
        DecryptEvent::HelloRetry { .. } => o.hello_retries += 1,
        DecryptEvent::Handshake { .. } => {}
    }
}

/// A key log holding `text`.
pub fn keylog(text: &str) -> KeyLog {
    let mut k = KeyLog::new();
    k.add_text(text);
    k
}

/// A record of this type and version around `body`.
pub fn record(content_type: u8, version: u16, body: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A handshake message: type, 24-bit length, body.
pub fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let len = (body.len() as u32).to_be_bytes();
    let mut m = vec![kind, len[1], len[2], len[3]];
    m.extend_from_slice(body);
    m
}

/// A minimal TLS 1.2 ClientHello record offering `suites`, without extensions.
pub fn client_hello(random: [u8; 32], suites: &[u16]) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(&random);
    b.push(0);
    b.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        b.extend_from_slice(&s.to_be_bytes());
    }
    b.extend_from_slice(&[1, 0]);
    record(22, 0x0301, &handshake(1, &b))
}

/// A minimal ServerHello record choosing `suite` and `version` (TLS 1.3 through the
/// supported_versions extension).
pub fn server_hello(random: [u8; 32], suite: u16, version: u16) -> Vec<u8> {
    let mut b = if version == 0x0304 {
        vec![3, 3]
    } else {
        version.to_be_bytes().to_vec()
    };
    b.extend_from_slice(&random);
    b.push(0);
    b.extend_from_slice(&suite.to_be_bytes());
    b.push(0);
    if version == 0x0304 {
        b.extend_from_slice(&[0, 6, 0, 43, 0, 2, 3, 4]);
    }
    record(22, 0x0303, &handshake(2, &b))
}
