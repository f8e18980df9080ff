use super::*;

/// Feeds `input` in pieces of `step` bytes; returns payload, bytes used and done.
fn frame(framing: Framing, input: &[u8], step: usize) -> (Vec<u8>, usize, bool, BodyFramer) {
    let mut f = BodyFramer::new(framing).expect("a body");
    let mut payload = Vec::new();
    let mut used = 0;
    for piece in input.chunks(step.max(1)) {
        let (n, done) = f
            .feed(piece, &mut |b: &[u8]| payload.extend_from_slice(b))
            .expect("framable");
        used += n;
        if done {
            return (payload, used, true, f);
        }
        assert_eq!(n, piece.len());
    }
    (payload, used, false, f)
}

#[test]
fn empty_bodies_have_no_framer() {
    assert!(BodyFramer::new(Framing::Empty).is_none());
    assert!(BodyFramer::new(Framing::Length(0)).is_none());
}

#[test]
fn content_length_stops_at_the_length() {
    for step in [1, 3, 100] {
        let (p, used, done, _) = frame(Framing::Length(5), b"helloNEXT", step);
        assert_eq!((p.as_slice(), used, done), (&b"hello"[..], 5, true));
    }
}

#[test]
fn chunked_with_extensions_and_trailers() {
    let input = b"5;name=value;x\r\nhello\r\n6 ; ext=\"q\"\r\n world\r\n0;last\r\nX-Trailer: 1\r\nY: 2\r\n\r\nNEXT";
    for step in 1..input.len() {
        let (p, used, done, _) = frame(Framing::Chunked, input, step);
        assert_eq!(p, b"hello world");
        assert!(done);
        assert_eq!(used, input.len() - 4, "step {step}");
    }
}

#[test]
fn chunked_with_bare_lf_and_uppercase_hex() {
    let (p, _, done, _) = frame(Framing::Chunked, b"A\nabcdefghij\n0\n\n", 1);
    assert_eq!(p, b"abcdefghij");
    assert!(done);
}

#[test]
fn until_close_takes_everything() {
    let (p, used, done, f) = frame(Framing::UntilClose, b"abc", 1);
    assert_eq!((p.len(), used, done), (3, 3, false));
    assert_eq!(f.truncation(), None);
}

#[test]
fn truncation_points() {
    let (_, _, _, f) = frame(Framing::Length(245), &[0; 87], 10);
    assert_eq!(
        f.truncation(),
        Some(Truncation::Body {
            got: 87,
            expected: 245
        })
    );
    let (_, _, _, f) = frame(Framing::Chunked, b"20\r\n0123456789", 4);
    assert_eq!(
        f.truncation(),
        Some(Truncation::Chunk {
            got: 10,
            expected: 32
        })
    );
    let (_, _, _, f) = frame(Framing::Chunked, b"3\r\nabc\r\n1f", 4);
    assert_eq!(f.truncation(), Some(Truncation::ChunkSize { got: 2 }));
    let (_, _, _, f) = frame(Framing::Chunked, b"3\r\nabc\r\n", 4);
    assert_eq!(f.truncation(), Some(Truncation::ChunkSize { got: 0 }));
    assert!(f.between_chunks());
    let (_, _, _, f) = frame(Framing::Chunked, b"3\r\nabc", 4);
    assert_eq!(f.truncation(), Some(Truncation::ChunkSize { got: 0 }));
    assert!(!f.between_chunks());
    let (_, _, _, f) = frame(Framing::Chunked, b"0\r\nX-T: 1\r\n", 4);
    assert_eq!(f.truncation(), Some(Truncation::Headers { got: 8 }));
}

#[test]
fn bad_chunks_are_errors() {
    let cases: [(&[u8], &str); 5] = [
        (b"zz\r\n", "not hexadecimal"),
        (b"\r\n", "no size"),
        (b"10000000000000000\r\n", "64 bits"),
        (b"3\r\nabcX", "not followed by CRLF"),
        (b"3\r\nabc\rX", "not followed by CRLF"),
    ];
    for (input, want) in cases {
        let mut f = BodyFramer::new(Framing::Chunked).expect("a body");
        let err = f.feed(input, &mut |_: &[u8]| {}).expect_err("unframable");
        assert!(err.contains(want), "{err}");
    }
    // The largest 64-bit size is fine (it just streams).
    let mut f = BodyFramer::new(Framing::Chunked).expect("a body");
    assert!(f
        .feed(b"ffffffffffffffff\r\nab", &mut |_: &[u8]| {})
        .is_ok());
}

#[test]
fn chunk_size_line_is_bounded() {
    let mut f = BodyFramer::new(Framing::Chunked).expect("a body");
    let mut line = b"1;".to_vec();
    line.extend(std::iter::repeat_n(b'x', CHUNK_LINE_LIMIT));
    let mut err = None;
    for b in line.chunks(7) {
        if let Err(e) = f.feed(b, &mut |_: &[u8]| {}) {
            err = Some(e);
            break;
        }
    }
    assert!(err.is_some_and(|e| e.contains("1024")));
}

#[test]
fn trailers_are_bounded() {
    let mut f = BodyFramer::new(Framing::Chunked).expect("a body");
    assert!(f.feed(b"0\r\n", &mut |_: &[u8]| {}).is_ok());
    let line = b"X-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
    let mut failed = false;
    for _ in 0..(TRAILER_LIMIT / line.len() + 2) {
        if f.feed(line, &mut |_: &[u8]| {}).is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed);
}

#[test]
fn errors_keep_their_words() {
    let cases: [(&[u8], &str); 6] = [
        (b"zz;q\r\n", "chunk size `zz` is not hexadecimal"),
        (
            b" 0123456789abcdefXYZ \r\n",
            "chunk size `0123456789abcdef` is not hexadecimal",
        ),
        (b" ;x\r\n", "chunk-size line has no size"),
        (
            b"10000000000000000\r\n",
            "chunk size does not fit in 64 bits",
        ),
        (b"1\r\na\r\r", "chunk data is not followed by CRLF"),
        (b"\"\t\\\r\n", "chunk size `\\\"\\t\\\\` is not hexadecimal"),
    ];
    for (input, want) in cases {
        let mut f = BodyFramer::new(Framing::Chunked).expect("a body");
        let err = f.feed(input, &mut |_: &[u8]| {}).expect_err("unframable");
        assert_eq!(err, want);
    }
    let mut f = BodyFramer::new(Framing::Chunked).expect("a body");
    let long = [b'1'; CHUNK_LINE_LIMIT + 1];
    let err = f.feed(&long, &mut |_: &[u8]| {}).expect_err("too long");
    assert_eq!(err, "chunk-size line longer than 1024 bytes");
    let mut f = BodyFramer::new(Framing::Chunked).expect("a body");
    let mut trailers = b"0\r\n".to_vec();
    trailers.resize(TRAILER_LIMIT + 8, b'x');
    let err = f.feed(&trailers, &mut |_: &[u8]| {}).expect_err("too long");
    assert_eq!(err, "trailers longer than 65536 bytes");
}
