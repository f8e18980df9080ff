use super::*;
use proptest::prelude::*;

/// What a framer reported, made independent of how the body was cut: payload and
/// trailer runs merged, offsets made absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Size(u64, Vec<u8>, usize),
    Data(Vec<u8>),
    Trailers(Vec<u8>),
    End(usize),
}

/// Feeds `input` in pieces of the sizes in `sizes` (in turn); returns what was seen,
/// and the bytes used or the error that broke the framing.
fn run(input: &[u8], sizes: &[usize]) -> (Vec<Seen>, Result<usize, ChunkError>) {
    let mut f = ChunkedFramer::new();
    let mut seen: Vec<Seen> = Vec::new();
    let (mut at, mut used, mut k) = (0, 0, 0);
    while at < input.len() {
        let size = sizes
            .get(k % sizes.len().max(1))
            .copied()
            .unwrap_or(1)
            .max(1);
        k += 1;
        let piece = &input[at..(at + size).min(input.len())];
        let fed = f.feed(piece, &mut |ev| {
            let item = match ev {
                ChunkEvent::Size {
                    size,
                    extensions,
                    end,
                } => Seen::Size(size, extensions.to_vec(), at + end),
                ChunkEvent::Data(r) => Seen::Data(piece[r].to_vec()),
                ChunkEvent::Trailers(r) => Seen::Trailers(piece[r].to_vec()),
                ChunkEvent::End { at: end } => Seen::End(at + end),
            };
            match (seen.last_mut(), item) {
                (Some(Seen::Data(d)), Seen::Data(more)) => d.extend(more),
                (Some(Seen::Trailers(t)), Seen::Trailers(more)) => t.extend(more),
                (_, item) => seen.push(item),
            }
        });
        match fed {
            Err(e) => return (seen, Err(e)),
            Ok((n, done)) => {
                used += n;
                if done {
                    break;
                }
                assert_eq!(n, piece.len(), "a piece is used whole until the end");
            }
        }
        at += piece.len();
    }
    (seen, Ok(used))
}

/// The payload of what was seen.
fn payload(seen: &[Seen]) -> Vec<u8> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Data(d) => Some(d.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn every_part_is_reported_with_its_offsets() {
    let body =
        b"5;name=value;x\r\nhello\r\n6 ; ext=\"q\"\r\n world\r\n0;last\r\nX-T: 1\r\n\r\nNEXT";
    let (seen, used) = run(body, &[body.len()]);
    assert_eq!(used, Ok(body.len() - 4));
    assert_eq!(
        seen,
        vec![
            Seen::Size(5, b"name=value;x".to_vec(), 16),
            Seen::Data(b"hello".to_vec()),
            Seen::Size(6, b" ext=\"q\"".to_vec(), 36),
            Seen::Data(b" world".to_vec()),
            Seen::Size(0, b"last".to_vec(), 52),
            Seen::Trailers(b"X-T: 1\r\n\r\n".to_vec()),
            Seen::End(body.len() - 4),
        ]
    );
    for step in 1..body.len() {
        assert_eq!(run(body, &[step]).0, seen, "step {step}");
    }
}

#[test]
fn a_finished_framer_takes_nothing_more() {
    let mut f = ChunkedFramer::new();
    assert_eq!(f.feed(b"0\r\n\r\n", &mut |_| {}), Ok((5, true)));
    assert!(f.done());
    let mut events = 0;
    assert_eq!(f.feed(b"more", &mut |_| events += 1), Ok((0, true)));
    assert_eq!(events, 0);
    assert_eq!(f.truncation(), None);
}

#[test]
fn errors_are_sticky_and_worded_for_events() {
    let mut f = ChunkedFramer::new();
    let e = f.feed(b"zz;x\r\n", &mut |_| {}).expect_err("not hex");
    assert_eq!(e.to_string(), "chunk size `zz` is not hexadecimal");
    assert_eq!(
        e,
        ChunkError::BadSize {
            line: b"zz;x\r".to_vec(),
            fault: SizeFault::NotHex
        }
    );
    assert_eq!(f.feed(b"1\r\n", &mut |_| {}), Err(e));
    let words = [
        (&b"\r\n"[..], "chunk-size line has no size"),
        (
            b"10000000000000000\r\n",
            "chunk size does not fit in 64 bits",
        ),
        (b"1\r\naX", "chunk data is not followed by CRLF"),
        (
            b"\x80\xff\r\n",
            "chunk size `\u{fffd}\u{fffd}` is not hexadecimal",
        ),
    ];
    for (input, want) in words {
        let err = ChunkedFramer::new()
            .feed(input, &mut |_| {})
            .expect_err("bad");
        assert_eq!(err.to_string(), want);
    }
    assert_eq!(
        ChunkError::LineTooLong.to_string(),
        "chunk-size line longer than 1024 bytes"
    );
    assert_eq!(
        ChunkError::TrailersTooLong.to_string(),
        "trailers longer than 65536 bytes"
    );
}

#[test]
fn the_line_limit_counts_the_bytes_before_the_lf() {
    let mut line = b"1;".to_vec();
    line.resize(CHUNK_LINE_LIMIT, b'x');
    line.extend_from_slice(b"\nz\r\n");
    assert_eq!(run(&line, &[7]).1, Ok(line.len()));
    line.insert(2, b'x');
    assert_eq!(run(&line, &[7]).1, Err(ChunkError::LineTooLong));
}

#[test]
fn the_closing_lf_of_the_trailers_may_pass_the_limit() {
    let mut body = b"0\r\n".to_vec();
    let filler = "X-F: ".to_string() + &"f".repeat(TRAILER_LIMIT - 8) + "\r\n";
    body.extend_from_slice(filler.as_bytes());
    body.extend_from_slice(b"\r");
    // TRAILER_LIMIT trailer bytes up to the CR of the empty line; its LF is one more.
    assert_eq!(body.len() - 3, TRAILER_LIMIT);
    let mut closed = body.clone();
    closed.push(b'\n');
    assert_eq!(run(&closed, &[4096]).1, Ok(closed.len()));
    body.extend_from_slice(b"x");
    assert_eq!(run(&body, &[4096]).1, Err(ChunkError::TrailersTooLong));
}

#[test]
fn truncation_and_between_chunks() {
    let mut f = ChunkedFramer::new();
    assert!(f.between_chunks());
    let _ = f.feed(b"3\r\nab", &mut |_| {});
    assert_eq!(
        f.truncation(),
        Some(Truncation::Chunk {
            got: 2,
            expected: 3
        })
    );
    assert!(!f.between_chunks());
}

/// A chunked body built from `chunks` (data, extensions) and `trailers`.
fn encode(chunks: &[(Vec<u8>, String)], trailers: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for (data, ext) in chunks.iter().filter(|(d, _)| !d.is_empty()) {
        out.extend_from_slice(format!("{:x}{ext}\r\n", data.len()).as_bytes());
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n");
    for t in trailers {
        out.extend_from_slice(format!("X-{t}: v\r\n").as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Bytes that look like a chunked body, broken here and there.
fn near_chunked() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(
            (
                prop::collection::vec(any::<u8>(), 0..40),
                "(;[a-z=\"]{0,8})?",
            ),
            0..6,
        ),
        prop::collection::vec("[a-z]{1,6}", 0..3),
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
    )
        .prop_map(|(chunks, trailers, flips)| {
            let mut body = encode(&chunks, &trailers);
            for (at, b) in flips {
                if !body.is_empty() {
                    let i = at.index(body.len());
                    body[i] = b;
                }
            }
            body
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn well_formed_bodies_come_back_whole(
        chunks in prop::collection::vec(
            (prop::collection::vec(any::<u8>(), 0..300), "(;[a-z]{1,5}(=[0-9]{1,3})?)?"),
            0..8,
        ),
        trailers in prop::collection::vec("[a-z]{1,6}", 0..3),
        sizes in prop::collection::vec(1usize..64, 1..6),
    ) {
        let body = encode(&chunks, &trailers);
        let mut input = body.clone();
        input.extend_from_slice(b"NEXT");
        let (seen, used) = run(&input, &sizes);
        prop_assert_eq!(used, Ok(body.len()));
        let want: Vec<u8> = chunks.iter().flat_map(|(d, _)| d.clone()).collect();
        prop_assert_eq!(payload(&seen), want);
        prop_assert_eq!(seen.last(), Some(&Seen::End(body.len())));
        let exts: Vec<Vec<u8>> = seen
            .iter()
            .filter_map(|s| match s {
                Seen::Size(n, e, _) if *n > 0 => Some(e.clone()),
                _ => None,
            })
            .collect();
        let sent: Vec<Vec<u8>> = chunks
            .iter()
            .filter(|(d, _)| !d.is_empty())
            .map(|(_, e)| e.strip_prefix(';').unwrap_or("").as_bytes().to_vec())
            .collect();
        prop_assert_eq!(exts, sent);
    }

    #[test]
    fn any_chunking_gives_the_same_result(
        body in near_chunked(),
        sizes in prop::collection::vec(1usize..50, 1..6),
    ) {
        prop_assert_eq!(run(&body, &sizes), run(&body, &[body.len().max(1)]));
    }

    #[test]
    fn any_bytes_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..2000),
        sizes in prop::collection::vec(1usize..300, 1..6),
    ) {
        let (seen, used) = run(&body, &sizes);
        prop_assert!(used.map_or(true, |n| n <= body.len()));
        prop_assert!(payload(&seen).len() <= body.len());
        prop_assert_eq!(run(&body, &sizes), run(&body, &[body.len().max(1)]));
    }
}
