//! Reassembly of one connection's streams: order, overlaps, gaps, FIN.

use super::*;
use crate::capfile::tcp::harness::{data, Ev, Harness};
use crate::capfile::testkit::{ACK, FIN, PSH};
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
fn handshake_data_and_both_fins() {
    let mut h = Harness::new();
    h.handshake(1000, 5000);
    h.c2s(1001, 5001, PSH | ACK, b"hello");
    h.s2c(5001, 1006, PSH | ACK, b"world!");
    h.c2s(1006, 5007, FIN | ACK, b"");
    h.s2c(5007, 1007, FIN | ACK, b"");
    h.c2s(1007, 5008, ACK, b"");
    assert_eq!(
        h.take(),
        vec![
            opened(&h, 0),
            data(0, C2S, 0, b"hello"),
            data(0, S2C, 0, b"world!"),
            Ev::Fin {
                id: 0,
                dir: C2S,
                bytes: 5
            },
            Ev::Fin {
                id: 0,
                dir: S2C,
                bytes: 6
            },
            Ev::Ended {
                id: 0,
                why: EndReason::BothClosed,
                bytes: [5, 6]
            },
        ]
    );
    assert_eq!(
        h.r.stats().after_close_segments,
        1,
        "the last ACK belongs to the closed connection"
    );
    assert_eq!(h.r.open_connections(), 0);
    h.finish();
    assert_eq!(h.take(), vec![]);
}

#[test]
fn out_of_order_segments_are_delivered_in_order() {
    let mut h = Harness::new();
    h.handshake(1000, 5000);
    h.take();
    h.c2s(1006, 5001, ACK, b"BBBB");
    assert_eq!(h.take(), vec![]);
    assert!(h.r.buffered_bytes() > 0);
    h.c2s(1001, 5001, ACK, b"AAAAA");
    assert_eq!(
        h.take(),
        vec![data(0, C2S, 0, b"AAAAA"), data(0, C2S, 5, b"BBBB")]
    );
    assert_eq!(h.r.buffered_bytes(), 0);
}

#[test]
fn a_retransmission_of_the_same_bytes_is_silent() {
    let mut h = Harness::new();
    h.handshake(1000, 5000);
    h.c2s(1001, 5001, ACK, b"hello");
    h.take();
    h.c2s(1001, 5001, ACK, b"hello");
    h.c2s(1003, 5001, ACK, b"llo");
    assert_eq!(h.take(), vec![]);
    assert_eq!(
        (h.r.stats().retransmitted_bytes, h.r.stats().conflicts),
        (8, 0)
    );
}

#[test]
fn overlaps_keep_the_first_copy_and_report_differences() {
    let mut h = Harness::new();
    h.handshake(1000, 5000);
    h.c2s(1001, 5001, ACK, b"hello");
    h.take();
    // Differs from delivered bytes.
    h.c2s(1003, 5001, ACK, b"LLo");
    assert_eq!(
        h.take(),
        vec![Ev::Conflict {
            id: 0,
            dir: C2S,
            off: 2,
            len: 2
        }]
    );
    // Partly old (same), partly new.
    h.c2s(1005, 5001, ACK, b"o, you");
    assert_eq!(h.take(), vec![data(0, C2S, 5, b", you")]);
    // Differs from held out-of-order bytes; then the hole fills.
    h.c2s(1015, 5001, ACK, b"BBBB");
    h.c2s(1016, 5001, ACK, b"XX");
    assert_eq!(
        h.take(),
        vec![Ev::Conflict {
            id: 0,
            dir: C2S,
            off: 15,
            len: 2
        }]
    );
    // A segment from the next byte that runs into held data: the held copy wins.
    h.c2s(1011, 5001, ACK, b"1234ZZZZcc");
    assert_eq!(
        h.take(),
        vec![
            data(0, C2S, 10, b"1234"),
            Ev::Conflict {
                id: 0,
                dir: C2S,
                off: 14,
                len: 4
            },
            data(0, C2S, 14, b"BBBB"),
            data(0, C2S, 18, b"cc"),
        ]
    );
    assert_eq!(h.r.buffered_bytes(), 0);
}

#[test]
fn an_acknowledged_hole_is_a_gap() {
    let mut h = Harness::new();
    h.handshake(1000, 5000);
    h.take();
    h.c2s(1006, 5001, ACK, b"BBBB");
    h.s2c(5001, 1010, ACK, b"");
    assert_eq!(
        h.take(),
        vec![
            Ev::Gap {
                id: 0,
                dir: C2S,
                off: 0,
                len: 5,
                cause: GapCause::AckedNotCaptured
            },
            data(0, C2S, 5, b"BBBB"),
        ]
    );
    // The lost segment's late copy changes nothing: its bytes cannot be compared any more.
    h.c2s(1001, 5001, ACK, b"AAAAA");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.r.stats().unverified_bytes, 5);
    // An acknowledgment past everything sent and held also proves a gap.
    h.s2c(5001, 1020, ACK, b"");
    assert_eq!(
        h.take(),
        vec![Ev::Gap {
            id: 0,
            dir: C2S,
            off: 9,
            len: 10,
            cause: GapCause::AckedNotCaptured
        }]
    );
}

#[test]
fn a_hole_at_the_end_of_the_capture_is_a_gap() {
    let mut h = Harness::new();
    h.handshake(1000, 5000);
    h.take();
    h.c2s(1006, 5001, ACK, b"BBBB");
    h.finish();
    assert_eq!(
        h.take(),
        vec![
            Ev::Gap {
                id: 0,
                dir: C2S,
                off: 0,
                len: 5,
                cause: GapCause::CaptureEnded
            },
            data(0, C2S, 5, b"BBBB"),
            Ev::Ended {
                id: 0,
                why: EndReason::CaptureEnded,
                bytes: [9, 0]
            },
        ]
    );
}

#[test]
fn the_out_of_order_bound_turns_a_hole_into_a_gap() {
    let cfg = ReassemblyConfig {
        max_buffered_per_dir: 200,
        ..ReassemblyConfig::default()
    };
    let mut h = Harness::with(cfg);
    h.handshake(0, 5000);
    h.take();
    h.c2s(2, 5001, ACK, &[1; 100]);
    h.c2s(102, 5001, ACK, &[2; 100]);
    h.c2s(202, 5001, ACK, &[3; 100]);
    assert_eq!(
        h.take(),
        vec![
            Ev::Gap {
                id: 0,
                dir: C2S,
                off: 0,
                len: 1,
                cause: GapCause::BufferLimit
            },
            data(0, C2S, 1, &[1; 100]),
            data(0, C2S, 101, &[2; 100]),
            data(0, C2S, 201, &[3; 100]),
        ]
    );
    // The overall bound works the same way.
    let cfg = ReassemblyConfig {
        max_buffered_total: 100,
        ..ReassemblyConfig::default()
    };
    let mut h = Harness::with(cfg);
    h.handshake(0, 5000);
    h.take();
    h.c2s(2, 5001, ACK, &[1; 100]);
    assert_eq!(
        h.take()[0],
        Ev::Gap {
            id: 0,
            dir: C2S,
            off: 0,
            len: 1,
            cause: GapCause::BufferLimit
        }
    );
}

#[test]
fn fin_waits_for_the_data_before_it_and_data_after_it_is_ignored() {
    let mut h = Harness::new();
    h.handshake(1000, 5000);
    h.take();
    h.c2s(1006, 5001, FIN | ACK, b"world");
    assert_eq!(h.take(), vec![]);
    h.c2s(1001, 5001, ACK, b"hello");
    assert_eq!(
        h.take(),
        vec![
            data(0, C2S, 0, b"hello"),
            data(0, C2S, 5, b"world"),
            Ev::Fin {
                id: 0,
                dir: C2S,
                bytes: 10
            }
        ]
    );
    h.c2s(1011, 5001, ACK, b"late");
    assert_eq!(h.take(), vec![]);
    assert_eq!(h.r.stats().after_fin_bytes, 4);
    // The server's data still flows; its FIN and the last ACK end the connection.
    h.s2c(5001, 1012, PSH | ACK, b"bye");
    h.s2c(5004, 1012, FIN | ACK, b"");
    h.c2s(1012, 5005, ACK, b"");
    assert_eq!(
        h.take(),
        vec![
            data(0, S2C, 0, b"bye"),
            Ev::Fin {
                id: 0,
                dir: S2C,
                bytes: 3
            },
            Ev::Ended {
                id: 0,
                why: EndReason::BothClosed,
                bytes: [10, 3]
            },
        ]
    );
}

#[test]
fn a_fin_after_a_hole_is_reached_when_the_hole_is_acknowledged() {
    let mut h = Harness::new();
    h.handshake(1000, 5000);
    h.take();
    h.c2s(1006, 5001, FIN | ACK, b"world");
    h.s2c(5001, 1012, FIN | ACK, b"");
    assert_eq!(
        h.take(),
        vec![
            Ev::Gap {
                id: 0,
                dir: C2S,
                off: 0,
                len: 5,
                cause: GapCause::AckedNotCaptured
            },
            data(0, C2S, 5, b"world"),
            Ev::Fin {
                id: 0,
                dir: C2S,
                bytes: 10
            },
            Ev::Fin {
                id: 0,
                dir: S2C,
                bytes: 0
            },
            Ev::Ended {
                id: 0,
                why: EndReason::BothClosed,
                bytes: [10, 0]
            },
        ]
    );
}

#[test]
fn sequence_numbers_wrap_around() {
    let mut h = Harness::new();
    let isn = u32::MAX - 2;
    h.handshake(isn, 5000);
    h.take();
    // Second segment first, then the one that crosses the wrap.
    h.c2s(4, 5001, ACK, b"ghij");
    h.c2s(u32::MAX - 1, 5001, ACK, b"abcdef");
    h.s2c(5001, 8, ACK, b"");
    h.c2s(8, 5001, FIN | ACK, b"");
    assert_eq!(
        h.take(),
        vec![
            data(0, C2S, 0, b"abcdef"),
            data(0, C2S, 6, b"ghij"),
            Ev::Fin {
                id: 0,
                dir: C2S,
                bytes: 10
            }
        ]
    );
}

#[test]
fn a_payload_cut_by_the_snap_length_is_a_gap() {
    let mut h = Harness::new();
    h.handshake(1000, 5000);
    h.take();
    h.send(C2S, 1001, 5001, ACK, b"abc", 10);
    h.c2s(1011, 5001, ACK, b"next");
    assert_eq!(
        h.take(),
        vec![
            data(0, C2S, 0, b"abc"),
            Ev::Gap {
                id: 0,
                dir: C2S,
                off: 3,
                len: 7,
                cause: GapCause::Truncated
            },
            data(0, C2S, 10, b"next"),
        ]
    );
}

#[test]
fn keepalive_probes_are_not_data() {
    let mut h = Harness::new();
    h.handshake(1000, 5000);
    h.c2s(1001, 5001, ACK, b"hello");
    h.take();
    h.c2s(1005, 5001, ACK, b"\0");
    h.c2s(1005, 5001, ACK, b"");
    assert_eq!(h.take(), vec![]);
    assert_eq!((h.r.stats().keepalives, h.r.stats().conflicts), (1, 0));
}
