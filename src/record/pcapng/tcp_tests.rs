use super::*;
use crate::record::pcapng::checksum::checksum;
use crate::record::pcapng::checksum::tests::{reference, Rng};
use crate::record::pcapng::read::{segment, Segment};

/// An `emit` that records each packet with headers and payload joined, as a file holds it.
fn rec(pkts: &mut Vec<Vec<u8>>) -> impl FnMut(&[u8], &[u8]) + '_ {
    |h, p| pkts.push([h, p].concat())
}

fn v4(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn seg(p: &[u8]) -> Segment<'_> {
    segment(p).expect("a TCP/IP packet")
}

/// Checks both checksums of a packet with the slow reference sum.
fn assert_checksums(p: &[u8]) {
    let (pseudo, tcp) = if p[0] >> 4 == 4 {
        assert_eq!(checksum(&p[..20]), 0, "IPv4 header checksum verifies to 0");
        assert_eq!(reference(&[&p[..20]]), 0);
        let tcp = &p[20..];
        let mut ph = p[12..20].to_vec();
        ph.extend_from_slice(&[0, 6]);
        ph.extend_from_slice(&(tcp.len() as u16).to_be_bytes());
        (ph, tcp)
    } else {
        let tcp = &p[40..];
        let mut ph = p[8..40].to_vec();
        ph.extend_from_slice(&(tcp.len() as u32).to_be_bytes());
        ph.extend_from_slice(&[0, 0, 0, 6]);
        (ph, tcp)
    };
    assert_eq!(reference(&[&pseudo, tcp]), 0, "TCP checksum verifies to 0");
}

fn flow4() -> TcpFlow {
    TcpFlow::new(v4("10.0.0.1:50000"), v4("10.0.0.2:3389"), [1000, 5000])
}

#[test]
fn handshake_seq_and_ack() {
    let mut f = flow4();
    let mut pkts = Vec::new();
    f.open(&mut rec(&mut pkts));
    assert_eq!(pkts.len(), 3);
    let [syn, synack, ack] = [seg(&pkts[0]), seg(&pkts[1]), seg(&pkts[2])];
    assert_eq!((syn.flags, syn.seq, syn.ack), (SYN, 1000, 0));
    assert_eq!(syn.src, v4("10.0.0.1:50000"));
    assert_eq!(syn.dst, v4("10.0.0.2:3389"));
    assert_eq!(
        (synack.flags, synack.seq, synack.ack),
        (SYN | ACK, 5000, 1001)
    );
    assert_eq!(synack.src, v4("10.0.0.2:3389"));
    assert_eq!((ack.flags, ack.seq, ack.ack), (ACK, 1001, 5001));
    for p in &pkts {
        assert_checksums(p);
    }
    // The SYNs announce MSS and window scale in a 28-byte header.
    assert_eq!(pkts[0].len(), 48);
    assert_eq!(pkts[0][32] >> 4, 7);
    assert_eq!(pkts[2].len(), 40);
    // IPv4 identification counts packets.
    let ids: Vec<u16> = pkts
        .iter()
        .map(|p| u16::from_be_bytes([p[4], p[5]]))
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    assert!(pkts.iter().all(|p| p[6] == 0x40 && p[8] == 64));
}

#[test]
fn checksums_match_reference_on_random_payloads() {
    let mut rng = Rng(0xDEAD_BEEF_1234_5678);
    let six: SocketAddr = "[2001:db8::1]:443".parse().unwrap();
    let six_srv: SocketAddr = "[2001:db8::ff]:3389".parse().unwrap();
    let mut flows = [flow4(), TcpFlow::new(six, six_srv, [7, 9])];
    for i in 0..300 {
        let len = match i {
            0 => 0,
            1 => MAX_SEGMENT,
            2 => MAX_SEGMENT - 1,
            _ => (rng.next() % 3000) as usize | (i & 1), // odd lengths half the time
        };
        let payload = rng.bytes(len);
        let f = &mut flows[i % 2];
        let mut pkts = Vec::new();
        f.data(i % 3 == 0, &payload, &mut rec(&mut pkts));
        assert_eq!(pkts.len(), usize::from(len > 0));
        for p in &pkts {
            assert_checksums(p);
            assert_eq!(seg(p).payload, &payload[..]);
        }
    }
}

#[test]
fn large_payload_is_split_into_max_segments() {
    let mut f = flow4();
    let payload: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let mut pkts = Vec::new();
    let mut e = |h: &[u8], p: &[u8]| pkts.push([h, p].concat());
    f.open(&mut e);
    f.data(false, &payload, &mut e);
    let data: Vec<Segment> = pkts[3..].iter().map(|p| seg(p)).collect();
    let sizes: Vec<usize> = data.iter().map(|s| s.payload.len()).collect();
    assert_eq!(sizes, [65_495, 65_495, 65_495, 3_515]);
    let mut seq = 5001u32;
    for s in &data {
        assert_eq!((s.flags, s.seq, s.ack), (PSH | ACK, seq, 1001));
        seq += s.payload.len() as u32;
    }
    assert_eq!(f.next_seq(false), 5001 + 200_000);
    assert_eq!(
        data.iter()
            .flat_map(|s| s.payload)
            .copied()
            .collect::<Vec<_>>(),
        payload
    );
    for p in &pkts {
        assert!(p.len() <= 65_535);
        assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), p.len());
        assert_checksums(p);
    }
}

#[test]
fn fin_from_both_sides_then_nothing() {
    let mut f = flow4();
    let mut pkts = Vec::new();
    let mut e = |h: &[u8], p: &[u8]| pkts.push([h, p].concat());
    f.open(&mut e);
    f.data(true, b"hello", &mut e);
    f.close(true, Close::Fin, &mut e);
    f.data(true, b"after fin", &mut e); // ignored: client sent FIN
    f.close(true, Close::Fin, &mut e); // ignored: second FIN
    f.data(false, b"bye", &mut e); // half-close: server may still send
    f.close(false, Close::Fin, &mut e);
    f.data(false, b"late", &mut e);
    f.close(false, Close::Rst, &mut e); // no RST after both FINs
    assert!(f.is_closed());
    let s: Vec<Segment> = pkts[3..].iter().map(|p| seg(p)).collect();
    assert_eq!(s.len(), 4);
    assert_eq!(
        (s[0].seq, s[0].ack, s[0].payload),
        (1001, 5001, &b"hello"[..])
    );
    assert_eq!((s[1].flags, s[1].seq, s[1].ack), (FIN | ACK, 1006, 5001));
    // The server's next segment acknowledges the FIN: one past the client's last byte.
    assert_eq!(
        (s[2].seq, s[2].ack, s[2].payload),
        (5001, 1007, &b"bye"[..])
    );
    assert_eq!((s[3].flags, s[3].seq, s[3].ack), (FIN | ACK, 5004, 1007));
}

#[test]
fn rst_kills_the_flow() {
    let mut f = flow4();
    let mut pkts = Vec::new();
    let mut e = |h: &[u8], p: &[u8]| pkts.push([h, p].concat());
    f.open(&mut e);
    f.data(false, b"abc", &mut e);
    f.close(false, Close::Rst, &mut e);
    f.data(true, b"ignored", &mut e);
    f.close(true, Close::Fin, &mut e);
    f.open(&mut e);
    assert!(f.is_closed());
    assert_eq!(pkts.len(), 5);
    let rst = seg(&pkts[4]);
    assert_eq!((rst.flags, rst.seq, rst.ack), (RST | ACK, 5004, 1001));
    assert_checksums(&pkts[4]);
}

#[test]
fn skip_leaves_a_gap_in_sequence_space() {
    let mut f = flow4();
    f.skip(true, 100);
    let mut pkts = Vec::new();
    let mut e = |h: &[u8], p: &[u8]| pkts.push([h, p].concat());
    f.data(true, b"x", &mut e);
    f.skip(false, (1 << 32) + 10); // only the low 32 bits count
    f.data(false, b"y", &mut e);
    let (a, b) = (seg(&pkts[0]), seg(&pkts[1]));
    assert_eq!((a.seq, a.ack), (1100, 5000));
    assert_eq!((b.seq, b.ack), (5010, 1101));
}

#[test]
fn mixed_families_map_ipv4_into_ipv6() {
    let client = v4("192.0.2.7:50000");
    let server: SocketAddr = "[2001:db8::2]:443".parse().unwrap();
    let mut f = TcpFlow::new(client, server, [1, 2]);
    let mut pkts = Vec::new();
    let mut e = |h: &[u8], p: &[u8]| pkts.push([h, p].concat());
    f.open(&mut e);
    f.data(true, b"odd", &mut e);
    let mapped: SocketAddr = "[::ffff:192.0.2.7]:50000".parse().unwrap();
    for p in &pkts {
        assert_eq!(p[0] >> 4, 6);
        assert_eq!((p[6], p[7]), (6, 64), "next header TCP, hop limit 64");
        assert_eq!(usize::from(u16::from_be_bytes([p[4], p[5]])), p.len() - 40);
        assert_checksums(p);
    }
    assert_eq!((seg(&pkts[0]).src, seg(&pkts[0]).dst), (mapped, server));
    assert_eq!((seg(&pkts[1]).src, seg(&pkts[1]).dst), (server, mapped));
    assert_eq!(seg(&pkts[3]).payload, b"odd");
}

#[test]
fn sequence_numbers_wrap() {
    let mut f = TcpFlow::new(v4("10.0.0.1:1"), v4("10.0.0.2:2"), [u32::MAX, u32::MAX - 2]);
    let mut pkts = Vec::new();
    let mut e = |h: &[u8], p: &[u8]| pkts.push([h, p].concat());
    f.open(&mut e);
    f.data(false, b"abcd", &mut e);
    f.data(true, b"z", &mut e);
    f.close(true, Close::Fin, &mut e);
    let s: Vec<Segment> = pkts.iter().map(|p| seg(p)).collect();
    assert_eq!((s[0].seq, s[1].seq, s[1].ack), (u32::MAX, u32::MAX - 2, 0));
    assert_eq!((s[2].seq, s[2].ack), (0, u32::MAX - 1));
    assert_eq!((s[3].seq, s[3].ack), (u32::MAX - 1, 0));
    assert_eq!((s[4].seq, s[4].ack), (0, 2));
    assert_eq!((s[5].flags, s[5].seq, s[5].ack), (FIN | ACK, 1, 2));
    assert_eq!(f.next_seq(true), 2);
}
