//! End-to-end tests of rdptap's bounds on time and on connections: the real `rdptap`
//! binary between the tests' own loopback peers (and, in gateway mode, the real lab
//! gateway). A peer that stops reading, a client that never speaks, and one client
//! too many are each let go, and said so.

mod support;

use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::{Duration, Instant};
use support::lab_gateway::LabGateway;
use support::net::{accept_within, closed_port, connect, listener, wait_for};
use support::proxy::Proxy;

/// Bound for a single socket operation or a verdict that should come soon.
const T: Duration = Duration::from_secs(10);

/// A minimal X.224 Connection Request, so the connection looks like RDP.
const X224_CR: [u8; 19] = [
    0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00, 0x03,
    0x00, 0x00, 0x00,
];

/// Writes to `s` until a write fails (rdptap let go) or `limit` passes (it did not):
/// true when a write failed.
fn flood_until_released(mut s: TcpStream, limit: Duration) -> bool {
    s.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let chunk = vec![0x5a; 64 * 1024];
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        match s.write(&chunk) {
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

/// A client that sent its request and then stopped reading (its window closes) while
/// the server floods it: rdptap's write to it blocks. The connection must still end at
/// the timers; `close_client` also half-closes the client's sending side first.
fn zero_window(extra: &[&str], close_client: bool) -> (Value, bool, Duration) {
    let (l, server_addr) = listener();
    let proxy = Proxy::start(&server_addr.to_string(), extra);
    let mut c = connect(proxy.addr, T);
    let mut s = accept_within(&l, T).expect("rdptap connected upstream");
    s.set_read_timeout(Some(T)).unwrap();
    c.write_all(&X224_CR).unwrap();
    let mut cr = [0u8; X224_CR.len()];
    s.read_exact(&mut cr).expect("request relayed");
    if close_client {
        c.shutdown(Shutdown::Write).unwrap();
    }
    let started = Instant::now();
    let flood = thread::spawn(move || flood_until_released(s, Duration::from_secs(30)));
    let v = wait_for(Duration::from_secs(30), || {
        proxy.verdicts().first().cloned()
    })
    .unwrap_or_else(|| {
        panic!(
            "no verdict: the blocked write pinned the connection; console:\n{}",
            proxy.stderr_text()
        )
    });
    let after = started.elapsed();
    let released = flood.join().unwrap();
    drop(c);
    (v, released, after)
}

#[test]
fn a_client_that_stops_reading_is_released_at_the_idle_timeout() {
    let (v, released, after) = zero_window(&["--idle-timeout", "1"], false);
    // The flood is not RDP, which the verdict says; how it ended is what counts here.
    assert_eq!(
        (&v["closed_by"], &v["close_kind"]),
        (&"proxy".into(), &"timeout".into()),
        "{v:#}"
    );
    assert_eq!(v["server"]["close_kind"], "timeout", "{v:#}");
    assert!(after < Duration::from_secs(15), "verdict after {after:?}");
    assert!(
        released,
        "the server's writes never failed: rdptap kept the upstream open"
    );
}

#[test]
fn a_client_that_closed_and_stops_reading_is_released_at_the_linger() {
    // No idle timeout: only the linger (1 s, from Proxy::start) can end it.
    let (v, released, after) = zero_window(&[], true);
    assert_eq!(v["closed_by"], "client", "{v:#}");
    assert_eq!(v["client"]["close_kind"], "fin", "{v:#}");
    assert_eq!(v["server"]["close_kind"], "timeout", "{v:#}");
    assert!(after < Duration::from_secs(15), "verdict after {after:?}");
    assert!(
        released,
        "the server's writes never failed: rdptap kept the upstream open"
    );
}

#[test]
fn a_silent_client_is_closed_at_the_first_byte_deadline() {
    let (l, server_addr) = listener();
    let proxy = Proxy::start(&server_addr.to_string(), &["--first-byte-timeout", "1"]);
    let opened = Instant::now();
    let mut c = connect(proxy.addr, T);
    let mut s = accept_within(&l, T).expect("rdptap connected upstream");
    s.set_read_timeout(Some(T)).unwrap();
    let v = wait_for(Duration::from_secs(10), || {
        proxy.verdicts().first().cloned()
    })
    .unwrap_or_else(|| panic!("no verdict; console:\n{}", proxy.stderr_text()));
    let after = opened.elapsed();
    assert!(
        after >= Duration::from_millis(900) && after <= Duration::from_millis(4000),
        "verdict {after:?} after connecting, expected about 1 s: {v:#}"
    );
    assert_eq!(v["cause"], "client_silent", "{v:#}");
    assert_eq!(v["phase"], "tcp_connect", "{v:#}");
    assert_eq!(
        (&v["closed_by"], &v["close_kind"]),
        (&"proxy".into(), &"timeout".into()),
        "{v:#}"
    );
    assert_eq!(v["client"]["bytes"], 0, "{v:#}");
    let ends: Vec<Value> = proxy
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "stream_ended")
        .collect();
    assert!(
        ends.iter().all(|e| e["how"] == "first_byte_timeout"),
        "{ends:#?}"
    );
    // Both peers are let go.
    let mut buf = [0u8; 16];
    assert!(matches!(c.read(&mut buf), Ok(0) | Err(_)));
    assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
}

#[test]
fn a_silent_client_of_the_gateway_is_closed_at_the_first_byte_deadline() {
    // The lab gateway answers rdptap's own TLS handshake; its target is never dialled.
    let gw = LabGateway::start(&format!("127.0.0.1:{}", closed_port()), &[]);
    let ca = gw.ca_dir().display().to_string();
    let proxy = Proxy::start_gateway(
        &gw.addr.to_string(),
        &["--ca-dir", &ca, "--first-byte-timeout", "1"],
    );
    let mut c = connect(proxy.addr, T);
    let v = wait_for(Duration::from_secs(10), || {
        proxy.verdicts().first().cloned()
    })
    .unwrap_or_else(|| panic!("no verdict; console:\n{}", proxy.stderr_text()));
    assert_eq!(v["cause"], "client_silent", "{v:#}");
    assert_eq!(v["closed_by"], "proxy", "{v:#}");
    let mut buf = [0u8; 16];
    assert!(matches!(c.read(&mut buf), Ok(0) | Err(_)));
}

#[test]
fn max_connections_refuses_the_third_and_admits_again_once_one_ends() {
    let (l, server_addr) = listener();
    let proxy = Proxy::start(&server_addr.to_string(), &["--max-connections", "2"]);
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = connect(proxy.addr, T);
        c.write_all(&X224_CR).unwrap();
        let s = accept_within(&l, T).expect("admitted upstream");
        held.push((c, s));
    }
    // The third is closed at once, and never reaches the host.
    let started = Instant::now();
    let mut third = connect(proxy.addr, T);
    let mut buf = [0u8; 16];
    match third.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!("the third connection was not closed: {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(
        accept_within(&l, Duration::from_millis(300)).is_err(),
        "the refused connection reached the host"
    );
    let refused = wait_for(T, || {
        proxy
            .events()
            .into_iter()
            .find(|e| e["kind"] == "connections_refused")
    })
    .unwrap_or_else(|| {
        panic!(
            "no connections_refused event; console:\n{}",
            proxy.stderr_text()
        )
    });
    assert_eq!(
        (&refused["conn"], &refused["limit"]),
        (&0.into(), &2.into())
    );
    assert_eq!(refused["refused"], 1, "{refused:#}");
    assert!(
        proxy.stderr_text().contains("--max-connections"),
        "{}",
        proxy.stderr_text()
    );
    // Once one ends, a new client is admitted again.
    drop(held.pop());
    proxy.wait_verdicts(1, T);
    let mut fourth = connect(proxy.addr, T);
    fourth.write_all(&X224_CR).unwrap();
    let mut s = accept_within(&l, T).expect("admitted again");
    s.set_read_timeout(Some(T)).unwrap();
    let mut cr = [0u8; X224_CR.len()];
    s.read_exact(&mut cr).expect("request relayed");
    assert_eq!(cr, X224_CR);
}

#[test]
fn with_split_files_a_file_that_cannot_be_created_costs_only_its_connection() {
    let dir = support::TempDir::new("bounds-split").expect("temp dir");
    // A directory stands where connection 1's file would go: creating it fails.
    std::fs::create_dir(dir.path().join("trace-conn1.pcapng")).unwrap();
    let pcap = dir.path().join("trace.pcapng").display().to_string();
    let (l, server_addr) = listener();
    let proxy = Proxy::start(&server_addr.to_string(), &["--pcap", &pcap, "--pcap-split"]);
    for n in 1..=2u8 {
        let mut c = connect(proxy.addr, T);
        let mut s = accept_within(&l, T).expect("rdptap connected upstream");
        s.set_read_timeout(Some(T)).unwrap();
        c.write_all(&X224_CR).unwrap();
        let mut cr = [0u8; X224_CR.len()];
        s.read_exact(&mut cr).expect("request relayed");
        let reply = format!("reply number {n}");
        s.write_all(reply.as_bytes()).unwrap();
        let mut got = vec![0u8; reply.len()];
        c.read_exact(&mut got).expect("reply relayed");
        assert_eq!(
            got,
            reply.as_bytes(),
            "connection {n} was relayed unchanged"
        );
        drop(c);
        drop(s);
        proxy.wait_verdicts(n as usize, T);
    }
    let failed: Vec<Value> = proxy
        .events()
        .into_iter()
        .filter(|e| e["kind"] == "capture_failed")
        .collect();
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0]["conn"], 1, "{failed:#?}");
    assert!(
        proxy.stderr_text().contains("connection 1 is not captured"),
        "{}",
        proxy.stderr_text()
    );
    // Connection 2's trace was written whole once it ended.
    let two = wait_for(T, || {
        std::fs::read(dir.path().join("trace-conn2.pcapng"))
            .ok()
            .filter(|b| b.windows(14).any(|w| w == b"reply number 2"))
    });
    assert!(two.is_some(), "connection 2 was not captured");
}
