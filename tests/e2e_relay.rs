//! End-to-end tests of the relay: the real `rdptap` binary between the tests' own loopback
//! clients and servers. Each test checks both what the peers see on the wire and the
//! verdict rdptap writes for the connection.

mod support;

use serde_json::Value;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};
use support::net::{
    accept_within, closed_port, connect, first_difference, listener, noise, read_to_eof,
    set_zero_linger, wait_for,
};
use support::proxy::Proxy;

/// Bound for a single socket operation or a verdict that should come at once.
const T: Duration = Duration::from_secs(10);

/// A minimal X.224 Connection Request (TPKT + CR TPDU + RDP_NEG_REQ for TLS and NLA), so
/// a connection looks like RDP to rdptap and its verdict is not `protocol_mismatch`.
const X224_CR: [u8; 19] = [
    0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x08, 0x00, 0x03,
    0x00, 0x00, 0x00,
];

/// The connection id rdptap gave the client whose local address is `client`.
fn conn_of(proxy: &Proxy, client: SocketAddr) -> Option<u64> {
    let want = client.to_string();
    proxy
        .events()
        .iter()
        .find(|e| e["kind"] == "accepted" && e["client"] == want.as_str())
        .and_then(|e| e["conn"].as_u64())
}

/// The verdict of the connection whose client had local address `client`.
fn verdict_of(proxy: &Proxy, client: SocketAddr) -> Value {
    let conn = conn_of(proxy, client).unwrap_or_else(|| {
        panic!(
            "no accepted event for {client}; events: {:#?}",
            proxy.events()
        )
    });
    proxy
        .verdicts()
        .into_iter()
        .find(|v| v["conn"] == conn)
        .unwrap_or_else(|| panic!("no verdict for conn {conn}"))
}

fn assert_same(what: &str, got: &[u8], want: &[u8]) {
    if let Some(at) = first_difference(got, want) {
        panic!(
            "{what}: got {} bytes, sent {}; first difference at offset {at}",
            got.len(),
            want.len()
        );
    }
}

#[test]
fn random_bytes_both_ways_arrive_exactly_and_are_counted() {
    const LEN: usize = 8 << 20;
    let up = Arc::new(noise(0x5eed_0001, LEN));
    let down = Arc::new(noise(0x5eed_0002, LEN));
    let (l, server_addr) = listener();
    let proxy = Proxy::start(&server_addr.to_string(), &[]);

    // Each side writes and reads at the same time, from two threads, so that both
    // directions are in flight together and neither can stall on a full socket buffer.
    let server = {
        let down = down.clone();
        thread::spawn(move || {
            let mut s = accept_within(&l, T).expect("rdptap connected upstream");
            s.set_read_timeout(Some(T)).unwrap();
            s.set_write_timeout(Some(T)).unwrap();
            let mut w = s.try_clone().unwrap();
            let writer = thread::spawn(move || {
                w.write_all(&down)?;
                w.shutdown(Shutdown::Write)
            });
            let got = read_to_eof(&mut s);
            writer.join().unwrap().expect("server write");
            got.expect("server read")
        })
    };
    let mut c = connect(proxy.addr, T);
    let mut w = c.try_clone().unwrap();
    let writer = {
        let up = up.clone();
        thread::spawn(move || {
            w.write_all(&up)?;
            w.shutdown(Shutdown::Write)
        })
    };
    let got_down = read_to_eof(&mut c);
    writer.join().unwrap().expect("client write");
    let got_up = server.join().unwrap();
    assert_same("client to server", &got_up, &up);
    assert_same("server to client", &got_down.expect("client read"), &down);
    drop(c);

    let v = proxy.first_verdict(T);
    assert_eq!(v["cause"], "protocol_mismatch", "{v:#}");
    assert_eq!(v["client"]["bytes"], LEN as u64, "{v:#}");
    assert_eq!(v["server"]["bytes"], LEN as u64, "{v:#}");
    assert_eq!(v["client"]["close_kind"], "fin", "{v:#}");
    assert_eq!(v["server"]["close_kind"], "fin", "{v:#}");
}

#[test]
fn refused_upstream_closes_the_client_in_order() {
    let port = closed_port();
    let proxy = Proxy::start(&format!("127.0.0.1:{port}"), &[]);
    let mut c = connect(proxy.addr, T);
    let mut buf = [0u8; 64];
    match c.read(&mut buf) {
        Ok(0) => {}
        other => panic!("expected an orderly close (read 0), got {other:?}"),
    }
    let v = proxy.first_verdict(T);
    assert_eq!(v["cause"], "upstream_refused", "{v:#}");
    assert_eq!(v["phase"], "tcp_connect", "{v:#}");
    assert_eq!(v["closed_by"], "proxy", "{v:#}");
}

#[test]
fn half_close_keeps_the_other_direction_flowing() {
    let request = noise(0x4a1f_0001, 10 * 1024);
    let reply = noise(0x4a1f_0002, 256 * 1024);
    let (l, server_addr) = listener();
    let proxy = Proxy::start(&server_addr.to_string(), &[]);

    let server = {
        let (request, reply) = (request.clone(), reply.clone());
        thread::spawn(move || {
            let mut s = accept_within(&l, T).expect("rdptap connected upstream");
            s.set_read_timeout(Some(T)).unwrap();
            // The client's FIN must arrive while the reply has not even started.
            let got = read_to_eof(&mut s).expect("server read to the client's FIN");
            assert_same("request", &got, &request);
            // Reply after the EOF, in pieces and with pauses, all well inside the
            // 1 s linger that follows the client's close.
            for part in reply.chunks(reply.len() / 4) {
                s.write_all(part)
                    .expect("server writes after the client's FIN");
                thread::sleep(Duration::from_millis(100));
            }
            // Everything was read, so this close is a FIN.
        })
    };
    let mut c = connect(proxy.addr, T);
    c.write_all(&request).unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let got = read_to_eof(&mut c).expect("client reads the whole reply");
    server.join().unwrap();
    assert_same("reply", &got, &reply);

    let v = proxy.first_verdict(T);
    assert_eq!(v["client"]["close_kind"], "fin", "{v:#}");
    assert_eq!(v["server"]["close_kind"], "fin", "{v:#}");
    assert_eq!(v["client"]["bytes"], request.len() as u64, "{v:#}");
    assert_eq!(v["server"]["bytes"], reply.len() as u64, "{v:#}");
    assert_eq!(v["closed_by"], "client", "{v:#}");
}

#[test]
fn silent_server_is_closed_after_the_linger() {
    let (l, server_addr) = listener();
    // Proxy::start passes --linger 1s.
    let proxy = Proxy::start(&server_addr.to_string(), &[]);
    let mut c = connect(proxy.addr, T);
    let mut s = accept_within(&l, T).expect("rdptap connected upstream");
    s.set_read_timeout(Some(T)).unwrap();
    c.write_all(&X224_CR).unwrap();
    let mut cr = [0u8; X224_CR.len()];
    s.read_exact(&mut cr).expect("request relayed");
    assert_eq!(cr, X224_CR);

    let closed = Instant::now();
    drop(c);
    // The FIN is passed on at once; only the silent server's side waits for the linger.
    let mut buf = [0u8; 16];
    assert_eq!(s.read(&mut buf).expect("FIN relayed"), 0);
    assert!(
        closed.elapsed() < Duration::from_millis(900),
        "the client's FIN took {:?} to reach the server",
        closed.elapsed()
    );

    let v = wait_for(Duration::from_secs(5), || proxy.verdicts().first().cloned())
        .unwrap_or_else(|| panic!("no verdict; console:\n{}", proxy.stderr_text()));
    let after = closed.elapsed();
    // Linger 1 s from the last byte (the request, just before the close), plus slack for
    // the 10 ms file poll and a loaded machine.
    assert!(
        after >= Duration::from_millis(800) && after <= Duration::from_millis(2500),
        "verdict {after:?} after the client's close, expected about 1 s: {v:#}"
    );
    assert_eq!(v["server"]["close_kind"], "timeout", "{v:#}");
    assert_eq!(v["client"]["close_kind"], "fin", "{v:#}");
    assert_eq!(v["closed_by"], "client", "{v:#}");
    assert_eq!(v["cause"], "client_closed", "{v:#}");

    // rdptap has let go of the upstream socket entirely, not just half-closed it: data
    // sent now draws a reset, so a later write or read fails.
    let gone = (0..10).any(|_| {
        let w = s.write(b"late");
        thread::sleep(Duration::from_millis(50));
        w.is_err() || s.write(b"late").is_err()
    });
    assert!(gone, "the upstream socket is still open after the verdict");
}

#[test]
fn server_reset_is_recorded_and_reaches_the_client() {
    let (l, server_addr) = listener();
    let proxy = Proxy::start(&server_addr.to_string(), &[]);
    let mut c = connect(proxy.addr, T);
    let s = accept_within(&l, T).expect("rdptap connected upstream");
    // Reset only once rdptap's connect has returned: a reset that arrives before that
    // makes the connect call itself fail, which is the upstream-failure path, not this one.
    wait_for(T, || {
        proxy
            .events()
            .iter()
            .any(|e| e["kind"] == "upstream_connected")
            .then_some(())
    })
    .expect("upstream_connected event");
    set_zero_linger(&s);
    drop(s);

    let started = Instant::now();
    let mut buf = [0u8; 16];
    match c.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        other => panic!(
            "expected a reset or a close, got {other:?} after {:?}",
            started.elapsed()
        ),
    }
    let v = proxy.first_verdict(T);
    assert_eq!(v["close_kind"], "rst", "{v:#}");
    assert_eq!(v["cause"], "server_reset", "{v:#}");
    assert_eq!(v["closed_by"], "server", "{v:#}");
    assert_eq!(v["server"]["close_kind"], "rst", "{v:#}");
}

#[test]
fn idle_timeout_closes_a_silent_connection() {
    let (l, server_addr) = listener();
    let proxy = Proxy::start(&server_addr.to_string(), &["--idle-timeout", "1s"]);
    let opened = Instant::now();
    let mut c = connect(proxy.addr, T);
    let mut s = accept_within(&l, T).expect("rdptap connected upstream");
    s.set_read_timeout(Some(T)).unwrap();

    let v = wait_for(Duration::from_secs(5), || proxy.verdicts().first().cloned())
        .unwrap_or_else(|| panic!("no verdict; console:\n{}", proxy.stderr_text()));
    let after = opened.elapsed();
    assert!(
        after >= Duration::from_millis(900) && after <= Duration::from_millis(2500),
        "idle verdict {after:?} after connecting, expected about 1 s: {v:#}"
    );
    assert_eq!(v["cause"], "idle_timeout", "{v:#}");
    assert_eq!(v["closed_by"], "proxy", "{v:#}");
    assert_eq!(v["close_kind"], "timeout", "{v:#}");
    // Both peers are let go.
    let mut buf = [0u8; 16];
    assert!(matches!(c.read(&mut buf), Ok(0) | Err(_)));
    assert!(matches!(s.read(&mut buf), Ok(0) | Err(_)));
}

/// An echo server for `n` connections, each on its own thread; ends when all are served
/// or `T` passes without a new one.
fn echo_server(n: usize) -> (SocketAddr, thread::JoinHandle<usize>) {
    let (l, addr) = listener();
    let h = thread::spawn(move || {
        let mut handlers = Vec::new();
        while handlers.len() < n {
            let Ok(mut s) = accept_within(&l, T) else {
                break;
            };
            handlers.push(thread::spawn(move || {
                s.set_read_timeout(Some(T)).unwrap();
                let mut buf = [0u8; 8192];
                // Reset connections end in an error here; that is expected.
                while let Ok(k) = s.read(&mut buf) {
                    if k == 0 || s.write_all(&buf[..k]).is_err() {
                        break;
                    }
                }
            }));
        }
        let served = handlers.len();
        for h in handlers {
            h.join().unwrap();
        }
        served
    });
    (addr, h)
}

#[test]
fn fifty_concurrent_echoes_are_unaffected_by_failing_neighbours() {
    const ECHOES: usize = 50;
    const RESETS: usize = 5;
    const REFUSED: usize = 10;
    let (echo_addr, echo) = echo_server(ECHOES + RESETS);
    let good = Proxy::start(&echo_addr.to_string(), &[]);
    let bad = Proxy::start(&format!("127.0.0.1:{}", closed_port()), &[]);
    let (good_addr, bad_addr) = (good.addr, bad.addr);
    let gate = Arc::new(Barrier::new(ECHOES + RESETS + REFUSED));

    let echoes: Vec<_> = (0..ECHOES)
        .map(|i| {
            let gate = gate.clone();
            thread::spawn(move || {
                let data = noise(0xec40_0000 + i as u64, 2048 + 97 * i);
                gate.wait();
                let mut c = connect(good_addr, T);
                let local = c.local_addr().unwrap();
                c.write_all(&data).unwrap();
                c.shutdown(Shutdown::Write).unwrap();
                let got = read_to_eof(&mut c).expect("echo read");
                assert_same(&format!("echo {i}"), &got, &data);
                (local, data.len())
            })
        })
        .collect();
    let resets: Vec<_> = (0..RESETS)
        .map(|_| {
            let gate = gate.clone();
            thread::spawn(move || {
                gate.wait();
                let c = connect(good_addr, T);
                let local = c.local_addr().unwrap();
                thread::sleep(Duration::from_millis(200));
                set_zero_linger(&c);
                drop(c);
                local
            })
        })
        .collect();
    let refused: Vec<_> = (0..REFUSED)
        .map(|_| {
            let gate = gate.clone();
            thread::spawn(move || {
                gate.wait();
                let mut c = connect(bad_addr, T);
                let mut buf = [0u8; 16];
                assert_eq!(c.read(&mut buf).expect("orderly close"), 0);
            })
        })
        .collect();

    let echoed: Vec<(SocketAddr, usize)> = echoes.into_iter().map(|h| h.join().unwrap()).collect();
    let reset: Vec<SocketAddr> = resets.into_iter().map(|h| h.join().unwrap()).collect();
    for h in refused {
        h.join().unwrap();
    }
    assert_eq!(echo.join().unwrap(), ECHOES + RESETS);

    good.wait_verdicts(ECHOES + RESETS, T);
    bad.wait_verdicts(REFUSED, T);
    // No connection is reported twice, and none is missing.
    thread::sleep(Duration::from_millis(300));
    assert_eq!(good.verdicts().len(), ECHOES + RESETS);
    assert_eq!(bad.verdicts().len(), REFUSED);
    for (local, len) in echoed {
        let v = verdict_of(&good, local);
        assert_eq!(v["cause"], "protocol_mismatch", "{v:#}");
        assert_eq!(v["client"]["bytes"], len as u64, "{v:#}");
        assert_eq!(v["server"]["bytes"], len as u64, "{v:#}");
    }
    for local in reset {
        let v = verdict_of(&good, local);
        assert_eq!(v["cause"], "client_reset", "{v:#}");
        assert_eq!(v["client"]["close_kind"], "rst", "{v:#}");
    }
    for v in bad.verdicts() {
        assert_eq!(v["cause"], "upstream_refused", "{v:#}");
    }
}

#[test]
fn silent_upstream_is_reported_as_upstream_timeout() {
    let (_l, silent, _fillers) = support::net::silent_listener();
    let proxy = Proxy::start(&silent.to_string(), &["--connect-timeout", "1s"]);
    let opened = Instant::now();
    let mut c = connect(proxy.addr, T);
    let mut buf = [0u8; 64];
    match c.read(&mut buf) {
        Ok(0) => {}
        other => panic!("expected an orderly close (read 0), got {other:?}"),
    }
    let after = opened.elapsed();
    assert!(
        after >= Duration::from_millis(900) && after <= Duration::from_millis(2500),
        "closed {after:?} after connecting, expected about the 1 s connect timeout"
    );
    let v = proxy.first_verdict(T);
    assert_eq!(v["cause"], "upstream_timeout", "{v:#}");
    assert_eq!(v["phase"], "tcp_connect", "{v:#}");
    assert_eq!(v["closed_by"], "proxy", "{v:#}");
    assert_eq!(v["close_kind"], "timeout", "{v:#}");
}

/// An RDP client sends its X.224 Connection Request as soon as TCP connects, before rdptap
/// has reached the host. When the host cannot be reached, the client must still see the
/// orderly close of a host that went away, not a reset caused by its unread request.
#[test]
fn failed_upstream_closes_a_client_that_already_sent_its_request_in_order() {
    let (_l, silent, _fillers) = support::net::silent_listener();
    let proxy = Proxy::start(&silent.to_string(), &["--connect-timeout", "1s"]);
    let mut c = connect(proxy.addr, T);
    c.write_all(&X224_CR).unwrap();
    let mut buf = [0u8; 64];
    let got = c.read(&mut buf);
    let v = proxy.first_verdict(T);
    assert_eq!(v["cause"], "upstream_timeout", "{v:#}");
    match got {
        Ok(0) => {}
        other => panic!("expected an orderly close (read 0), got {other:?}"),
    }
}
