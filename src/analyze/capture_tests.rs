//! `analyze` over hand-built captures of one real session (the xrdp TLS 1.2 fixture):
//! out of order, retransmitted, overlapping, with a gap, without its start, cut at the
//! end, and under every link layer and file format the reader knows. What the capture
//! loses must show in the verdict; what it only reorders or wraps must not change it.

use super::engine::{run, Settings};
use super::output::Output;
use crate::capfile::testkit::{
    ethernet, ip_tcp, sll2, PcapFile, ACK, ETH_IPV4, ETH_IPV6, FIN, PSH, SYN,
};
use crate::capfile::CaptureReader;
use crate::decode::test_support::{fixture, units};
use crate::decrypt::KeyLog;
use crate::session::event::{Body, EventLine};
use crate::session::{Cause, What};
use crate::vocab::Dir;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// The day after the fixtures were captured, so their certificate is valid.
const DAY: u64 = 1_795_348_800;
const MSS: usize = 1448;

/// One TCP segment of the session.
#[derive(Clone, Debug)]
struct Seg {
    dir: Dir,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: Vec<u8>,
}

/// How the session's packets are framed on the wire.
#[derive(Clone, Copy)]
enum Link {
    Ethernet(&'static [u16]),
    Sll2,
}

/// The fixture's connection as segments: handshake, each protocol unit in MSS-sized
/// segments, one side after the other as they took turns, then FIN both ways.
fn session() -> Vec<Seg> {
    let (c, s) = fixture("xrdp-tls12-ok");
    let (cu, su) = (units(&c), units(&s));
    let (mut cseq, mut sseq) = (1000u32, 5000u32);
    let mut out = vec![
        Seg {
            dir: Dir::C2S,
            seq: cseq - 1,
            ack: 0,
            flags: SYN,
            payload: vec![],
        },
        Seg {
            dir: Dir::S2C,
            seq: sseq - 1,
            ack: cseq,
            flags: SYN | ACK,
            payload: vec![],
        },
        Seg {
            dir: Dir::C2S,
            seq: cseq,
            ack: sseq,
            flags: ACK,
            payload: vec![],
        },
    ];
    for i in 0..cu.len().max(su.len()) {
        for (dir, u) in [(Dir::C2S, cu.get(i)), (Dir::S2C, su.get(i))] {
            let Some(u) = u else { continue };
            for part in u.chunks(MSS) {
                let (seq, ack) = match dir {
                    Dir::C2S => (&mut cseq, sseq),
                    Dir::S2C => (&mut sseq, cseq),
                };
                out.push(Seg {
                    dir,
                    seq: *seq,
                    ack,
                    flags: ACK | PSH,
                    payload: part.to_vec(),
                });
                *seq = seq.wrapping_add(part.len() as u32);
            }
        }
    }
    out.push(Seg {
        dir: Dir::C2S,
        seq: cseq,
        ack: sseq,
        flags: FIN | ACK,
        payload: vec![],
    });
    out.push(Seg {
        dir: Dir::S2C,
        seq: sseq,
        ack: cseq + 1,
        flags: FIN | ACK,
        payload: vec![],
    });
    out.push(Seg {
        dir: Dir::C2S,
        seq: cseq + 1,
        ack: sseq + 1,
        flags: ACK,
        payload: vec![],
    });
    out
}

fn ends(v6: bool) -> (SocketAddr, SocketAddr) {
    if v6 {
        (
            "[fd00::1]:50000".parse().unwrap(),
            "[fd00::2]:3389".parse().unwrap(),
        )
    } else {
        (
            "10.0.0.1:50000".parse().unwrap(),
            "10.0.0.2:3389".parse().unwrap(),
        )
    }
}

/// The segments as a pcap file.
fn pcap(segs: &[Seg], link: Link, v6: bool, big: bool, nanos: bool) -> Vec<u8> {
    let (c, s) = ends(v6);
    let linktype = match link {
        Link::Ethernet(_) => 1,
        Link::Sll2 => 276,
    };
    let mut f = PcapFile::with(linktype, big, nanos, 262_144);
    for (i, g) in segs.iter().enumerate() {
        let (src, dst) = match g.dir {
            Dir::C2S => (c, s),
            Dir::S2C => (s, c),
        };
        let ip = ip_tcp(src, dst, g.seq, g.ack, g.flags, &g.payload);
        let et = if v6 { ETH_IPV6 } else { ETH_IPV4 };
        let frame = match link {
            Link::Ethernet(tags) => ethernet(tags, et, &ip),
            Link::Sll2 => sll2(et, &ip),
        };
        let ts = Duration::from_secs(DAY) + Duration::from_micros(1000 * i as u64 + 7);
        f = f.packet(ts, &frame);
    }
    f.bytes()
}

/// Analyses a capture held in memory, keeping the event lines when asked.
fn analyze_into(bytes: Vec<u8>, keep: bool) -> Output {
    let reader = CaptureReader::new("test.pcap", std::io::Cursor::new(bytes));
    let mut out = Output::new(None, keep).unwrap();
    out.console = false;
    let settings = Settings {
        target: None,
        roots: Arc::new(rustls::RootCertStore::empty()),
        linger: Duration::from_secs(5),
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    assert!(run(reader, KeyLog::new(), &settings, &mut out, &stop).is_none());
    out
}

/// Analyses a capture; returns every event line it wrote.
fn analyze(bytes: Vec<u8>) -> Vec<EventLine> {
    let out = analyze_into(bytes, true);
    out.lines
        .unwrap_or_default()
        .iter()
        .map(|l| EventLine::from_json(l).unwrap())
        .collect()
}

fn verdict(lines: &[EventLine]) -> crate::session::Verdict {
    let v: Vec<_> = lines
        .iter()
        .filter_map(|l| match &l.event.body {
            Body::Verdict(v) => Some(v.verdict.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(v.len(), 1, "one verdict");
    v[0].clone()
}

/// The decoded events, as kinds in order, per direction.
fn decoded(lines: &[EventLine]) -> Vec<String> {
    lines
        .iter()
        .filter_map(|l| match &l.event.body {
            Body::Entry(What::Decoded(d)) => Some(format!("{:?}:{}", l.event.dir, d.kind())),
            _ => None,
        })
        .collect()
}

fn clean() -> Vec<EventLine> {
    analyze(pcap(&session(), Link::Ethernet(&[]), false, false, false))
}

#[test]
fn a_clean_capture_decodes_the_whole_session() {
    let lines = clean();
    let v = verdict(&lines);
    assert_eq!(v.cause, Cause::Ok, "{v:#?}");
    let d = decoded(&lines);
    assert!(d.iter().any(|k| k.ends_with("server_hello")), "{d:?}");
    assert!(d.iter().any(|k| k.ends_with("certificate")), "{d:?}");
}

#[test]
fn wrappings_and_formats_change_nothing() {
    let want = decoded(&clean());
    let s = session();
    for (what, bytes) in [
        (
            "vlan",
            pcap(&s, Link::Ethernet(&[0x8100, 0x8100]), false, false, false),
        ),
        ("sll2", pcap(&s, Link::Sll2, false, false, false)),
        ("ipv6", pcap(&s, Link::Ethernet(&[]), true, false, false)),
        ("ns", pcap(&s, Link::Ethernet(&[]), false, false, true)),
        (
            "big-endian",
            pcap(&s, Link::Ethernet(&[]), false, true, false),
        ),
    ] {
        let lines = analyze(bytes);
        assert_eq!(decoded(&lines), want, "{what}");
        assert_eq!(verdict(&lines).cause, Cause::Ok, "{what}");
    }
}

#[test]
fn reordering_and_retransmission_change_nothing() {
    let want = decoded(&clean());
    let s = session();
    // Every pair of data segments of the same direction swapped.
    let mut swapped = s.clone();
    for i in (3..swapped.len() - 4).step_by(2) {
        if swapped[i].dir == swapped[i + 1].dir {
            swapped.swap(i, i + 1);
        }
    }
    // Every data segment sent twice; and once more, overlapping its neighbour.
    let mut twice = Vec::new();
    for g in &s {
        twice.push(g.clone());
        if !g.payload.is_empty() {
            twice.push(g.clone());
        }
    }
    let mut overlapping = Vec::new();
    for (i, g) in s.iter().enumerate() {
        overlapping.push(g.clone());
        if let Some(next) = s
            .get(i + 1)
            .filter(|n| n.dir == g.dir && !n.payload.is_empty())
        {
            if g.payload.len() > 10 {
                // The tail of this segment and the head of the next, again.
                let mut p = g.payload[g.payload.len() - 10..].to_vec();
                p.extend_from_slice(&next.payload[..next.payload.len().min(10)]);
                let seq = g.seq.wrapping_add(g.payload.len() as u32 - 10);
                overlapping.push(Seg {
                    payload: p,
                    seq,
                    ..g.clone()
                });
            }
        }
    }
    for (what, segs) in [
        ("swapped", swapped),
        ("twice", twice),
        ("overlapping", overlapping),
    ] {
        let lines = analyze(pcap(&segs, Link::Ethernet(&[]), false, false, false));
        assert_eq!(decoded(&lines), want, "{what}");
        assert_eq!(verdict(&lines).cause, Cause::Ok, "{what}");
    }
}

#[test]
fn a_retransmission_with_other_bytes_is_noted_and_the_first_copy_kept() {
    let want = decoded(&clean());
    let mut s = session();
    let i = s
        .iter()
        .position(|g| g.dir == Dir::S2C && g.payload.len() > 100)
        .unwrap();
    let mut bad = s[i].clone();
    bad.payload.iter_mut().take(8).for_each(|b| *b ^= 0xff);
    s.insert(i + 1, bad);
    let lines = analyze(pcap(&s, Link::Ethernet(&[]), false, false, false));
    assert_eq!(decoded(&lines), want);
    assert!(lines.iter().any(|l| matches!(
        &l.event.body,
        Body::Entry(What::Note(
            crate::decode::note::Note::CaptureConflict { .. }
        ))
    )));
}

#[test]
fn a_gap_stops_that_direction_and_the_verdict_says_so() {
    let mut s = session();
    // Drop the server's second data segment; the client's ACKs show it was sent.
    let data: Vec<usize> = (0..s.len())
        .filter(|&i| s[i].dir == Dir::S2C && !s[i].payload.is_empty())
        .collect();
    let lost = s.remove(data[1]);
    let lines = analyze(pcap(&s, Link::Ethernet(&[]), false, false, false));
    let v = verdict(&lines);
    let offset = lost.seq.wrapping_sub(5000);
    let want = format!(
        "the capture is missing {} bytes from the server at offset {}",
        crate::decode::note::thousands(lost.payload.len() as u64),
        crate::decode::note::thousands(offset as u64)
    );
    assert!(v.summary.contains(&want), "{}\nwanted: {want}", v.summary);
    assert!(
        v.summary.contains("decoding stopped there"),
        "{}",
        v.summary
    );
}

#[test]
fn a_connection_whose_start_was_not_captured_is_picked_up_at_a_tls_record() {
    let s = session();
    // The capture starts after the handshake and the first records of each side.
    let from = s
        .iter()
        .position(|g| g.dir == Dir::S2C && g.payload.len() > 200)
        .unwrap()
        + 3;
    let lines = analyze(pcap(&s[from..], Link::Ethernet(&[]), false, false, false));
    let v = verdict(&lines);
    assert!(
        v.summary
            .contains("the capture starts after the connection began"),
        "{}",
        v.summary
    );
    // It was followed from a record boundary: records were counted, nothing was
    // misread as X.224.
    let d = decoded(&lines);
    assert!(d.iter().any(|k| k.ends_with("app_record")), "{d:?}");
    assert!(!d.iter().any(|k| k.ends_with("not_rdp")), "{d:?}");
}

#[test]
fn a_capture_cut_at_the_end_says_the_capture_ended() {
    let s = session();
    let cut = &s[..s.len() - 3];
    let lines = analyze(pcap(cut, Link::Ethernet(&[]), false, false, false));
    let v = verdict(&lines);
    assert_eq!(v.cause, Cause::CaptureEnded, "{v:#?}");
    assert_eq!(v.closed_by, crate::session::ClosedBy::None);
    assert_eq!(v.close_kind, crate::session::CloseKind::CaptureEnd);
    assert!(v
        .summary
        .contains("the capture ended while the connection was still open"));
}

#[test]
fn a_capture_of_100000_connections_is_read_whole() {
    use crate::capfile::testkit::RST;
    let mut f = PcapFile::new(1);
    let server: SocketAddr = "10.0.0.2:443".parse().unwrap();
    for i in 0..100_000u32 {
        let client =
            SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 20000 + (i % 40000) as u16));
        let ts = Duration::from_secs(DAY) + Duration::from_micros(u64::from(i) * 10);
        for (src, dst, seq, ack, flags, payload) in [
            (client, server, 1u32, 0u32, SYN, &b""[..]),
            (server, client, 7, 2, SYN | ACK, b""),
            (client, server, 2, 8, ACK | PSH, b"hello, not rdp"),
            (client, server, 16, 8, RST, b""),
        ] {
            f = f.packet(
                ts,
                &ethernet(&[], ETH_IPV4, &ip_tcp(src, dst, seq, ack, flags, payload)),
            );
        }
    }
    let out = analyze_into(f.bytes(), false);
    assert_eq!(out.other_count, 100_000);
    assert_eq!(out.sessions, 0);
    assert_eq!(out.others.len(), super::output::TOP);
}
