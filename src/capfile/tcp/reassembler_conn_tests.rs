//! The connection table: roles, starts not captured, resets, replacement, the end of
//! the capture, eviction and many connections.

use super::*;
use crate::capfile::tcp::harness::{data, rebuild, Ev, Harness};
use crate::capfile::testkit::{ACK, FIN, PSH, RST, SYN};
use crate::vocab::Dir::{C2S, S2C};

fn opened(h: &Harness, id: u64) -> Ev {
    Ev::Opened {
        id,
        client: h.client,
        server: h.server,
        start_seen: true,
        guessed: false,
    }
}

#[test]
fn a_connection_whose_start_was_not_captured() {
    let mut h = Harness::new();
    h.s2c(777, 99, PSH | ACK, b"srv");
    h.c2s(99, 780, PSH | ACK, b"cli");
    h.c2s(102, 780, ACK, b"ent");
    assert_eq!(
        h.take(),
        vec![
            Ev::Opened {
                id: 0,
                client: h.client,
                server: h.server,
                start_seen: false,
                guessed: true
            },
            data(0, S2C, 0, b"srv"),
            data(0, C2S, 0, b"cli"),
            data(0, C2S, 3, b"ent"),
        ]
    );
    // Without a well-known port, the lower port is the server.
    let mut h = Harness::new();
    h.client = "10.0.0.1:1234".parse().expect("address");
    h.server = "10.0.0.2:50000".parse().expect("address");
    h.s2c(1, 1, ACK, b"x");
    let Ev::Opened { client, server, .. } = &h.take()[0] else {
        panic!("not opened")
    };
    assert_eq!((client.port(), server.port()), (50000, 1234));
}

#[test]
fn the_syn_ack_alone_settles_the_roles() {
    let mut h = Harness::new();
    h.s2c(5000, 1001, SYN | ACK, b"");
    h.c2s(1001, 5001, PSH | ACK, b"hi");
    h.s2c(5001, 1003, PSH | ACK, b"yo");
    assert_eq!(
        h.take(),
        vec![
            opened(&h, 0),
            data(0, C2S, 0, b"hi"),
            data(0, S2C, 0, b"yo")
        ]
    );
}

#[test]
fn a_cut_end_says_the_capture_ended_not_that_a_side_closed() {
    let mut h = Harness::new();
    h.handshake(1000, 5000);
    h.c2s(1001, 5001, PSH | ACK, b"hello");
    h.s2c(5001, 1006, PSH | ACK, b"hi");
    h.take();
    h.finish();
    assert_eq!(
        h.take(),
        vec![Ev::Ended {
            id: 0,
            why: EndReason::CaptureEnded,
            bytes: [5, 2]
        }]
    );
}

#[test]
fn reset_ends_the_connection_and_a_new_syn_starts_another() {
    let mut h = Harness::new();
    h.handshake(1000, 5000);
    h.c2s(1001, 5001, PSH | ACK, b"hello");
    h.take();
    h.s2c(5001, 1006, RST | ACK, b"");
    assert_eq!(
        h.take(),
        vec![
            Ev::Reset {
                id: 0,
                dir: S2C,
                bytes: 0
            },
            Ev::Ended {
                id: 0,
                why: EndReason::Reset,
                bytes: [5, 0]
            },
        ]
    );
    h.c2s(1006, 5001, ACK, b"late");
    h.c2s(1000, 0, SYN, b"");
    assert_eq!(
        h.take(),
        vec![],
        "stragglers and the old SYN are the closed connection's"
    );
    h.c2s(9000, 0, SYN, b"");
    assert_eq!(h.take(), vec![opened(&h, 1)]);
    assert_eq!(h.r.stats().after_close_segments, 2);
    // A RST for nothing known is counted, not a connection.
    let mut h = Harness::new();
    h.c2s(1, 1, RST, b"");
    assert_eq!((h.take(), h.r.stats().stray_resets), (vec![], 1));
}

#[test]
fn a_syn_with_another_isn_replaces_an_open_connection() {
    let mut h = Harness::new();
    h.handshake(1000, 5000);
    h.c2s(1001, 5001, PSH | ACK, b"old");
    h.take();
    h.c2s(1000, 0, SYN, b"");
    assert_eq!(h.take(), vec![], "a retransmitted SYN");
    h.c2s(7000, 0, SYN, b"");
    assert_eq!(
        h.take(),
        vec![
            Ev::Ended {
                id: 0,
                why: EndReason::Replaced,
                bytes: [3, 0]
            },
            opened(&h, 1)
        ]
    );
}

#[test]
fn too_many_open_connections_evict_the_idlest() {
    let cfg = ReassemblyConfig {
        max_open_connections: 8,
        ..ReassemblyConfig::default()
    };
    let mut h = Harness::with(cfg);
    for port in 0..9u16 {
        h.client.set_port(40000 + port);
        h.c2s(1, 0, SYN, b"");
    }
    h.client.set_port(40000);
    h.c2s(2, 0, PSH | ACK, b"straggler");
    let ended: Vec<Ev> = h
        .take()
        .into_iter()
        .filter(|e| matches!(e, Ev::Ended { .. }))
        .collect();
    assert_eq!(
        ended,
        vec![Ev::Ended {
            id: 0,
            why: EndReason::Evicted,
            bytes: [0, 0]
        }]
    );
    assert_eq!((h.r.open_connections(), h.r.stats().evicted), (8, 1));
}

#[test]
fn a_hundred_thousand_connections() {
    let mut h = Harness::new();
    let mut ended = 0;
    for i in 0..100_000u32 {
        h.client.set_port(1024 + (i % 60000) as u16);
        h.client
            .set_ip(std::net::Ipv4Addr::from(0x0a00_0000 + i / 60000).into());
        h.handshake(i, 7);
        h.c2s(i + 1, 8, PSH | ACK, b"req");
        h.s2c(8, i + 4, FIN | ACK, b"resp");
        h.c2s(i + 4, 13, FIN | ACK, b"");
        ended += h
            .take()
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    Ev::Ended {
                        why: EndReason::BothClosed,
                        ..
                    }
                )
            })
            .count();
    }
    assert_eq!(ended, 100_000);
    assert_eq!(h.r.open_connections(), 0);
    // Closed connections older than the linger time are forgotten along the way.
    assert!(h.r.flows.len() < 100_000, "{} remembered", h.r.flows.len());
    assert_eq!(h.r.stats().connections, 100_000);
}

#[test]
fn events_display_in_plain_english() {
    let event = FlowEvent {
        conn: ConnId(3),
        ts: Duration::ZERO,
        frame: 9,
        kind: FlowEventKind::Gap {
            dir: C2S,
            offset: 10,
            len: 5,
            cause: GapCause::AckedNotCaptured,
        },
    };
    assert_eq!(
        event.to_string(),
        "connection 3 (frame 9): c2s: 5 bytes missing at stream offset 10: the receiver acknowledged bytes the capture does not have"
    );
    let ended = FlowEventKind::Ended {
        why: EndReason::CaptureEnded,
        bytes: [1, 2],
    };
    assert_eq!(
        ended.to_string(),
        "ended, the capture ended while the connection was open: 1 bytes from the client, 2 from the server"
    );
    let harness = Harness::new();
    let opened = FlowEventKind::Opened {
        client: harness.client,
        server: harness.server,
        start_seen: false,
        roles_guessed: true,
        trace_conn: None,
    };
    assert!(opened.to_string().contains("its start was not captured"));
    assert_eq!(rebuild(&[], 0, C2S), vec![]);
}

#[test]
fn the_syn_ack_says_how_long_the_handshake_took() {
    use crate::capfile::packet::{TcpFlags, TcpSegment};
    use crate::capfile::tcp::{FlowEventKind, Reassembler};
    let (c, s): (std::net::SocketAddr, std::net::SocketAddr) = (
        "10.0.0.1:50000".parse().unwrap(),
        "10.0.0.2:3389".parse().unwrap(),
    );
    let seg = |ms: u64, src, dst, flags: TcpFlags| TcpSegment {
        frame: ms,
        block_offset: 0,
        ts: std::time::Duration::from_millis(ms),
        src,
        dst,
        seq: 1000,
        ack: 0,
        flags,
        window: 100,
        payload: &[],
        wire_len: 0,
        trace_conn: None,
    };
    let mut r = Reassembler::default();
    let mut got = Vec::new();
    r.segment(&seg(10, c, s, TcpFlags::SYN), |e| {
        if let FlowEventKind::Established { handshake } = e.kind {
            got.push(handshake)
        }
    });
    r.segment(
        &seg(
            13,
            s,
            c,
            TcpFlags::from_bits(TcpFlags::SYN.bits() | TcpFlags::ACK.bits()),
        ),
        |e| {
            if let FlowEventKind::Established { handshake } = e.kind {
                got.push(handshake)
            }
        },
    );
    assert_eq!(got, [Some(std::time::Duration::from_millis(3))]);
}
