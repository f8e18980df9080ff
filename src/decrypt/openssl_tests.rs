//! OpenSSL as a real peer for what rustls does not speak: CBC suites with and without
//! encrypt_then_mac, TLS 1.0 and 1.1, RSA and DHE key exchange, and OpenSSL's own TLS 1.3.
//! `openssl s_server -rev` (it echoes each line reversed) and `openssl s_client` talk on
//! 127.0.0.1 through a forwarder in this test that records each direction's bytes; the
//! recording is then decrypted with the server's `-keylogfile` and compared with what the
//! client sent and printed.

use super::testkit::{cert, decrypt, keylog, rechunk, Chunking, Chunks};
use super::{Notice, StopReason};
use crate::decode::tls::{AlertDescription, AlertLevel, CipherSuite, TlsVersion};
use crate::vocab::Dir;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A child process that is killed and reaped however the test ends.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scratch directory removed when the test ends.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn openssl_missing() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("skipped: `openssl` is not on PATH");
    }
    !ok
}

/// One OpenSSL configuration, given to both peers.
struct Case {
    name: &'static str,
    /// `-tls1`, `-tls1_1`, `-tls1_2` or `-tls1_3`.
    version_flag: &'static str,
    /// The TLS ≤ 1.2 cipher string, or the TLS 1.3 ciphersuites list.
    ciphers: &'static str,
    etm: bool,
    version: TlsVersion,
    suite: u16,
}

/// What crossed the forwarder, the server's key log, what the client sent and printed.
struct Run {
    chunks: Chunks,
    keylog: String,
    sent: Vec<u8>,
    printed: Vec<u8>,
}

fn args(case: &Case) -> Vec<String> {
    let mut a = vec![case.version_flag.to_string()];
    if case.version == TlsVersion::TLS13 {
        a.extend(["-ciphersuites".to_string(), case.ciphers.to_string()]);
    } else {
        a.extend(["-cipher".to_string(), case.ciphers.to_string()]);
    }
    if !case.etm {
        a.push("-no_etm".to_string());
    }
    a
}

/// What the test types into s_client.
enum Input {
    /// Application data; s_server echoes it reversed.
    Line(Vec<u8>),
    /// An s_client command line (`R` renegotiates); not sent as data.
    Command(&'static [u8]),
}

fn run(case: &Case, server_args: &[&str], inputs: &[Input]) -> Run {
    let dir = std::env::temp_dir().join(format!(
        "rdptap-decrypt-{}-{}",
        std::process::id(),
        case.name
    ));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let scratch = Scratch(dir);
    let (_, _, cert_pem, key_pem) = cert(true);
    let (cert_path, key_path) = (scratch.0.join("cert.pem"), scratch.0.join("key.pem"));
    let keylog_path = scratch.0.join("keylog.txt");
    std::fs::write(&cert_path, cert_pem).expect("cert");
    std::fs::write(&key_path, key_pem).expect("key");

    let mut server = Reaped(
        Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                "127.0.0.1:0",
                "-naccept",
                "1",
                "-rev",
            ])
            .args(server_args)
            .arg("-cert")
            .arg(&cert_path)
            .arg("-key")
            .arg(&key_path)
            .arg("-keylogfile")
            .arg(&keylog_path)
            .args(args(case))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn s_server"),
    );
    let server_port = accept_port(&mut server);

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind forwarder");
    let forward_port = listener.local_addr().expect("addr").port();
    let chunks = Arc::new(Mutex::new(Vec::new()));
    let forwarder = {
        let chunks = chunks.clone();
        thread::spawn(move || forward(listener, server_port, chunks))
    };

    let mut client = Reaped(
        Command::new("openssl")
            .args(["s_client", "-quiet", "-no_ign_eof", "-connect"])
            .arg(format!("127.0.0.1:{forward_port}"))
            .args(args(case))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn s_client"),
    );
    let mut stdin = client.0.stdin.take().expect("stdin");
    let stdout = reader(client.0.stdout.take().expect("stdout"));
    let (mut sent, mut printed) = (Vec::new(), Vec::new());
    for input in inputs {
        match input {
            Input::Line(line) => {
                stdin.write_all(line).expect("write to s_client");
                stdin.flush().expect("flush");
                sent.extend_from_slice(line);
                read_until(&stdout, &mut printed, sent.len());
            }
            Input::Command(command) => {
                stdin.write_all(command).expect("write to s_client");
                stdin.flush().expect("flush");
                thread::sleep(Duration::from_millis(700));
            }
        }
    }
    // End of input makes s_client send close_notify and exit.
    drop(stdin);
    wait(&mut client);
    wait(&mut server);
    let _ = forwarder.join();
    let chunks = std::mem::take(&mut *chunks.lock().expect("lock"));
    let keylog = std::fs::read_to_string(&keylog_path).unwrap_or_default();
    Run {
        chunks,
        keylog,
        sent,
        printed,
    }
}

/// The port from s_server's `ACCEPT 127.0.0.1:PORT` line.
fn accept_port(server: &mut Reaped) -> u16 {
    let stdout = server.0.stdout.take().expect("stdout");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(port) = line.strip_prefix("ACCEPT 127.0.0.1:") {
                let _ = tx.send(port.trim().parse::<u16>().ok());
            }
        }
    });
    rx.recv_timeout(TIMEOUT)
        .ok()
        .flatten()
        .expect("s_server did not say where it listens")
}

/// A thread that passes on what `stdout` gives.
fn reader(stdout: impl Read + Send + 'static) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut stdout = stdout;
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            if tx.send(buf[..n].to_vec()).is_err() {
                return;
            }
        }
    });
    rx
}

/// Adds what `rx` passes on to `got` until it holds `len` bytes or the timeout.
fn read_until(rx: &mpsc::Receiver<Vec<u8>>, got: &mut Vec<u8>, len: usize) {
    let deadline = Instant::now() + TIMEOUT;
    while got.len() < len {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(chunk) => got.extend_from_slice(&chunk),
            Err(_) => return,
        }
    }
}

fn wait(child: &mut Reaped) {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.0.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Relays one connection to the server, recording each read before passing it on, so the
/// recording keeps the order a capture between the peers would see.
fn forward(listener: TcpListener, server_port: u16, chunks: Arc<Mutex<Chunks>>) {
    let Ok((client, _)) = listener.accept() else {
        return;
    };
    let Ok(server) = TcpStream::connect(("127.0.0.1", server_port)) else {
        return;
    };
    let pipe = |from: TcpStream, to: TcpStream, dir: Dir| {
        let chunks = chunks.clone();
        thread::spawn(move || {
            let (mut from, mut to) = (from, to);
            let _ = from.set_read_timeout(Some(TIMEOUT));
            let mut buf = [0u8; 16384];
            while let Ok(n @ 1..) = from.read(&mut buf) {
                chunks.lock().expect("lock").push((dir, buf[..n].to_vec()));
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
            let _ = to.shutdown(Shutdown::Write);
        })
    };
    let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    let up = pipe(client, s2, Dir::C2S);
    let down = pipe(server, c2, Dir::S2C);
    let _ = up.join();
    let _ = down.join();
}

fn check(case: Case) {
    if openssl_missing() {
        return;
    }
    let long: String = (0..3000).map(|i| (b'a' + (i % 26) as u8) as char).collect();
    let first = format!("hello from rdptap over {}\n", case.name).into_bytes();
    let r = run(
        &case,
        &[],
        &[
            Input::Line(first),
            Input::Line(format!("{long}\n").into_bytes()),
        ],
    );
    let name = case.name;
    assert!(
        r.printed.len() >= r.sent.len(),
        "{name}: s_server did not echo"
    );
    let keys = keylog(&r.keylog);
    assert!(!keys.is_empty(), "{name}: no key log from s_server");
    for how in [Chunking::AsRecorded, Chunking::Bytes, Chunking::Random(3)] {
        let o = decrypt(&rechunk(&r.chunks, how), &keys);
        assert!(o.stops.is_empty(), "{name} {how:?}: {:#?}", o.events);
        let negotiated = (case.version, CipherSuite(case.suite), true, true);
        assert_eq!(o.negotiated, [negotiated], "{name}");
        let etm = case.etm
            && case.version != TlsVersion::TLS13
            && !CipherSuite(case.suite)
                .name()
                .is_some_and(|n| n.contains("GCM") || n.contains("CHACHA"));
        assert_eq!(o.facts.encrypt_then_mac, etm, "{name}: encrypt_then_mac");
        assert_eq!(
            o.plain[Dir::C2S.idx()],
            r.sent,
            "{name} {how:?}: client to server"
        );
        assert_eq!(
            o.plain[Dir::S2C.idx()],
            r.printed,
            "{name} {how:?}: server to client"
        );
        let client_closed = o.alerts.iter().any(|(d, a, enc)| {
            *d == Dir::C2S && a.description == AlertDescription::CLOSE_NOTIFY && *enc
        });
        assert!(
            client_closed,
            "{name}: the client's close_notify, decrypted"
        );
    }
}

#[test]
fn openssl_tls12_rsa_aes128_cbc_sha_encrypt_then_mac() {
    check(Case {
        name: "tls12-aes128-sha-etm",
        version_flag: "-tls1_2",
        ciphers: "AES128-SHA:@SECLEVEL=0",
        etm: true,
        version: TlsVersion::TLS12,
        suite: 0x002f,
    });
}

#[test]
fn openssl_tls12_rsa_aes128_cbc_sha_mac_then_encrypt() {
    check(Case {
        name: "tls12-aes128-sha",
        version_flag: "-tls1_2",
        ciphers: "AES128-SHA:@SECLEVEL=0",
        etm: false,
        version: TlsVersion::TLS12,
        suite: 0x002f,
    });
}

#[test]
fn openssl_tls12_ecdhe_rsa_aes256_cbc_sha384() {
    check(Case {
        name: "tls12-ecdhe-aes256-sha384",
        version_flag: "-tls1_2",
        ciphers: "ECDHE-RSA-AES256-SHA384:@SECLEVEL=0",
        etm: false,
        version: TlsVersion::TLS12,
        suite: 0xc028,
    });
}

#[test]
fn openssl_tls12_rsa_aes256_cbc_sha256_encrypt_then_mac() {
    check(Case {
        name: "tls12-aes256-sha256-etm",
        version_flag: "-tls1_2",
        ciphers: "AES256-SHA256:@SECLEVEL=0",
        etm: true,
        version: TlsVersion::TLS12,
        suite: 0x003d,
    });
}

#[test]
fn openssl_tls12_rsa_aes128_gcm() {
    check(Case {
        name: "tls12-rsa-aes128-gcm",
        version_flag: "-tls1_2",
        ciphers: "AES128-GCM-SHA256:@SECLEVEL=0",
        etm: true,
        version: TlsVersion::TLS12,
        suite: 0x009c,
    });
}

#[test]
fn openssl_tls12_dhe_rsa_chacha20_poly1305() {
    check(Case {
        name: "tls12-dhe-chacha",
        version_flag: "-tls1_2",
        ciphers: "DHE-RSA-CHACHA20-POLY1305:@SECLEVEL=0",
        etm: true,
        version: TlsVersion::TLS12,
        suite: 0xccaa,
    });
}

#[test]
fn openssl_tls11_rsa_aes256_cbc_sha() {
    check(Case {
        name: "tls11-aes256-sha",
        version_flag: "-tls1_1",
        ciphers: "AES256-SHA:@SECLEVEL=0",
        etm: false,
        version: TlsVersion::TLS11,
        suite: 0x0035,
    });
}

#[test]
fn openssl_tls11_ecdhe_rsa_aes128_cbc_sha_encrypt_then_mac() {
    check(Case {
        name: "tls11-ecdhe-aes128-sha-etm",
        version_flag: "-tls1_1",
        ciphers: "ECDHE-RSA-AES128-SHA:@SECLEVEL=0",
        etm: true,
        version: TlsVersion::TLS11,
        suite: 0xc013,
    });
}

#[test]
fn openssl_tls10_rsa_aes128_cbc_sha() {
    check(Case {
        name: "tls10-aes128-sha",
        version_flag: "-tls1",
        ciphers: "AES128-SHA:@SECLEVEL=0",
        etm: false,
        version: TlsVersion::TLS10,
        suite: 0x002f,
    });
}

#[test]
fn openssl_tls10_ecdhe_rsa_aes256_cbc_sha_encrypt_then_mac() {
    check(Case {
        name: "tls10-ecdhe-aes256-sha-etm",
        version_flag: "-tls1",
        ciphers: "ECDHE-RSA-AES256-SHA:@SECLEVEL=0",
        etm: true,
        version: TlsVersion::TLS10,
        suite: 0xc014,
    });
}

#[test]
fn openssl_tls13_aes256_gcm_sha384() {
    check(Case {
        name: "tls13-aes256",
        version_flag: "-tls1_3",
        ciphers: "TLS_AES_256_GCM_SHA384",
        etm: true,
        version: TlsVersion::TLS13,
        suite: 0x1302,
    });
}

fn renegotiation(server_args: &[&str]) -> super::testkit::Outcome {
    let case = Case {
        name: if server_args.is_empty() {
            "tls12-renegotiation-refused"
        } else {
            "tls12-renegotiation"
        },
        version_flag: "-tls1_2",
        ciphers: "ECDHE-RSA-AES128-GCM-SHA256",
        etm: true,
        version: TlsVersion::TLS12,
        suite: 0xc02f,
    };
    let inputs = [Input::Line(b"before\n".to_vec()), Input::Command(b"R\n")];
    let r = run(&case, server_args, &inputs);
    let o = decrypt(&r.chunks, &keylog(&r.keylog));
    assert_eq!(o.plain[Dir::C2S.idx()], b"before\n");
    assert_eq!(o.plain[Dir::S2C.idx()], b"erofeb\n");
    let started = (Dir::C2S, Notice::Renegotiation);
    assert!(o.notices.contains(&started), "{:#?}", o.events);
    o
}

#[test]
fn openssl_tls12_renegotiation_stops_both_directions_at_their_change_cipher_spec() {
    if openssl_missing() {
        return;
    }
    let o = renegotiation(&["-client_renegotiation"]);
    let answered = (Dir::S2C, Notice::Renegotiation);
    assert!(o.notices.contains(&answered), "{:#?}", o.events);
    let mut stops = o.stops.clone();
    stops.sort_by_key(|(d, _)| d.idx());
    let expected = [
        (Dir::C2S, StopReason::Renegotiation),
        (Dir::S2C, StopReason::Renegotiation),
    ];
    assert_eq!(stops, expected, "{:#?}", o.events);
}

#[test]
fn openssl_tls12_refused_renegotiation_shows_the_decrypted_alerts() {
    if openssl_missing() {
        return;
    }
    // OpenSSL 3 servers refuse client-initiated renegotiation with a warning alert.
    let o = renegotiation(&[]);
    let alerts: Vec<_> = o
        .alerts
        .iter()
        .map(|(d, a, enc)| (*d, a.level, a.description, *enc))
        .collect();
    let no_renegotiation = AlertDescription(100);
    assert!(
        alerts.contains(&(Dir::S2C, AlertLevel::WARNING, no_renegotiation, true)),
        "no_renegotiation: {:#?}",
        o.events
    );
    assert!(o.stops.is_empty(), "{:#?}", o.events);
}
