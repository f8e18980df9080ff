//! Proves that the pcapng encoder writes files Debian's tshark reads without complaint:
//! valid checksums, dissected TPKT/X.224 and HTTP, comments, per-flow byte counts, and TLS
//! decrypted with the keys of an embedded Decryption Secrets Block.

mod support;

use rdptap::record::pcapng::{block, read, Close, TcpFlow};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

/// A capture file being built, with a clock that ticks 1 ms per packet.
struct Capture {
    buf: Vec<u8>,
    ts: u64,
}

impl Capture {
    fn new() -> Capture {
        let mut buf = Vec::new();
        block::section_header(&mut buf, "rdptap test");
        Capture {
            buf,
            ts: 1_700_000_000_000_000,
        }
    }

    /// An `emit` for a flow: each packet becomes one EPB on `iface`, the first one of the
    /// call carrying `comment`.
    fn on<'a>(&'a mut self, iface: u32, comment: Option<&'a str>) -> impl FnMut(&[u8], &[u8]) + 'a {
        let mut comment = comment;
        move |h, p| {
            self.ts += 1_000;
            let comments: Vec<&str> = comment.take().into_iter().collect();
            block::packet(&mut self.buf, iface, self.ts, &[h, p], &comments);
        }
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// TPKT + X.224 Connection Request with a cookie and an RDP negotiation request
/// (TLS | CredSSP).
fn connection_request() -> Vec<u8> {
    let cookie = b"Cookie: mstshash=labuser\r\n";
    let neg = [0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00];
    let li = 6 + cookie.len() + neg.len();
    let total = 4 + 1 + li;
    let mut v = vec![0x03, 0x00, (total >> 8) as u8, total as u8];
    v.extend_from_slice(&[li as u8, 0xE0, 0, 0, 0, 0, 0]);
    v.extend_from_slice(cookie);
    v.extend_from_slice(&neg);
    v
}

/// TPKT + X.224 Connection Confirm selecting TLS.
fn connection_confirm() -> Vec<u8> {
    let mut v = vec![0x03, 0x00, 0x00, 0x13, 0x0E, 0xD0, 0, 0, 0x12, 0x34, 0];
    v.extend_from_slice(&[0x02, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00]);
    v
}

/// The gateway's HTTP-transport OUT channel request.
const RDG_OUT_DATA: &[u8] = b"RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\n\
Host: gw.example\r\n\
Cache-Control: no-cache\r\n\
RDG-Connection-Id: {6b0b7ab2-5c5e-4b2f-9d7e-0c5d8e2f1a10}\r\n\
Content-Length: 0\r\n\r\n";

/// A second request on the same keep-alive connection, with a method Wireshark knows.
const GET: &[u8] = b"GET /remoteDesktopGateway/ HTTP/1.1\r\nHost: gw.example\r\n\r\n";

/// A syntactically valid NSS key log line (TLS 1.2 style).
fn keylog_line() -> Vec<u8> {
    format!("CLIENT_RANDOM {} {}\n", "ab".repeat(32), "cd".repeat(48)).into_bytes()
}

/// An HTTP 200 response with a body of `n` bytes.
fn response(n: usize) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {n}\r\n\r\n"
    )
    .into_bytes();
    r.extend((0..n).map(|i| b'a' + (i % 26) as u8));
    r
}

/// Builds the test file: two IPv4 flows and one IPv6 flow, each on its own interface.
/// Returns it with the payload bytes of each flow in the order the flows first appear
/// (which is how tshark numbers `tcp.stream`), and the number of commented packets.
fn build() -> (Vec<u8>, Vec<u64>, usize) {
    let mut cap = Capture::new();
    let c = &mut cap;
    block::interface(
        &mut c.buf,
        "rdptap-conn-1",
        "connection 1: 127.0.0.1:50000 -> :3389",
    );
    block::interface(
        &mut c.buf,
        "rdptap-conn-2",
        "connection 2: 192.0.2.10:50001 -> :80",
    );
    block::interface(
        &mut c.buf,
        "rdptap-conn-3",
        "connection 3: [2001:db8::1]:50002",
    );
    block::secrets(&mut c.buf, &keylog_line(), Some("rdptap-conn-1"));

    let (cr, cc) = (connection_request(), connection_confirm());
    let (big, small) = (response(200_000), response(10));
    let (client4, server4) = (addr("127.0.0.1:50000"), addr("127.0.0.1:3389"));
    let mut rdp4 = TcpFlow::new(client4, server4, [0x1000, 0x2000]);
    let (client_gw, gw) = (addr("192.0.2.10:50001"), addr("198.51.100.20:80"));
    // The server's sequence numbers wrap during the large response.
    let mut http = TcpFlow::new(client_gw, gw, [7, u32::MAX - 100]);
    let (client6, server6) = (addr("[2001:db8::1]:50002"), addr("[2001:db8::2]:3389"));
    let mut rdp6 = TcpFlow::new(client6, server6, [1, 2]);

    rdp4.open(&mut c.on(0, None));
    http.open(&mut c.on(1, None));
    rdp4.data(
        true,
        &cr,
        &mut c.on(0, Some("rdptap: X.224 Connection Request")),
    );
    rdp6.open(&mut c.on(2, None));
    rdp4.data(false, &cc, &mut c.on(0, None));
    http.data(
        true,
        RDG_OUT_DATA,
        &mut c.on(1, Some("rdptap: RDG_OUT_DATA")),
    );
    rdp6.data(true, &cr, &mut c.on(2, None));
    http.data(
        false,
        &big,
        &mut c.on(1, Some("rdptap: gateway response, 200")),
    );
    rdp6.data(false, &cc, &mut c.on(2, None));
    http.data(true, GET, &mut c.on(1, None));
    http.data(false, &small, &mut c.on(1, None));

    rdp4.close(true, Close::Fin, &mut c.on(0, None));
    rdp4.close(
        false,
        Close::Fin,
        &mut c.on(0, Some("rdptap: server closed")),
    );
    http.close(
        false,
        Close::Rst,
        &mut c.on(1, Some("rdptap: gateway reset")),
    );
    rdp6.close(true, Close::Fin, &mut c.on(2, None));

    let rdp = (cr.len() + cc.len()) as u64;
    let gateway = (RDG_OUT_DATA.len() + big.len() + GET.len() + small.len()) as u64;
    (cap.buf, vec![rdp, gateway, rdp], 5)
}

/// Runs tshark on `file` with checksum validation on and returns its output; fails on a
/// non-zero exit or any complaint on stderr.
fn tshark(file: &Path, args: &[&str]) -> String {
    let out = Command::new(support::find_bin(support::TSHARK).expect("tshark"))
        .args([
            "-n",
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
        ])
        .arg("-r")
        .arg(file)
        .args(args)
        .output()
        .expect("run tshark");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tshark {args:?} failed: {stderr}");
    // tshark reports a damaged file on stderr ("cut short", "appears to be damaged");
    // the only line allowed is its notice about running as root.
    let complaints = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("Running as user"))
        .count();
    assert_eq!(complaints, 0, "tshark {args:?} complained: {stderr}");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// How many frames match a display filter.
fn count(file: &Path, filter: &str) -> usize {
    tshark(file, &["-Y", filter, "-T", "fields", "-e", "frame.number"])
        .lines()
        .count()
}

#[test]
fn tshark_reads_synthetic_flows_cleanly() {
    if !support::peers_available(&[support::TSHARK]) {
        return;
    }
    let dir = support::TempDir::new("pcapng-tshark").unwrap();
    let file = dir.path().join("flows.pcapng");
    let (data, sizes, commented) = build();
    assert!(read::blocks(&data).all(|b| b.is_ok()));
    std::fs::write(&file, &data).unwrap();

    let verbose = tshark(&file, &["-V"]);
    for bad in [
        "Malformed",
        "Expert Info (Error",
        "Bad checksum",
        "[incorrect",
        "Status: Bad",
    ] {
        assert!(!verbose.contains(bad), "tshark -V says {bad:?}:\n{verbose}");
    }
    // The expert summary has no errors, and its one warning is the RST we wrote.
    let expert = tshark(&file, &["-q", "-z", "expert,warn"]);
    assert!(!expert.contains("Errors ("), "{expert}");
    assert!(
        expert.contains("Warns (1)") && expert.contains("Connection reset (RST)"),
        "{expert}"
    );
    // Every IPv4 header and every TCP segment was checked, not skipped.
    let ip_good = verbose.matches("[Header checksum status: Good]").count();
    let tcp_good = verbose.matches("[Checksum Status: Good]").count();
    let frames = count(&file, "frame");
    assert_eq!(tcp_good, frames);
    assert_eq!(ip_good, frames - count(&file, "ipv6"));
    assert_eq!(
        count(&file, "tcp.analysis.flags && !tcp.analysis.window_update"),
        0
    );

    // Comments: tshark 4.0 names the field `frame.comment`.
    assert_eq!(count(&file, "frame.comment"), commented);
    assert_eq!(
        count(&file, r#"frame.comment == "rdptap: RDG_OUT_DATA""#),
        1
    );
    // One interface per connection, by name.
    assert_eq!(
        count(&file, r#"frame.interface_name == "rdptap-conn-3""#),
        6
    );

    // TPKT/X.224 on both RDP flows (tshark 4.0 calls X.224 `cotp`), with the negotiation.
    assert_eq!(
        count(&file, "tpkt && cotp.type == 0x0e"),
        2,
        "Connection Requests"
    );
    assert_eq!(
        count(&file, "tpkt && cotp.type == 0x0d"),
        2,
        "Connection Confirms"
    );
    assert_eq!(count(&file, "rdp.negReq.requestedProtocols == 3"), 2);
    // (tshark 4.0 files the response's selected protocol under `negReq`.)
    assert_eq!(count(&file, "rdp.negReq.selectedProtocol == 1"), 2);
    assert_eq!(count(&file, r#"rdp.rt_cookie contains "labuser""#), 2);

    // HTTP on port 80. Wireshark's HTTP dissector only accepts methods it knows, and
    // RDG_OUT_DATA is not one of them: that request stays TCP payload. The response to
    // it, and the next request on the connection, are HTTP.
    assert_eq!(count(&file, r#"tcp.payload contains "RDG_OUT_DATA""#), 1);
    assert_eq!(count(&file, r#"http.request.method == "GET""#), 1);
    assert_eq!(
        count(&file, r#"http.request.uri == "/remoteDesktopGateway/""#),
        1
    );
    assert_eq!(count(&file, "http.response.code == 200"), 2);
    assert_eq!(count(&file, "http.content_length == 200000"), 1);

    // The payload tshark sees per TCP stream is exactly what each flow carried.
    let fields = tshark(
        &file,
        &["-T", "fields", "-e", "tcp.stream", "-e", "tcp.len"],
    );
    let mut per_stream: BTreeMap<usize, u64> = BTreeMap::new();
    for line in fields.lines() {
        let (stream, len) = line.split_once('\t').expect("two fields");
        *per_stream.entry(stream.parse().unwrap()).or_default() += len.parse::<u64>().unwrap();
    }
    assert_eq!(per_stream.into_values().collect::<Vec<_>>(), sizes);

    // The endings: two FINs on the first flow, one on the third, a RST on the gateway's.
    assert_eq!(count(&file, "tcp.flags.fin == 1"), 3);
    assert_eq!(count(&file, "tcp.flags.reset == 1 && tcp.stream == 1"), 1);
}

#[test]
fn tshark_reads_a_file_cut_short_up_to_the_torn_block() {
    if !support::peers_available(&[support::TSHARK]) {
        return;
    }
    let dir = support::TempDir::new("pcapng-torn").unwrap();
    let (data, _, _) = build();
    let whole = count_packets(&data);
    // Cut in the middle of the large response's second segment.
    let cut = read::blocks(&data)
        .map(|b| b.unwrap())
        .find(|b| b.raw.len() > 60_000 && b.offset > 20_000)
        .map(|b| b.offset + b.raw.len() / 2)
        .unwrap();
    let file = dir.path().join("torn.pcapng");
    std::fs::write(&file, &data[..cut]).unwrap();
    let frames_before_cut = count_packets(&data[..cut]);
    assert!(frames_before_cut < whole);
    let out = Command::new(support::find_bin(support::TSHARK).expect("tshark"))
        .args(["-n", "-T", "fields", "-e", "frame.number", "-r"])
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cut short"), "{stderr}");
    let read = String::from_utf8_lossy(&out.stdout).lines().count();
    assert_eq!(read, frames_before_cut);
}

/// The packets among the whole blocks at the start of `data`.
fn count_packets(data: &[u8]) -> usize {
    read::blocks(data)
        .filter_map(Result::ok)
        .filter(|b| b.kind == block::EPB)
        .count()
}

/// A TLS session run in memory between rustls endpoints, recorded as a key log and the
/// bytes each side sent.
mod tls {
    use std::io::{Read, Write};
    use std::sync::{Arc, Mutex};

    /// Collects the NSS key log lines rustls reports.
    #[derive(Debug, Default)]
    struct Keys(Mutex<Vec<u8>>);

    impl rustls::KeyLog for Keys {
        fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
            let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
            let line = format!("{label} {} {}\n", hex(client_random), hex(secret));
            self.0.lock().unwrap().extend_from_slice(line.as_bytes());
        }
        fn will_log(&self, _label: &str) -> bool {
            true
        }
    }

    /// What crossed the wire, in order: `(from_client, bytes)`.
    pub type Flights = Vec<(bool, Vec<u8>)>;

    /// Runs a handshake and one HTTP exchange; returns the flights and the key log.
    pub fn session(request: &[u8], response: &[u8]) -> (Flights, Vec<u8>) {
        let keys = Arc::new(Keys::default());
        let client_cfg = rdptap::tls::rustls_cfg::upstream_config(Some(keys.clone()));
        let cert = rcgen::generate_simple_self_signed(vec!["host.example".into()]).unwrap();
        let key = rustls::pki_types::PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der());
        let server_cfg =
            rustls::ServerConfig::builder_with_provider(rdptap::tls::rustls_cfg::provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(vec![cert.cert.der().clone()], key.into())
                .unwrap();
        let name = "host.example".try_into().unwrap();
        let mut client = rustls::ClientConnection::new(client_cfg, name).unwrap();
        let mut server = rustls::ServerConnection::new(Arc::new(server_cfg)).unwrap();
        client.writer().write_all(request).unwrap();
        let mut flights = Vec::new();
        let mut answered = false;
        // A handshake and one exchange take a handful of flights; the bound only stops a
        // broken exchange from spinning.
        for _ in 0..10 {
            let mut buf = Vec::new();
            while client.wants_write() {
                client.write_tls(&mut buf).unwrap();
            }
            if !buf.is_empty() {
                server.read_tls(&mut &buf[..]).unwrap();
                server.process_new_packets().unwrap();
                flights.push((true, buf));
            }
            let mut got = Vec::new();
            let _ = server.reader().read_to_end(&mut got);
            if !got.is_empty() && !answered {
                assert_eq!(got, request);
                server.writer().write_all(response).unwrap();
                answered = true;
            }
            let mut buf = Vec::new();
            while server.wants_write() {
                server.write_tls(&mut buf).unwrap();
            }
            if !buf.is_empty() {
                client.read_tls(&mut &buf[..]).unwrap();
                client.process_new_packets().unwrap();
                flights.push((false, buf));
            }
        }
        assert!(answered, "the TLS exchange completed");
        let keys = keys.0.lock().unwrap().clone();
        (flights, keys)
    }
}

#[test]
fn tshark_decrypts_tls_with_keys_from_the_secrets_block() {
    if !support::peers_available(&[support::TSHARK]) {
        return;
    }
    let request = b"GET /behind-tls HTTP/1.1\r\nHost: host.example\r\n\r\n";
    let response = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    let (flights, keys) = tls::session(request, response);
    assert!(flights.len() >= 4);

    // Written as a streaming recorder would: the keys become known only after the server's
    // first flight has been relayed, so their DSB comes after the packets they decrypt.
    let mut cap = Capture::new();
    block::interface(&mut cap.buf, "rdptap-conn-1", "connection 1: TLS");
    block::interface(&mut cap.buf, "rdptap-conn-2", "connection 2: other");
    let (client, server) = (addr("10.0.0.1:50000"), addr("10.0.0.2:443"));
    let mut flow = TcpFlow::new(client, server, [100, 200]);
    flow.open(&mut cap.on(0, None));
    for (i, (from_client, bytes)) in flights.iter().enumerate() {
        flow.data(*from_client, bytes, &mut cap.on(0, None));
        if i == 1 {
            block::secrets(&mut cap.buf, &keys, Some("rdptap-conn-1"));
            block::secrets(&mut cap.buf, &keylog_line(), Some("rdptap-conn-2"));
        }
    }
    flow.close(true, Close::Fin, &mut cap.on(0, None));

    // Cutting out connection 1 moves its keys to the front of the section, where tshark
    // reads them before the handshake they unlock, and leaves the other's keys out.
    let cut = read::rewrite(&cap.buf, |name| name == "rdptap-conn-1");
    let kinds: Vec<u32> = read::blocks(&cut).map(|b| b.unwrap().kind).collect();
    assert_eq!(kinds[..2], [block::SHB, block::DSB]);
    assert_eq!(kinds.iter().filter(|&&k| k == block::DSB).count(), 1);

    let dir = support::TempDir::new("pcapng-tls").unwrap();
    let file = dir.path().join("tls.pcapng");
    std::fs::write(&file, &cut).unwrap();
    assert_eq!(
        count(&file, "tls.handshake.type == 1"),
        1,
        "a TLS ClientHello"
    );
    assert_eq!(count(&file, r#"http.request.uri == "/behind-tls""#), 1);
    assert_eq!(count(&file, "http.response.code == 200"), 1);
    let verbose = tshark(&file, &["-V"]);
    assert!(!verbose.contains("Malformed") && !verbose.contains("Expert Info (Error"));
}
