//! Plaintext fixtures from real peers, and a check that the committed ones stay sound.
//!
//! The ignored tests record real sessions through the capturing man-in-the-middle in
//! `support::capture` and write `tests/data/NAME.plain.{c2s,s2c}.bin` (the bytes inside
//! TLS) or, for standard RDP security, `NAME.{c2s,s2c}.bin`. Run them with
//!
//! ```text
//! cargo test --test capture_plain -- --ignored --test-threads=1 --nocapture
//! ```
//!
//! Each prints the PDUs it saw and how each side ended; tests/data/README.md records what
//! the committed captures hold.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;
use support::capture::peers::{self, Client};
use support::capture::{Capture, Mode, Recording};
use support::{peers_available, SecurityLayer, Shadow, Xrdp, XrdpOpts, Xvfb};
use support::{SHADOW, USER, XFREERDP, XRDP, XVFB};

/// Bound for reaching the active state (xfreerdp takes about 1.5 s to start).
const ACTIVE_TIMEOUT: Duration = Duration::from_secs(25);
/// How long a session runs once active, so the first screen updates are in the capture.
const SETTLE: Duration = Duration::from_secs(2);
/// Bound for the peers to close after the scenario's ending action.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Fixtures larger than this are cut at a PDU boundary.
const MAX_FIXTURE: usize = 300 * 1024;

/// The committed plaintext fixtures (`NAME.plain.c2s.bin` / `NAME.plain.s2c.bin`).
const PLAIN_FIXTURES: &[&str] = &[
    "xrdp-tls-plain-active",
    "xrdp-tls-plain-sigterm",
    "xrdp-tls-plain-serverkill",
    "xrdp-tls-plain-serverterm",
    "shadow-tls-plain-stop",
    "shadow-tls-plain-authfail",
];

// ---------------------------------------------------------------------------------------
// A small walker over RDP byte streams, enough to label what a capture holds.

/// One frame of a stream: where it starts, how long it is and what it carries.
#[derive(Debug)]
struct Pdu {
    offset: usize,
    len: usize,
    what: String,
}

fn u16le(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn u32le(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// Length of the frame at the start of `b`: a TPKT or a fast-path PDU.
fn frame_len(b: &[u8]) -> Option<usize> {
    let first = *b.first()?;
    if first == 3 {
        return Some(usize::from(u16::from_be_bytes([*b.get(2)?, *b.get(3)?])));
    }
    if first & 3 != 0 {
        return None;
    }
    let l1 = *b.get(1)?;
    if l1 & 0x80 == 0 {
        Some(usize::from(l1))
    } else {
        Some((usize::from(l1 & 0x7f) << 8) | usize::from(*b.get(2)?))
    }
}

/// Every frame of `data`, in order; an undecodable tail ends the list as one entry.
fn walk(data: &[u8]) -> Vec<Pdu> {
    let mut out = Vec::new();
    let mut off = 0;
    while off < data.len() {
        let rest = &data[off..];
        match frame_len(rest) {
            Some(len) if len >= 2 && len <= rest.len() => {
                out.push(Pdu {
                    offset: off,
                    len,
                    what: frame(&rest[..len]),
                });
                off += len;
            }
            _ => {
                out.push(Pdu {
                    offset: off,
                    len: rest.len(),
                    what: "partial or unknown tail".to_string(),
                });
                break;
            }
        }
    }
    out
}

/// The largest frame boundary in `data` that is at most `max`.
fn boundary_at_most(data: &[u8], max: usize) -> usize {
    walk(data)
        .iter()
        .map(|p| p.offset + p.len)
        .take_while(|&end| end <= max)
        .last()
        .unwrap_or(0)
}

fn frame(f: &[u8]) -> String {
    if f[0] != 3 {
        return "fast-path".to_string();
    }
    // TPKT (4 bytes), then X.224: a length indicator and the TPDU code.
    match f.get(5).map(|c| c & 0xf0) {
        Some(0xe0) => "X.224 Connection Request".to_string(),
        Some(0xd0) => "X.224 Connection Confirm".to_string(),
        Some(0x80) => "X.224 Disconnect Request".to_string(),
        Some(0xf0) => mcs(f.get(7..).unwrap_or_default()),
        _ => "TPKT, unknown X.224".to_string(),
    }
}

fn mcs(m: &[u8]) -> String {
    if m.starts_with(&[0x7f, 0x65]) {
        return "MCS Connect-Initial".to_string();
    }
    if m.starts_with(&[0x7f, 0x66]) {
        return "MCS Connect-Response".to_string();
    }
    let Some(&first) = m.first() else {
        return "X.224 Data, empty".to_string();
    };
    match first >> 2 {
        1 => "MCS Erect Domain Request".to_string(),
        8 => {
            // The 3-bit reason follows the 6-bit choice across the byte boundary.
            let second = m.get(1).copied().unwrap_or(0);
            let reason = ((first & 3) << 1) | (second >> 7);
            format!("MCS Disconnect Provider Ultimatum (reason {reason})")
        }
        10 => "MCS Attach User Request".to_string(),
        11 => "MCS Attach User Confirm".to_string(),
        14 => "MCS Channel Join Request".to_string(),
        15 => "MCS Channel Join Confirm".to_string(),
        25 | 26 => send_data(m),
        other => format!("MCS PDU choice {other}"),
    }
}

/// MCS Send Data Request/Indication: initiator, channel, flags, a PER length, the data.
fn send_data(m: &[u8]) -> String {
    let Some(channel) = m.get(3..5).map(|c| u16::from_be_bytes([c[0], c[1]])) else {
        return "MCS Send Data, short".to_string();
    };
    let (len_bytes, _) = match m.get(6) {
        Some(&l) if l & 0x80 != 0 => (2, ()),
        Some(_) => (1, ()),
        None => return "MCS Send Data, short".to_string(),
    };
    let payload = m.get(6 + len_bytes..).unwrap_or_default();
    // xrdp and FreeRDP both put the I/O channel at 1003; other channels are virtual ones.
    if channel != 1003 {
        return format!("channel {channel} data");
    }
    io_pdu(payload)
}

fn io_pdu(p: &[u8]) -> String {
    // A share control header states its own length and a version-1 PDU type. Anything else
    // on the I/O channel starts with a basic security header (Client Info, licensing).
    if let (Some(total), Some(ty)) = (u16le(p, 0), u16le(p, 2)) {
        if usize::from(total) == p.len() && ty & 0xfff0 == 0x0010 {
            return share(p, ty & 0xf);
        }
        if total == 0x8000 {
            return "Flow Control".to_string();
        }
    }
    match u16le(p, 0) {
        Some(f) if f & 0x0040 != 0 => "Client Info".to_string(),
        Some(f) if f & 0x0080 != 0 => licence(p.get(4..).unwrap_or_default()),
        Some(f) if f & 0x0001 != 0 => "Security Exchange".to_string(),
        Some(f) if f & 0x0008 != 0 => "encrypted".to_string(),
        _ => "unknown I/O channel PDU".to_string(),
    }
}

fn licence(l: &[u8]) -> String {
    match l.first() {
        Some(0x01) => "License Request".to_string(),
        Some(0x02) => "License Platform Challenge".to_string(),
        Some(0x03) => "New License".to_string(),
        Some(0x04) => "Upgrade License".to_string(),
        Some(0x12) => "License Info".to_string(),
        Some(0x13) => "New License Request".to_string(),
        Some(0x15) => "Platform Challenge Response".to_string(),
        Some(0xff) => {
            let code = u32le(l, 4).unwrap_or(0);
            let transition = u32le(l, 8).unwrap_or(0);
            let known = if code == 7 {
                " STATUS_VALID_CLIENT"
            } else {
                ""
            };
            format!("License Error Alert (code {code:#x}{known}, transition {transition:#x})")
        }
        _ => "licensing, unknown".to_string(),
    }
}

fn share(p: &[u8], ty: u16) -> String {
    match ty {
        1 => "Demand Active".to_string(),
        3 => "Confirm Active".to_string(),
        6 => "Deactivate All".to_string(),
        0xa => "Server Redirection".to_string(),
        7 => share_data(p),
        other => format!("share control type {other}"),
    }
}

/// Share data header: the share control header (6), shareId (4), pad, streamId,
/// uncompressedLength (2), pduType2, compressedType, compressedLength (2).
fn share_data(p: &[u8]) -> String {
    let Some(&ty2) = p.get(14) else {
        return "Data PDU, short".to_string();
    };
    // A bulk-compressed body (PACKET_COMPRESSED in compressedType) cannot be read here.
    if p.get(15).is_some_and(|c| c & 0x20 != 0) {
        return format!("Data PDU type2 {ty2:#x} (compressed)");
    }
    let body = 18;
    let arg = u32le(p, body);
    let name = match ty2 {
        0x02 => match u16le(p, body) {
            Some(0) => "Update: Orders",
            Some(1) => "Update: Bitmap",
            Some(2) => "Update: Palette",
            Some(3) => "Update: Synchronize",
            _ => "Update",
        }
        .to_string(),
        0x14 => match u16le(p, body) {
            Some(1) => "Control (Request Control)",
            Some(2) => "Control (Granted Control)",
            Some(3) => "Control (Detach)",
            Some(4) => "Control (Cooperate)",
            _ => "Control",
        }
        .to_string(),
        0x1b => "Pointer".to_string(),
        0x1c => "Input".to_string(),
        0x1f => "Synchronize".to_string(),
        0x21 => "Refresh Rect".to_string(),
        0x22 => "Play Sound".to_string(),
        0x23 => "Suppress Output".to_string(),
        0x24 => "Shutdown Request".to_string(),
        0x25 => "Shutdown Denied".to_string(),
        0x26 => format!("Save Session Info (infoType {})", arg.unwrap_or(0)),
        0x27 => "Font List".to_string(),
        0x28 => "Font Map".to_string(),
        0x29 => "Set Keyboard Indicators".to_string(),
        0x2b => "Persistent Key List".to_string(),
        0x2c => "Bitmap Cache Error".to_string(),
        0x2d => "Set Keyboard IME Status".to_string(),
        0x2f => format!("Set Error Info ({:#x})", arg.unwrap_or(0)),
        0x32 => "ARC Status".to_string(),
        0x36 => "Status Info".to_string(),
        0x37 => "Monitor Layout".to_string(),
        0x38 => "Frame Acknowledge".to_string(),
        other => format!("Data PDU type2 {other:#x}"),
    };
    name
}

/// The PDU labels of `data` with runs of the same label folded: `fast-path x12 (3456 bytes)`.
fn summary(data: &[u8]) -> Vec<String> {
    let mut out: Vec<(String, usize, usize)> = Vec::new();
    for p in walk(data) {
        match out.last_mut() {
            Some((what, n, bytes)) if *what == p.what => {
                *n += 1;
                *bytes += p.len;
            }
            _ => out.push((p.what, 1, p.len)),
        }
    }
    out.into_iter()
        .map(|(what, n, bytes)| match n {
            1 => format!("{what} ({bytes} bytes)"),
            _ => format!("{what} x{n} ({bytes} bytes)"),
        })
        .collect()
}

fn seen(data: &[u8], label: &str) -> bool {
    walk(data).iter().any(|p| p.what.starts_with(label))
}

// ---------------------------------------------------------------------------------------
// Capture scenarios

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

/// The server has answered the client's Font List: the connection sequence is done.
fn active(r: &Recording) -> bool {
    seen(&r.s2c, "Font Map")
}

/// Print what a capture holds, cut it to size and write it as fixture NAME.
fn keep(name: &str, mut rec: Recording, notes: &[String]) {
    for v in [&mut rec.c2s, &mut rec.s2c] {
        if v.len() > MAX_FIXTURE {
            let keep = boundary_at_most(v, MAX_FIXTURE);
            eprintln!("{name}: cutting {} bytes to {keep}", v.len());
            v.truncate(keep);
        }
    }
    eprintln!(
        "=== {name}: mode {:?}, TLS client side {} / server side {}",
        rec.mode, rec.client_tls, rec.server_tls
    );
    eprintln!("ends: {}; error {:?}", rec.ends(), rec.error);
    for n in notes {
        eprintln!("note: {n}");
    }
    let (c2s, s2c) = match rec.mode {
        Some(Mode::Raw) => (
            [rec.x224_c2s.as_slice(), &rec.c2s].concat(),
            [rec.x224_s2c.as_slice(), &rec.s2c].concat(),
        ),
        _ => (rec.c2s.clone(), rec.s2c.clone()),
    };
    eprintln!("--- c2s {} bytes", c2s.len());
    for l in summary(&c2s) {
        eprintln!("  {l}");
    }
    eprintln!("--- s2c {} bytes", s2c.len());
    for l in summary(&s2c) {
        eprintln!("  {l}");
    }
    let dir = data_dir();
    match rec.mode {
        Some(Mode::Raw) => rec.write_raw(&dir, name),
        _ => rec.write_plain(&dir, name),
    }
    .expect("write fixture");
}

/// The xfreerdp arguments for a full session (no `+auth-only`) against `addr`. No password:
/// with one, xrdp would try to log on at once through its session manager, which the
/// tests do not run, instead of showing its login screen.
fn session_args(addr: std::net::SocketAddr, sec: &str) -> Vec<String> {
    vec![
        format!("/v:{addr}"),
        format!("/u:{USER}"),
        "/cert:ignore".to_string(),
        format!("/sec:{sec}"),
    ]
}

/// Start the client through `cap` and wait until the session is active, then a little more
/// so the first screen updates are in.
fn connect(cap: &Capture, display: &str, args: &[String]) -> Client {
    let client = Client::spawn(args, display).expect("xfreerdp");
    if !cap.wait_until(ACTIVE_TIMEOUT, active) {
        let r = cap.snapshot();
        panic!(
            "not active within {ACTIVE_TIMEOUT:?}; ends {}; error {:?}\nclient log:\n{}\ns2c: {:?}",
            r.ends(),
            r.error,
            client.log(),
            summary(&r.s2c)
        );
    }
    std::thread::sleep(SETTLE);
    client
}

/// The client's exit, once it has exited (bounded), and the telling lines of its log.
fn client_notes(client: &mut Client) -> Vec<String> {
    let exit = match client.wait(CLOSE_TIMEOUT) {
        Some(s) => format!("xfreerdp exited: {s}"),
        None => "xfreerdp still running".to_string(),
    };
    let log = client.log();
    let lines = log.lines().filter(|l| {
        // Skip the backtrace FreeRDP prints for a caught signal.
        let backtrace = l.contains("[com.freerdp.utils] - ") && !l.contains("Caught signal");
        !backtrace && (l.contains("ERROR") || l.contains("disconnect") || l.contains("signal"))
    });
    std::iter::once(exit)
        .chain(lines.map(String::from))
        .collect()
}

/// xrdp with `layer` and `crypt` and a client of `sec` through a capture, active.
fn xrdp_active(layer: SecurityLayer, crypt: &str, sec: &str) -> (Xvfb, Xrdp, Capture, Client) {
    let x = Xvfb::start().expect("Xvfb");
    let opts = XrdpOpts::default().security_layer(layer).crypt_level(crypt);
    let server = Xrdp::start(&opts).expect("xrdp");
    let cap = Capture::start(server.addr()).expect("capture");
    let client = connect(&cap, &x.display(), &session_args(cap.addr(), sec));
    (x, server, cap, client)
}

/// The shadow server with `args`, sharing its own display, and a TLS client through a
/// capture, active. The client gets a separate display: its window inside the shared
/// screen would feed back into what is shared.
fn shadow_active(args: &[&str]) -> (Xvfb, Xvfb, Shadow, Capture, Client) {
    let shared = Xvfb::start().expect("Xvfb for the shadow server");
    let x = Xvfb::start().expect("Xvfb for the client");
    let server = peers::start_shadow(&shared.display(), args).expect("freerdp-shadow-cli");
    let cap = Capture::start(server.addr()).expect("capture");
    let client = connect(&cap, &x.display(), &session_args(cap.addr(), "tls"));
    (shared, x, server, cap, client)
}

fn close_window(client: &Client) -> String {
    match client.close_window() {
        Ok(n) => format!("sent WM_DELETE_WINDOW to {n} window(s)"),
        Err(e) => panic!("closing the client window: {e}"),
    }
}

#[test]
#[ignore = "records a fixture from real peers; run by hand"]
fn xrdp_tls_plain_active() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let (_x, _server, cap, mut client) = xrdp_active(SecurityLayer::Tls, "high", "tls");
    let mut notes = vec![close_window(&client)];
    notes.extend(client_notes(&mut client));
    keep("xrdp-tls-plain-active", cap.finish(CLOSE_TIMEOUT), &notes);
}

#[test]
#[ignore = "records a fixture from real peers; run by hand"]
fn xrdp_tls_plain_sigterm() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let (_x, _server, cap, mut client) = xrdp_active(SecurityLayer::Tls, "high", "tls");
    client.signal(libc::SIGTERM);
    let mut notes = vec!["SIGTERM to xfreerdp".to_string()];
    notes.extend(client_notes(&mut client));
    keep("xrdp-tls-plain-sigterm", cap.finish(CLOSE_TIMEOUT), &notes);
}

/// End the xrdp child serving the connection with `sig` and record fixture `name`.
fn xrdp_server_ends(name: &str, sig: libc::c_int) {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    let (_x, server, cap, mut client) = xrdp_active(SecurityLayer::Tls, "high", "tls");
    let children = peers::xrdp_children(&server);
    assert_eq!(
        children.len(),
        1,
        "one xrdp child per connection: {children:?}"
    );
    peers::signal_pid(children[0], sig);
    let mut notes = vec![format!("signal {sig} to the xrdp child {}", children[0])];
    notes.extend(client_notes(&mut client));
    notes.push(server.log());
    keep(name, cap.finish(CLOSE_TIMEOUT), &notes);
}

#[test]
#[ignore = "records a fixture from real peers; run by hand"]
fn xrdp_tls_plain_serverkill() {
    xrdp_server_ends("xrdp-tls-plain-serverkill", libc::SIGKILL);
}

#[test]
#[ignore = "records a fixture from real peers; run by hand"]
fn xrdp_tls_plain_serverterm() {
    xrdp_server_ends("xrdp-tls-plain-serverterm", libc::SIGTERM);
}

#[test]
#[ignore = "records a fixture from real peers; run by hand"]
fn shadow_tls_plain_stop() {
    if !peers_available(&[XVFB, SHADOW, XFREERDP]) {
        return;
    }
    // -auth: the X11 shadow server otherwise checks the Client Info credentials with PAM.
    let (_s, _x, mut server, cap, mut client) = shadow_active(&["/sec:tls", "-auth"]);
    peers::signal_shadow(&server, libc::SIGINT);
    let stopped = peers::shadow_exited(&mut server, CLOSE_TIMEOUT);
    let mut notes = vec![format!("SIGINT to the shadow server; it exited: {stopped}")];
    notes.extend(client_notes(&mut client));
    notes.push(server.log());
    keep("shadow-tls-plain-stop", cap.finish(CLOSE_TIMEOUT), &notes);
}

#[test]
#[ignore = "records a fixture from real peers; run by hand"]
fn shadow_tls_plain_authfail() {
    if !peers_available(&[XVFB, SHADOW, XFREERDP]) {
        return;
    }
    // Authentication is on by default; labuser is no system user, so PAM refuses it once
    // the session is active, and the server drops the connection by itself.
    let (_s, _x, server, cap, mut client) = shadow_active(&["/sec:tls"]);
    let mut notes = client_notes(&mut client);
    notes.push(server.log());
    keep(
        "shadow-tls-plain-authfail",
        cap.finish(CLOSE_TIMEOUT),
        &notes,
    );
}

#[test]
#[ignore = "records a fixture from real peers; run by hand"]
fn xrdp_rdp_clear() {
    if !peers_available(&[XVFB, XRDP, XFREERDP]) {
        return;
    }
    // crypt_level=none is not in xrdp.ini(5), but xrdp 0.9.21 accepts it: standard RDP
    // security with encryption level and method NONE, so nothing is encrypted.
    let (_x, server, cap, mut client) = xrdp_active(SecurityLayer::Rdp, "none", "rdp");
    let mut notes = vec![close_window(&client)];
    notes.extend(client_notes(&mut client));
    notes.push(server.log());
    keep("xrdp-rdp-clear", cap.finish(CLOSE_TIMEOUT), &notes);
}

// ---------------------------------------------------------------------------------------
// Checks on the committed fixtures (these run everywhere)

fn read_fixture(file: &str) -> Vec<u8> {
    let p = data_dir().join(file);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Labels that show the walker lost its way in a stream.
fn undecoded(data: &[u8]) -> Vec<String> {
    walk(data)
        .into_iter()
        .filter(|p| {
            ["unknown", "short", "choice", "type "]
                .iter()
                .any(|w| p.what.contains(w))
        })
        .map(|p| format!("{} at {}", p.what, p.offset))
        .collect()
}

#[test]
fn plain_fixtures_start_with_mcs_connect() {
    for name in PLAIN_FIXTURES {
        let c2s = read_fixture(&format!("{name}.plain.c2s.bin"));
        let s2c = read_fixture(&format!("{name}.plain.s2c.bin"));
        // TPKT version 3, then X.224 Data (02 f0 80), then the BER MCS Connect PDU.
        assert_eq!(&c2s[..2], &[0x03, 0x00], "{name} c2s TPKT");
        assert_eq!(&c2s[4..9], &[0x02, 0xf0, 0x80, 0x7f, 0x65], "{name} c2s");
        assert_eq!(&s2c[..2], &[0x03, 0x00], "{name} s2c TPKT");
        assert_eq!(&s2c[4..9], &[0x02, 0xf0, 0x80, 0x7f, 0x66], "{name} s2c");
        // Every capture here reached the active state, and each stream is whole frames.
        assert!(
            seen(&c2s, "Client Info") && seen(&c2s, "Font List"),
            "{name} c2s"
        );
        assert!(
            seen(&s2c, "Demand Active") && seen(&s2c, "Font Map"),
            "{name} s2c"
        );
        assert_eq!(undecoded(&c2s), Vec::<String>::new(), "{name} c2s");
        assert_eq!(undecoded(&s2c), Vec::<String>::new(), "{name} s2c");
    }
}

#[test]
fn clear_rdp_fixture_is_readable() {
    // Standard RDP security at encryption level NONE: the raw streams hold the same
    // cleartext PDUs as the plaintext inside TLS, after an X.224 exchange without
    // negotiation data.
    let c2s = read_fixture("xrdp-rdp-clear.c2s.bin");
    let s2c = read_fixture("xrdp-rdp-clear.s2c.bin");
    assert_eq!(walk(&c2s)[0].what, "X.224 Connection Request");
    assert_eq!(walk(&s2c)[0].what, "X.224 Connection Confirm");
    assert_eq!(walk(&s2c)[0].len, 11, "a bare Connection Confirm");
    assert!(seen(&c2s, "Client Info") && seen(&c2s, "Font List"));
    assert!(seen(&s2c, "Demand Active") && seen(&s2c, "Font Map"));
    assert_eq!(undecoded(&c2s), Vec::<String>::new());
    assert_eq!(undecoded(&s2c), Vec::<String>::new());
}
