use super::*;
use crate::record::pcapng::block::{self, LINKTYPE_RAW, SECRETS_TLS_KEY_LOG};
use crate::record::pcapng::tcp::{Close, TcpFlow, FIN, PSH, RST, SYN};

/// A small file: two connections on two interfaces, comments, a key log per connection
/// and one without a comment.
fn sample() -> Vec<u8> {
    let mut out = Vec::new();
    block::section_header(&mut out, "rdptap test");
    block::interface(&mut out, "rdptap-conn-1", "connection 1");
    block::interface(&mut out, "rdptap-conn-2", "connection 2");
    let mut a = TcpFlow::new(
        "127.0.0.1:50000".parse().unwrap(),
        "127.0.0.1:3389".parse().unwrap(),
        [1, 2],
    );
    let mut b = TcpFlow::new(
        "[::1]:50001".parse().unwrap(),
        "[::1]:80".parse().unwrap(),
        [3, 4],
    );
    let mut ts = 1_700_000_000_000_000u64;
    let mut put = |out: &mut Vec<u8>, iface: u32, comments: &[&str], h: &[u8], p: &[u8]| {
        ts += 1;
        block::packet(out, iface, ts, &[h, p], comments);
    };
    a.open(&mut |h, p| put(&mut out, 0, &[], h, p));
    b.open(&mut |h, p| put(&mut out, 1, &[], h, p));
    block::secrets(&mut out, b"CLIENT_RANDOM aa bb\n", Some("rdptap-conn-1"));
    a.data(true, b"hello", &mut |h, p| {
        put(&mut out, 0, &["rdptap: first", "rdptap: second"], h, p)
    });
    b.data(false, b"world!", &mut |h, p| put(&mut out, 1, &[], h, p));
    block::secrets(&mut out, b"CLIENT_RANDOM cc dd\n", Some("rdptap-conn-2"));
    block::secrets(&mut out, b"# shared\n", None);
    a.close(true, Close::Fin, &mut |h, p| put(&mut out, 0, &[], h, p));
    b.close(false, Close::Rst, &mut |h, p| {
        put(&mut out, 1, &["rdptap: reset"], h, p)
    });
    out
}

#[test]
fn round_trip() {
    let data = sample();
    let all: Vec<Block> = blocks(&data).collect::<Result<_, _>>().unwrap();
    let kinds: Vec<u32> = all.iter().map(|b| b.kind).collect();
    assert_eq!(kinds[..3], [SHB, IDB, IDB]);
    assert_eq!(all.iter().map(|b| b.raw.len()).sum::<usize>(), data.len());

    let idb = interface(&all[1]).unwrap();
    assert_eq!(idb.link_type, LINKTYPE_RAW);
    assert_eq!(idb.snaplen, 0);
    assert_eq!(idb.name, Some("rdptap-conn-1"));
    assert_eq!(idb.description, Some("connection 1"));
    assert_eq!(interface(&all[2]).unwrap().name, Some("rdptap-conn-2"));

    let pkts: Vec<Packet> = all.iter().filter_map(packet).collect();
    assert_eq!(pkts.len(), 10);
    assert!(pkts.windows(2).all(|w| w[1].ts == w[0].ts + 1));
    assert!(pkts.iter().all(|p| p.orig_len as usize == p.data.len()));
    let hello = pkts
        .iter()
        .find(|p| segment(p.data).unwrap().payload == b"hello")
        .unwrap();
    assert_eq!(hello.iface, 0);
    assert_eq!(hello.comments, ["rdptap: first", "rdptap: second"]);
    let s = segment(hello.data).unwrap();
    assert_eq!(
        (s.src.to_string(), s.dst.to_string()),
        ("127.0.0.1:50000".into(), "127.0.0.1:3389".into())
    );
    assert_eq!((s.seq, s.ack, s.flags), (2, 3, PSH | ACK));

    let world = pkts
        .iter()
        .find(|p| segment(p.data).unwrap().payload == b"world!")
        .unwrap();
    let s = segment(world.data).unwrap();
    assert_eq!(world.iface, 1);
    assert_eq!(s.src.to_string(), "[::1]:80");
    assert!(world.comments.is_empty());
    let first = segment(pkts[0].data).unwrap();
    assert_eq!((first.flags, first.ack), (SYN, 0));
    let last = &pkts[9];
    assert_eq!(segment(last.data).unwrap().flags, RST | ACK);
    assert_eq!(last.comments, ["rdptap: reset"]);
    assert_eq!(segment(pkts[8].data).unwrap().flags, FIN | ACK);

    let dsbs: Vec<Secrets> = all.iter().filter_map(secrets).collect();
    assert_eq!(dsbs.len(), 3);
    assert_eq!(dsbs[0].kind, SECRETS_TLS_KEY_LOG);
    assert_eq!(dsbs[0].data, b"CLIENT_RANDOM aa bb\n");
    assert_eq!(dsbs[0].comment, Some("rdptap-conn-1"));
    assert_eq!(dsbs[2].comment, None);
    // Parsers refuse blocks of another type.
    assert!(
        packet(&all[0]).is_none() && interface(&all[3]).is_none() && secrets(&all[1]).is_none()
    );
}

#[test]
fn every_prefix_reads_whole_blocks_then_at_most_one_error() {
    let data = sample();
    let ends: Vec<usize> = blocks(&data)
        .map(|b| b.unwrap())
        .map(|b| b.offset + b.raw.len())
        .collect();
    for cut in 0..data.len() {
        let prefix = &data[..cut];
        let items: Vec<_> = blocks(prefix).collect();
        let whole = ends.iter().filter(|&&e| e <= cut).count();
        assert!(items[..whole].iter().all(|r| r.is_ok()), "cut at {cut}");
        match &items[whole..] {
            [] => assert!(ends.contains(&cut) || cut == 0),
            [Err(ReadError::Torn { offset })] => assert_eq!(
                *offset,
                ends.get(whole.wrapping_sub(1)).copied().unwrap_or(0)
            ),
            other => panic!("cut at {cut}: {other:?}"),
        }
        for b in items.iter().flatten() {
            let _ = (packet(b), interface(b), secrets(b));
        }
        let end = ends[..whole].last().copied().unwrap_or(0);
        let kept = rewrite(prefix, |_| true);
        assert_eq!(kept, rewrite(&data[..end], |_| true));
        assert_eq!(kept.len(), end);
    }
}

#[test]
fn damage_is_an_error_not_a_panic() {
    let data = sample();
    assert_eq!(
        blocks(b"\x01\0\0\0\x0c\0\0\0\x0c\0\0\0").next(),
        Some(Err(ReadError::NotPcapng))
    );
    let mut big = data.clone();
    big[8..12].copy_from_slice(&0x1A2B_3C4Du32.to_be_bytes());
    assert_eq!(
        blocks(&big).next(),
        Some(Err(ReadError::BigEndian { offset: 0 }))
    );
    let mut bad = data.clone();
    let second = blocks(&data).nth(1).unwrap().unwrap().offset;
    bad[second + 4] ^= 0x04; // the leading length no longer matches the trailing one
    let items: Vec<_> = blocks(&bad).collect();
    assert!(matches!(items.last(), Some(Err(_))));
    // Random damage anywhere, including inside bodies that the parsers then read.
    let mut x = 0x1234_5678_9ABC_DEF0u64;
    for _ in 0..2000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let mut d = data.clone();
        let at = (x % d.len() as u64) as usize;
        d[at] = (x >> 40) as u8;
        for b in blocks(&d).flatten() {
            if let Some(p) = packet(&b) {
                let _ = segment(p.data);
            }
            let _ = (interface(&b), secrets(&b));
        }
        let _ = rewrite(&d, |n| n.ends_with('1'));
    }
}

#[test]
fn segment_rejects_short_or_foreign_packets() {
    assert_eq!(segment(&[]), None);
    assert_eq!(segment(&[0x45; 19]), None);
    let mut udp = vec![0u8; 28];
    udp[0] = 0x45;
    udp[3] = 28;
    udp[9] = 17;
    assert_eq!(segment(&udp), None);
    assert_eq!(segment(&[0x60; 39]), None);
}

#[test]
fn rewrite_keeps_one_connection() {
    let data = sample();
    let one = rewrite(&data, |name| name == "rdptap-conn-2");
    let all: Vec<Block> = blocks(&one).collect::<Result<_, _>>().unwrap();
    assert_eq!(
        all.iter().filter(|b| b.kind == IDB).count(),
        2,
        "numbering stays valid"
    );
    let pkts: Vec<Packet> = all.iter().filter_map(packet).collect();
    assert_eq!(pkts.len(), 5);
    assert!(pkts.iter().all(|p| p.iface == 1));
    let dsbs: Vec<Option<&str>> = all.iter().filter_map(secrets).map(|s| s.comment).collect();
    assert_eq!(dsbs, [Some("rdptap-conn-2"), None]);
    assert_eq!(all[1].kind, DSB, "keys first");
    // Keeping everything only moves the DSBs to just after the section header.
    let all_kept = rewrite(&data, |_| true);
    assert_eq!(all_kept.len(), data.len());
    let kinds: Vec<u32> = blocks(&all_kept).map(|b| b.unwrap().kind).collect();
    assert_eq!(kinds[..6], [SHB, DSB, DSB, DSB, IDB, IDB]);
    assert_eq!(rewrite(&all_kept, |_| true), all_kept);
    let none = rewrite(&data, |_| false);
    assert_eq!(
        blocks(&none).filter_map(|b| secrets(&b.unwrap())).count(),
        1
    );
}

#[test]
fn rewrite_handles_several_sections() {
    let mut data = sample();
    let mut second = Vec::new();
    block::section_header(&mut second, "again");
    block::interface(&mut second, "rdptap-conn-2", "");
    block::secrets(&mut second, b"k\n", Some("rdptap-conn-2"));
    block::packet(&mut second, 0, 9, &[b"x"], &[]);
    data.extend_from_slice(&second);
    let out = rewrite(&data, |n| n == "rdptap-conn-2");
    let all: Vec<Block> = blocks(&out).collect::<Result<_, _>>().unwrap();
    let tail: Vec<u32> = all.iter().rev().take(4).rev().map(|b| b.kind).collect();
    assert_eq!(
        tail,
        [SHB, DSB, IDB, EPB],
        "ids restart at 0 in the second section"
    );
    assert_eq!(packet(all.last().unwrap()).unwrap().data, b"x");
}
