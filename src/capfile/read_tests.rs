use super::*;
use crate::capfile::testkit::*;
use crate::capfile::{Record, SecretsKind, TcpFlags};
use std::io::Cursor;
use std::net::{IpAddr, SocketAddr};

/// A yielded record with its borrowed parts copied out.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Owned {
    Tcp {
        frame: u64,
        block_offset: u64,
        ts: Duration,
        src: SocketAddr,
        dst: SocketAddr,
        seq: u32,
        ack: u32,
        flags: TcpFlags,
        payload: Vec<u8>,
        wire_len: u32,
    },
    Secrets(SecretsKind, Vec<u8>, u64),
}

impl Owned {
    fn payload(&self) -> &[u8] {
        match self {
            Owned::Tcp { payload, .. } => payload,
            Owned::Secrets(_, data, _) => data,
        }
    }
    fn ts(&self) -> Duration {
        match self {
            Owned::Tcp { ts, .. } => *ts,
            Owned::Secrets(..) => Duration::ZERO,
        }
    }
}

/// Reads everything from a reader: records, stats, and the error if one ended it.
pub(crate) fn drain<R: std::io::Read>(
    mut reader: CaptureReader<R>,
) -> (Vec<Owned>, ReadStats, Option<CaptureError>) {
    let mut records = Vec::new();
    let mut error = None;
    while let Some(next) = reader.next_record() {
        match next {
            Ok(Record::Tcp(s)) => records.push(Owned::Tcp {
                frame: s.frame,
                block_offset: s.block_offset,
                ts: s.ts,
                src: s.src,
                dst: s.dst,
                seq: s.seq,
                ack: s.ack,
                flags: s.flags,
                payload: s.payload.to_vec(),
                wire_len: s.wire_len,
            }),
            Ok(Record::Secrets(s)) => {
                records.push(Owned::Secrets(s.kind, s.data.to_vec(), s.block_offset))
            }
            Err(e) => error = Some(e),
        }
    }
    assert!(reader.next_record().is_none(), "the reader stays finished");
    (records, *reader.stats(), error)
}

/// Reads a capture held in memory, telling the reader its length.
pub(crate) fn read(bytes: &[u8]) -> (Vec<Owned>, ReadStats, Option<CaptureError>) {
    drain(CaptureReader::new("test.cap", Cursor::new(bytes)).with_total_len(bytes.len() as u64))
}

/// Reads a capture that must be free of errors.
fn read_ok(bytes: &[u8]) -> (Vec<Owned>, ReadStats) {
    let (records, stats, error) = read(bytes);
    assert!(
        error.is_none(),
        "unexpected error: {}",
        error.map(|e| e.to_string()).unwrap_or_default()
    );
    (records, stats)
}

pub(crate) fn v4() -> (SocketAddr, SocketAddr) {
    (addr("10.0.0.1:50000"), addr("10.0.0.2:3389"))
}

fn v6() -> (SocketAddr, SocketAddr) {
    (addr("[2001:db8::1]:50000"), addr("[2001:db8::2]:443"))
}

pub(crate) fn ts(secs: u64, nanos: u32) -> Duration {
    Duration::new(secs, nanos)
}

#[test]
fn pcap_ethernet_ipv4_segment_has_every_field() {
    let (c, s) = v4();
    let frame = ethernet(
        &[],
        ETH_IPV4,
        &ip_tcp(c, s, 1000, 2000, PSH | ACK, b"hello"),
    );
    let bytes = PcapFile::new(1)
        .packet(ts(1_700_000_000, 123_456_000), &frame)
        .bytes();
    let (records, stats) = read_ok(&bytes);
    assert_eq!(
        records,
        vec![Owned::Tcp {
            frame: 1,
            block_offset: 24,
            ts: ts(1_700_000_000, 123_456_000),
            src: c,
            dst: s,
            seq: 1000,
            ack: 2000,
            flags: TcpFlags::PSH | TcpFlags::ACK,
            payload: b"hello".to_vec(),
            wire_len: 5,
        }]
    );
    assert_eq!(stats.frames, 1);
    assert_eq!(stats.tcp_segments, 1);
    assert_eq!(stats.bytes, bytes.len() as u64);
}

#[test]
fn ethernet_padding_is_not_payload() {
    let (c, s) = v4();
    let mut frame = ethernet(&[], ETH_IPV4, &ip_tcp(c, s, 1, 0, ACK, b""));
    frame.extend_from_slice(&[0xee; 6]);
    let bytes = PcapFile::new(1).packet(ts(1, 0), &frame).bytes();
    let (records, stats) = read_ok(&bytes);
    assert_eq!(records[0].payload(), b"");
    assert_eq!(stats.truncated_payloads, 0);
}

#[test]
fn vlan_tags_single_and_stacked() {
    let (c, s) = v4();
    let ip = ip_tcp(c, s, 7, 0, ACK, b"tagged");
    let bytes = PcapFile::new(1)
        .packet(ts(1, 0), &ethernet(&[0x8100], ETH_IPV4, &ip))
        .packet(ts(2, 0), &ethernet(&[0x88a8, 0x8100], ETH_IPV4, &ip))
        .packet(
            ts(3, 0),
            &ethernet(&[0x9100, 0x8100, 0x8100], ETH_IPV4, &ip),
        )
        .bytes();
    let (records, _) = read_ok(&bytes);
    assert_eq!(records.len(), 3);
    assert!(records.iter().all(|r| r.payload() == b"tagged"));
}

#[test]
fn linux_cooked_v1_and_v2() {
    let (c, s) = v4();
    let ip = ip_tcp(c, s, 7, 0, ACK, b"cooked");
    let v1 = PcapFile::new(113)
        .packet(ts(1, 0), &sll(ETH_IPV4, &ip))
        .bytes();
    let v2 = PcapFile::new(276)
        .packet(ts(1, 0), &sll2(ETH_IPV4, &ip))
        .bytes();
    for bytes in [v1, v2] {
        let (records, _) = read_ok(&bytes);
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].payload(), b"cooked");
    }
}

#[test]
fn bsd_loopback_null_in_either_byte_order_and_loop() {
    let (c, s) = v4();
    let (c6, s6) = v6();
    let ip4 = ip_tcp(c, s, 7, 0, ACK, b"four");
    let ip6 = ip_tcp(c6, s6, 7, 0, ACK, b"six");
    let bytes = PcapFile::new(0)
        .packet(ts(1, 0), &null(2, false, &ip4))
        .packet(ts(1, 0), &null(2, true, &ip4))
        .packet(ts(1, 0), &null(30, false, &ip6))
        .packet(ts(1, 0), &null(24, true, &ip6))
        .packet(ts(1, 0), &null(7, false, &ip4))
        .bytes();
    let (records, stats) = read_ok(&bytes);
    let payloads: Vec<&[u8]> = records.iter().map(Owned::payload).collect();
    assert_eq!(payloads, vec![&b"four"[..], b"four", b"six", b"six"]);
    assert_eq!(stats.not_ip, 1);
    let looped = PcapFile::new(108)
        .packet(ts(1, 0), &null(28, true, &ip6))
        .bytes();
    assert_eq!(read_ok(&looped).0[0].payload(), b"six");
}

#[test]
fn raw_ip_link_types() {
    let (c, s) = v4();
    let (c6, s6) = v6();
    for (linktype, ip) in [
        (101, ip_tcp(c, s, 1, 0, ACK, b"raw4")),
        (101, ip_tcp(c6, s6, 1, 0, ACK, b"raw6")),
        (228, ip_tcp(c, s, 1, 0, ACK, b"ipv4")),
        (229, ip_tcp(c6, s6, 1, 0, ACK, b"ipv6")),
    ] {
        let bytes = PcapFile::new(linktype).packet(ts(1, 0), &ip).bytes();
        let (records, _) = read_ok(&bytes);
        assert_eq!(records[0].payload(), &ip[ip.len() - 4..]);
    }
}

#[test]
fn ipv6_with_extension_headers() {
    let (c, s) = v6();
    let segment = tcp(c.port(), s.port(), 9, 0, ACK, b"ext");
    let (IpAddr::V6(a), IpAddr::V6(b)) = (c.ip(), s.ip()) else {
        unreachable!()
    };
    // Hop-by-hop then destination options, each padded with a PadN option.
    let ip = ipv6(
        a.octets(),
        b.octets(),
        6,
        &segment,
        &[(0, [1, 4, 0, 0, 0, 0]), (60, [1, 4, 0, 0, 0, 0])],
    );
    let bytes = PcapFile::new(1)
        .packet(ts(1, 0), &ethernet(&[], ETH_IPV6, &ip))
        .bytes();
    let (records, _) = read_ok(&bytes);
    let Owned::Tcp {
        src, dst, payload, ..
    } = &records[0]
    else {
        panic!("not tcp")
    };
    assert_eq!((*src, *dst, payload.as_slice()), (c, s, &b"ext"[..]));
}

#[test]
fn skipped_packets_are_counted_never_errors() {
    let (c, s) = v4();
    let (c6, s6) = v6();
    let (IpAddr::V6(a), IpAddr::V6(b)) = (c6.ip(), s6.ip()) else {
        unreachable!()
    };
    let segment = tcp(1, 2, 3, 4, ACK, b"x");
    let udp = ipv4(
        [10, 0, 0, 1],
        [10, 0, 0, 2],
        17,
        &[0, 53, 0, 53, 0, 9, 0, 0, 1],
        (0, false),
    );
    let frag4 = ipv4([10, 0, 0, 1], [10, 0, 0, 2], 6, &segment, (0, true));
    let frag6 = ipv6(
        a.octets(),
        b.octets(),
        6,
        &segment,
        &[(44, [0, 1, 0, 0, 0, 1])],
    );
    let mut cut_tcp = ip_tcp(c, s, 1, 0, ACK, b"");
    cut_tcp.truncate(30);
    let bytes = PcapFile::new(1)
        .packet(ts(1, 0), &ethernet(&[], ETH_ARP, &[0; 28]))
        .packet(ts(1, 0), &ethernet(&[], ETH_IPV4, &udp))
        .packet(ts(1, 0), &ethernet(&[], ETH_IPV4, &frag4))
        .packet(ts(1, 0), &ethernet(&[], ETH_IPV6, &frag6))
        .packet(ts(1, 0), &ethernet(&[], ETH_IPV4, &cut_tcp))
        .packet(ts(1, 0), &[1, 2, 3])
        .packet(
            ts(1, 0),
            &ethernet(&[], ETH_IPV4, &ip_tcp(c, s, 1, 0, ACK, b"kept")),
        )
        .bytes();
    let (records, stats) = read_ok(&bytes);
    assert_eq!(records.len(), 1);
    let Owned::Tcp { frame, .. } = records[0] else {
        panic!("not tcp")
    };
    assert_eq!(frame, 7, "frame numbers count every packet");
    assert_eq!(
        (
            stats.not_ip,
            stats.not_tcp,
            stats.ip_fragments,
            stats.malformed
        ),
        (1, 1, 2, 2)
    );
    let other_link = PcapFile::new(147).packet(ts(1, 0), &[0; 40]).bytes();
    assert_eq!(read_ok(&other_link).1.unsupported_link, 1);
}

#[test]
fn nanosecond_and_big_endian_pcap() {
    let (c, s) = v4();
    let frame = ethernet(&[], ETH_IPV4, &ip_tcp(c, s, 0xdead_beef, 1, ACK, b"ns"));
    for (big, nanos) in [(false, true), (true, false), (true, true)] {
        let when = ts(1_600_000_000, if nanos { 123_456_789 } else { 123_456_000 });
        let bytes = PcapFile::with(1, big, nanos, 65535)
            .packet(when, &frame)
            .bytes();
        let mut reader = CaptureReader::new("x", Cursor::new(&bytes));
        let Some(Ok(Record::Tcp(seg))) = reader.next_record() else {
            panic!("no segment")
        };
        assert_eq!(
            (seg.ts, seg.seq, seg.payload),
            (when, 0xdead_beef, &b"ns"[..])
        );
        assert_eq!(
            reader.format(),
            Some(FileFormat::Pcap {
                big_endian: big,
                nanos
            })
        );
    }
}

#[test]
fn snap_length_cut_is_marked_truncated() {
    let (c, s) = v4();
    let frame = ethernet(&[], ETH_IPV4, &ip_tcp(c, s, 1, 0, ACK, &[7; 100]));
    let bytes = PcapFile::with(1, false, false, 64)
        .packet(ts(1, 0), &frame)
        .bytes();
    let (records, stats) = read_ok(&bytes);
    let Owned::Tcp {
        payload, wire_len, ..
    } = &records[0]
    else {
        panic!("not tcp")
    };
    assert_eq!((payload.len(), *wire_len), (64 - 14 - 40, 100));
    assert_eq!(stats.truncated_payloads, 1);
}

#[test]
fn pcapng_interfaces_with_their_own_link_types_and_resolutions() {
    let (c, s) = v4();
    let (c6, s6) = v6();
    let eth = ethernet(&[], ETH_IPV4, &ip_tcp(c, s, 1, 0, ACK, b"eth"));
    let raw = ip_tcp(c6, s6, 1, 0, ACK, b"raw");
    let bytes = PcapngFile::new()
        .section(false)
        .interface(1, 0, None, None)
        .interface(101, 0, Some(9), Some(100))
        .interface(276, 0, Some(0x80 | 20), None)
        .packet(0, 1_500_000_000_250_000, &eth, eth.len())
        .packet(1, 1_500_000_000_123_456_789, &raw, raw.len())
        .packet(
            2,
            (10 << 20) + (1 << 19),
            &sll2(ETH_IPV4, &ip_tcp(c, s, 1, 0, ACK, b"sll2")),
            64,
        )
        .bytes();
    let (records, stats) = read_ok(&bytes);
    let seen: Vec<(Duration, &[u8])> = records.iter().map(|r| (r.ts(), r.payload())).collect();
    assert_eq!(
        seen,
        vec![
            (ts(1_500_000_000, 250_000_000), &b"eth"[..]),
            (ts(1_500_000_100, 123_456_789), b"raw"),
            (ts(10, 500_000_000), b"sll2"),
        ]
    );
    assert_eq!(stats.sections, 1);
}

#[test]
fn pcapng_sections_of_both_byte_orders_restart_interfaces() {
    let (c, s) = v4();
    let ip = ip_tcp(c, s, 5, 0, ACK, b"be");
    let mut bytes = PcapngFile::new()
        .section(false)
        .interface(101, 0, None, None)
        .packet(0, 1_000_000, &ip, ip.len())
        .bytes();
    bytes.extend(
        PcapngFile::new()
            .section(true)
            .interface(1, 0, Some(3), None)
            .packet(0, 2_000, &ethernet(&[], ETH_IPV4, &ip), 14 + ip.len())
            .packet(1, 2_000, &ip, ip.len())
            .bytes(),
    );
    let (records, stats) = read_ok(&bytes);
    assert_eq!(
        records.iter().map(Owned::ts).collect::<Vec<_>>(),
        vec![ts(1, 0), ts(2, 0)]
    );
    assert_eq!(
        (stats.sections, stats.unknown_interface, stats.frames),
        (2, 1, 3)
    );
}

#[test]
fn simple_packet_blocks_use_interface_zero_and_the_last_time() {
    let (c, s) = v4();
    let ip = ip_tcp(c, s, 5, 0, ACK, b"simple");
    let bytes = PcapngFile::new()
        .section(false)
        .interface(101, 0, None, None)
        .packet(0, 42_000_000, &ip, ip.len())
        .simple_packet(&ip, ip.len() as u32)
        .bytes();
    let (records, _) = read_ok(&bytes);
    assert_eq!(records.len(), 2);
    assert_eq!(
        (records[1].ts(), records[1].payload()),
        (ts(42, 0), &b"simple"[..])
    );
    // With a snap length, the block holds only that much, and the rest is padding.
    let cut = PcapngFile::new()
        .section(false)
        .interface(101, 42, None, None)
        .simple_packet(&ip[..42], ip.len() as u32)
        .bytes();
    let (records, _) = read_ok(&cut);
    let Owned::Tcp {
        payload, wire_len, ..
    } = &records[0]
    else {
        panic!("not tcp")
    };
    assert_eq!((payload.as_slice(), *wire_len), (&b"si"[..], 6));
}

#[test]
fn decryption_secrets_yield_key_log_text_and_other_blocks_are_skipped() {
    let keys = b"CLIENT_RANDOM 00112233 44556677\n";
    let bytes = PcapngFile::new()
        .section(false)
        .block(4, &[0, 0, 0, 0], &[])
        .secrets(0x544c_534b, keys)
        .block(0x0bad, &[1, 2, 3], &[])
        .block(5, &[1, 2], &[])
        .bytes();
    let (records, stats) = read_ok(&bytes);
    assert_eq!(
        records,
        vec![Owned::Secrets(
            SecretsKind::TlsKeyLog,
            keys.to_vec(),
            28 + 16
        )]
    );
    // The last is an interface statistics block too short to parse: skipped all the same.
    assert_eq!((stats.secrets_blocks, stats.other_blocks), (1, 3));
}

#[test]
fn small_reads_give_the_same_records() {
    let (c, s) = v4();
    let mut file = PcapngFile::new()
        .section(false)
        .interface(1, 0, Some(6), None);
    for i in 0..50u32 {
        let payload = vec![i as u8; i as usize * 7];
        let frame = ethernet(&[], ETH_IPV4, &ip_tcp(c, s, i, 0, ACK, &payload));
        file = file.packet(0, u64::from(i), &frame, frame.len());
    }
    let bytes = file.bytes();
    let whole = read_ok(&bytes).0;
    for step in [1, 3, 13, 1000] {
        let (records, _, error) = drain(CaptureReader::new("t", Trickle { data: &bytes, step }));
        assert!(error.is_none());
        assert_eq!(records, whole, "step {step}");
    }
}
