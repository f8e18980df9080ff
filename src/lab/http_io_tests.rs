use super::*;

const WS_REQUEST: &[u8] = b"RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1\r\n\
Host: 127.0.0.1\r\n\
Connection: Upgrade\r\n\
Upgrade: websocket\r\n\
Sec-Websocket-Version: 13\r\n\
Sec-Websocket-Key: FN[SBOVE@\\ZNWDC\r\n\
RDG-Connection-Id: {74258260-b98c-6150-4539-d431dc44ac85}\r\n\
Content-Length: 0\r\n\r\nNEXT";

#[tokio::test]
async fn head_is_read_and_leftover_kept() {
    let mut r = WS_REQUEST;
    let mut buf = Vec::new();
    let req = read_head(&mut r, &mut buf).await.unwrap().unwrap();
    assert_eq!(req.method, "RDG_OUT_DATA");
    assert_eq!(req.target, "/remoteDesktopGateway/");
    assert!(req.wants_websocket());
    assert_eq!(req.header("sec-websocket-key"), Some("FN[SBOVE@\\ZNWDC"));
    assert_eq!(req.content_length(), 0);
    assert!(!req.chunked());
    assert_eq!(buf, b"NEXT");
}

#[tokio::test]
async fn eof_before_anything_is_none_and_mid_head_is_an_error() {
    let mut empty: &[u8] = b"";
    assert!(read_head(&mut empty, &mut Vec::new())
        .await
        .unwrap()
        .is_none());
    let mut cut: &[u8] = b"RDG_IN_DATA / HTTP/1.1\r\nHost: x\r\n";
    let e = read_head(&mut cut, &mut Vec::new()).await.unwrap_err();
    assert!(e.to_string().contains("middle of a request head"), "{e}");
}

#[test]
fn response_head_is_well_formed() {
    let h = response_head(401, "Unauthorized", &[("Content-Length", "0".into())]);
    assert_eq!(
        h,
        b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n".to_vec()
    );
}

fn dechunk(input: &[u8], step: usize) -> (Vec<u8>, bool) {
    let mut d = ChunkDecoder::new();
    let mut out = Vec::new();
    for piece in input.chunks(step.max(1)) {
        d.feed(piece, &mut |b| out.extend_from_slice(b)).unwrap();
    }
    (out, d.done())
}

#[test]
fn chunks_decode_at_any_split() {
    let body = b"E\r\n\x01\x00\x00\x00\x0e\x00\x00\x00\x01\x00\x00\x00\x00\x00\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n";
    for step in [1, 2, 3, 7, body.len()] {
        let (out, done) = dechunk(body, step);
        assert_eq!(out.len(), 19, "step {step}");
        assert_eq!(&out[14..], b"hello");
        assert!(done, "step {step}");
    }
}

#[test]
fn bad_chunks_are_errors() {
    let mut d = ChunkDecoder::new();
    assert!(d.feed(b"zz\r\n", &mut |_| {}).is_err());
    let mut d = ChunkDecoder::new();
    assert!(d.feed(b"2\r\nabX", &mut |_| {}).is_err());
    let mut d = ChunkDecoder::new();
    let long = vec![b'1'; 2000];
    assert!(d.feed(&long, &mut |_| {}).is_err());
}

#[test]
fn chunk_errors_keep_the_labs_words() {
    let cases: [(&[u8], &str); 4] = [
        (b"zz;x\r\n", "bad chunk size line \"zz;x\""),
        (b"\r\n", "bad chunk size line \"\""),
        (b"2\r\nabX", "chunk data not followed by CRLF"),
        (&[b'1'; 2000], "chunk size line longer than 1024 bytes"),
    ];
    for (input, want) in cases {
        let err = ChunkDecoder::new().feed(input, &mut |_| {}).unwrap_err();
        assert_eq!(err, want);
    }
}

#[test]
fn bytes_after_the_last_chunk_are_ignored() {
    let mut d = ChunkDecoder::new();
    let mut out = Vec::new();
    d.feed(b"2\r\nab\r\n0\r\n\r\nGET / HTTP/1.1", &mut |b| {
        out.extend_from_slice(b)
    })
    .unwrap();
    assert!(d.done());
    assert_eq!(out, b"ab");
}
