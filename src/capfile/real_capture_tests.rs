//! Captures made by real tools (see tests/data/capfile/README.md): read and reassembled
//! end to end.

use crate::capfile::tcp::{EndReason, FlowEventKind, Reassembler};
use crate::capfile::{CaptureReader, FileFormat, ReadStats, Record};
use crate::vocab::Dir;
use std::io::Cursor;
use std::time::Duration;

/// What one connection of a capture amounts to.
#[derive(Debug, Default)]
struct Summary {
    opened: usize,
    start_seen: bool,
    guessed: bool,
    server_port: u16,
    streams: [Vec<u8>; 2],
    fins: [Option<u64>; 2],
    gaps: usize,
    ended: Option<EndReason>,
}

/// Reads and reassembles a capture held in memory.
fn run(bytes: &[u8]) -> (Summary, ReadStats, Option<FileFormat>) {
    let mut reader = CaptureReader::new("real", Cursor::new(bytes));
    let mut reassembler = Reassembler::default();
    let mut summary = Summary::default();
    let mut take = |e: crate::capfile::tcp::FlowEvent<'_>| match e.kind {
        FlowEventKind::Opened {
            server,
            start_seen,
            roles_guessed,
            ..
        } => {
            summary.opened += 1;
            summary.start_seen = start_seen;
            summary.guessed = roles_guessed;
            summary.server_port = server.port();
        }
        FlowEventKind::Data { dir, offset, bytes } => {
            assert_eq!(offset, summary.streams[dir.idx()].len() as u64);
            summary.streams[dir.idx()].extend_from_slice(bytes);
        }
        FlowEventKind::Gap { .. } | FlowEventKind::Conflict { .. } => summary.gaps += 1,
        FlowEventKind::Fin { dir, bytes } => summary.fins[dir.idx()] = Some(bytes),
        FlowEventKind::Reset { .. } | FlowEventKind::Established { .. } => {}
        FlowEventKind::Ended { why, .. } => summary.ended = Some(why),
    };
    while let Some(record) = reader.next_record() {
        match record.expect("the capture reads") {
            Record::Tcp(segment) => reassembler.segment(&segment, &mut take),
            Record::Secrets(_) => {}
        }
    }
    reassembler.finish(&mut take);
    (summary, *reader.stats(), reader.format())
}

/// Checks the exchange every capture here holds: a request line, and a greeting with 3001
/// more bytes in reply, then both sides closing.
fn check_exchange(summary: &Summary, server_port: u16) {
    let request = b"client request line\n".to_vec();
    let mut reply = b"server says hello to client request line\n".to_vec();
    reply.extend_from_slice(&[b'x'; 3000]);
    reply.push(b'\n');
    assert_eq!(summary.opened, 1);
    assert!(summary.start_seen && !summary.guessed);
    assert_eq!(summary.server_port, server_port);
    assert_eq!(summary.streams[Dir::C2S.idx()], request);
    assert_eq!(summary.streams[Dir::S2C.idx()], reply);
    assert_eq!(
        summary.fins,
        [Some(request.len() as u64), Some(reply.len() as u64)]
    );
    assert_eq!(summary.gaps, 0);
    assert_eq!(summary.ended, Some(EndReason::BothClosed));
}

/// The time of a capture's first segment.
fn first_ts(bytes: &[u8]) -> Duration {
    let mut reader = CaptureReader::new("real", Cursor::new(bytes));
    let Some(Ok(Record::Tcp(first))) = reader.next_record() else {
        panic!("no first segment")
    };
    assert!(first.flags.syn() && !first.flags.ack());
    first.ts
}

#[test]
fn tcpdump_on_loopback_ethernet_ipv4() {
    let bytes = include_bytes!("../../tests/data/capfile/tcpdump-lo.pcap");
    // Frame times as tshark shows them.
    assert_eq!(first_ts(bytes), Duration::new(1_796_672_039, 983_779_000));
    let (summary, stats, format) = run(bytes);
    assert_eq!(
        format,
        Some(FileFormat::Pcap {
            big_endian: false,
            nanos: false
        })
    );
    assert_eq!((stats.frames, stats.tcp_segments), (12, 12));
    check_exchange(&summary, 33890);
}

#[test]
fn tcpdump_on_any_linux_cooked_v2_ipv6() {
    let bytes = include_bytes!("../../tests/data/capfile/tcpdump-any-ipv6.pcap");
    assert_eq!(first_ts(bytes), Duration::new(1_796_672_042, 689_681_000));
    let (summary, stats, _) = run(bytes);
    assert_eq!((stats.frames, stats.tcp_segments), (12, 12));
    check_exchange(&summary, 33891);
}

#[test]
fn tshark_pcapng_with_nanosecond_interface() {
    let bytes = include_bytes!("../../tests/data/capfile/tshark-lo.pcapng");
    let (summary, stats, format) = run(bytes);
    assert_eq!(format, Some(FileFormat::Pcapng));
    assert_eq!(
        (stats.frames, stats.tcp_segments, stats.sections),
        (12, 12, 1)
    );
    check_exchange(&summary, 33892);
    assert_eq!(first_ts(bytes), Duration::new(1_796_672_046, 346_074_135));
}
