//! HttpConn framing: every body mode, pipelining, bounds and truncation.

use super::test_msgs::*;
use super::*;
use crate::vocab::Dir::{C2S, S2C};

#[test]
fn content_length_request_body_goes_to_the_sink() {
    let (events, sink) = run(&[bytes(
        C2S,
        "POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /y HTTP/1.1\r\n\r\n",
    )]);
    assert_eq!(
        kinds(&events),
        ["http_request", "http_body_end", "http_request"]
    );
    assert_eq!(sink.c2s, b"hello");
}

#[test]
fn head_response_and_interim_and_empty_statuses_have_no_body() {
    let (events, sink) = run(&[
        bytes(C2S, "HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\nGET /d HTTP/1.1\r\n\r\n"),
        bytes(
            S2C,
            "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n\
             HTTP/1.1 100 Continue\r\n\r\n\
             HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n\
             HTTP/1.1 304 Not Modified\r\n\r\n\
             HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        ),
        Step::Fin(S2C),
    ]);
    let statuses: Vec<u16> = events
        .iter()
        .filter_map(|e| match e {
            HttpEvent::Response { status, .. } => Some(*status),
            _ => None,
        })
        .collect();
    assert_eq!(statuses, [200, 100, 204, 304, 200]);
    assert_eq!(sink.s2c, b"ok");
    assert!(!kinds(&events).contains(&"http_incomplete".to_string()));
}

#[test]
fn read_until_close_ends_cleanly_at_fin() {
    let (events, sink) = run(&[
        bytes(C2S, SAMPLE_HTTP),
        bytes(S2C, "HTTP/1.1 200 OK\r\n\r\n"),
        bytes(S2C, [0xAB; 10]),
        bytes(S2C, b"\x02\x00\x00\x00"),
        Step::Fin(S2C),
    ]);
    assert_eq!(
        events.last(),
        Some(&HttpEvent::BodyEnd {
            dir: S2C,
            bytes: 14,
            snippet: None
        })
    );
    assert_eq!(sink.s2c.len(), 14);
}

#[test]
fn response_without_a_request_is_decoded() {
    let (events, sink) = run(&[bytes(
        S2C,
        "HTTP/1.0 503 Busy\r\nContent-Length: 3\r\n\r\nabc",
    )]);
    assert!(
        matches!(&events[0], HttpEvent::Response { status: 503, version, .. } if version == "HTTP/1.0")
    );
    assert_eq!(sink.s2c, b"abc");
}

#[test]
fn pipelined_requests_and_responses() {
    let two = format!("{SAMPLE_RPC}{SAMPLE_HTTP}");
    let (events, _) = run(&[
        bytes(C2S, two),
        bytes(
            S2C,
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: NTLM\r\nContent-Length: 0\r\n\r\n\
             HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"lab\"\r\nContent-Length: 0\r\n\r\n",
        ),
        Step::Fin(S2C),
    ]);
    assert_eq!(
        kinds(&events),
        [
            "http_request",
            "http_request",
            "http_response",
            "http_response"
        ]
    );
    let HttpEvent::Response { challenges, .. } = &events[2] else {
        panic!();
    };
    assert_eq!(challenges.len(), 2);
    let HttpEvent::Response {
        challenges,
        headers,
        ..
    } = &events[3]
    else {
        panic!();
    };
    assert_eq!(challenges[0].realm.as_deref(), Some("lab"));
    assert!(headers.iter().any(|h| h.value == "Basic realm=\"lab\""));
}

#[test]
fn in_channel_streams_a_huge_content_length() {
    let big = vec![0x5A; 1 << 20];
    let (events, sink) = run(&[
        bytes(
            C2S,
            request("RPC_IN_DATA", "Content-Length: 1073741824\r\n"),
        ),
        bytes(C2S, &big),
        bytes(C2S, &big),
        Step::Fin(C2S),
        Step::Fin(S2C),
    ]);
    assert_eq!(
        kinds(&events),
        ["http_request", "http_body_end"],
        "a streaming IN channel awaits no answer: {events:?}"
    );
    assert_eq!(sink.c2s.len(), 2 << 20);
}

#[test]
fn rdg_in_channel_chunked_ends_between_chunks() {
    let (events, sink) = run(&[
        bytes(
            C2S,
            request("RDG_IN_DATA", "Transfer-Encoding: chunked\r\n"),
        ),
        bytes(C2S, "4\r\nabcd\r\n"),
        Step::Fin(C2S),
    ]);
    assert_eq!(kinds(&events), ["http_request", "http_body_end"]);
    assert_eq!(sink.c2s, b"abcd");
}

#[test]
fn an_out_channel_200_runs_to_the_close_whatever_its_content_length() {
    // Proxies in front of gateways send any length; clients read the tunnel regardless.
    for cl in ["Content-Length: 0\r\n", "Content-Length: 4\r\n", ""] {
        let (events, sink) = run(&[
            bytes(C2S, request("RDG_OUT_DATA", "Content-Length: 0\r\n")),
            bytes(S2C, format!("HTTP/1.1 200 OK\r\n{cl}\r\n")),
            bytes(S2C, [0xAB; 10]),
            bytes(S2C, b"\x02\x00\x00\x00"),
            Step::Fin(S2C),
        ]);
        assert_eq!(sink.s2c.len(), 14, "{cl:?}");
        assert_eq!(
            kinds(&events),
            ["http_request", "http_response", "http_body_end"],
            "{cl:?}"
        );
    }
    // An RPC_OUT_DATA answer keeps its Content-Length: that transport is not decoded.
    let (_, sink) = run(&[
        bytes(C2S, request("RPC_OUT_DATA", "Content-Length: 76\r\n")),
        bytes(
            S2C,
            "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcdHTTP/1.1 200 OK\r\n\r\n",
        ),
    ]);
    assert_eq!(sink.s2c, b"abcd");
}

#[test]
fn a_bodiless_rdg_in_data_is_the_tunnel_when_packets_follow() {
    // The authentication round's request is followed by another request; the last one
    // declares no body, yet a packet follows it.
    let (events, sink) = run(&[
        bytes(C2S, request("RDG_IN_DATA", "Content-Length: 0\r\n")),
        bytes(S2C, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        bytes(C2S, "\r\n"),
        bytes(C2S, request("RDG_IN_DATA", "")),
        bytes(C2S, b"\x01\x00\x00\x00\x0e\x00\x00\x00"),
        Step::Fin(C2S),
        Step::Fin(S2C),
    ]);
    assert_eq!(
        kinds(&events),
        [
            "http_request",
            "http_response",
            "http_request",
            "http_body_end"
        ],
        "the streaming request awaits no answer: {events:?}"
    );
    assert_eq!(sink.c2s, b"\x01\x00\x00\x00\x0e\x00\x00\x00");
    // A DATA packet (type 0x0A, like LF) first, split after its first byte.
    let (_, sink) = run(&[
        bytes(C2S, request("RDG_IN_DATA", "")),
        bytes(C2S, b"\x0a"),
        bytes(C2S, b"\x00\x00\x00"),
    ]);
    assert_eq!(sink.c2s, b"\x0a\x00\x00\x00");
}

#[test]
fn head_over_64_kib_is_refused() {
    let mut head = b"GET / HTTP/1.1\r\n".to_vec();
    while head.len() <= HEAD_LIMIT {
        head.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let (events, sink) = run(&[bytes(C2S, &head), bytes(C2S, SAMPLE_HTTP), Step::Fin(C2S)]);
    assert_eq!(
        events,
        [HttpEvent::HeadTooLarge {
            dir: C2S,
            limit: 65536
        }]
    );
    assert!(sink.c2s.is_empty());

    // Just under the limit is fine (with few enough headers).
    let mut ok = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
    ok.resize(HEAD_LIMIT - 4, b'a');
    ok.extend_from_slice(b"\r\n\r\n");
    assert_eq!(ok.len(), HEAD_LIMIT);
    let (events, _) = run(&[bytes(C2S, &ok)]);
    assert_eq!(kinds(&events), ["http_request"]);
}

#[test]
fn too_many_headers_is_malformed() {
    let mut head = "GET / HTTP/1.1\r\n".to_string();
    for i in 0..=MAX_HEADERS {
        head.push_str(&format!("X-{i}: v\r\n"));
    }
    head.push_str("\r\n");
    let (events, _) = run(&[bytes(C2S, head)]);
    assert!(
        matches!(&events[..], [HttpEvent::Malformed { dir: C2S, reason }] if reason.contains("more than 100 headers")),
        "{events:?}"
    );
}

#[test]
fn garbage_is_malformed_at_once() {
    let (events, _) = run(&[bytes(S2C, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")]);
    assert!(
        matches!(&events[..], [HttpEvent::Malformed { dir: S2C, .. }]),
        "{events:?}"
    );
    let (events, _) = run(&[bytes(
        S2C,
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
    )]);
    assert!(
        matches!(&events[..], [_, HttpEvent::Malformed { dir: S2C, reason }] if reason.contains("64 bits")),
        "{events:?}"
    );
    let (events, _) = run(&[bytes(C2S, "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n")]);
    assert_eq!(kinds(&events), ["http_request", "http_malformed"]);
}

/// The http_incomplete event a script ends with, if any.
fn incomplete(script: &[Step]) -> Option<(Dir, Truncation)> {
    let (events, _) = run(script);
    events.iter().find_map(|e| match e {
        HttpEvent::Incomplete { dir, at } => Some((*dir, *at)),
        _ => None,
    })
}

#[test]
fn truncation_at_each_point() {
    let req = bytes(C2S, SAMPLE_HTTP);
    let cases: Vec<(Vec<Step>, Truncation, &str)> = vec![
        (
            vec![req.clone(), Step::Fin(S2C)],
            Truncation::NoResponse,
            "closed before any response",
        ),
        (
            vec![req.clone(), bytes(S2C, "HTTP/1.1 40"), Step::Fin(S2C)],
            Truncation::StatusLine { got: 11 },
            "closed in the middle of the first line after 11 bytes",
        ),
        (
            vec![
                req.clone(),
                bytes(S2C, "HTTP/1.1 401 Unauthorized\r\nServer: x"),
                Step::Fin(S2C),
            ],
            Truncation::Headers { got: 36 },
            "closed in the middle of the headers after 36 bytes",
        ),
        (
            vec![
                req.clone(),
                bytes(
                    S2C,
                    "HTTP/1.1 401 Unauthorized\r\nContent-Length: 245\r\n\r\n",
                ),
                bytes(S2C, [b'x'; 87]),
                Step::Fin(S2C),
            ],
            Truncation::Body {
                got: 87,
                expected: 245,
            },
            "closed after 87 of 245 body bytes",
        ),
        (
            vec![
                req.clone(),
                bytes(
                    S2C,
                    "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n20\r\n0123456789",
                ),
                Step::Fin(S2C),
            ],
            Truncation::Chunk {
                got: 10,
                expected: 32,
            },
            "closed after 10 of 32 bytes of a body chunk",
        ),
        (
            vec![
                req.clone(),
                bytes(
                    S2C,
                    "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n1;ex",
                ),
                Step::Fin(S2C),
            ],
            Truncation::ChunkSize { got: 4 },
            "closed in the middle of a chunk-size line after 4 bytes",
        ),
        (
            vec![
                bytes(C2S, "RDG_OUT_DATA / HTTP/1.1\r\nHost"),
                Step::Fin(C2S),
            ],
            Truncation::Headers { got: 29 },
            "closed in the middle of the headers after 29 bytes",
        ),
    ];
    for (script, want, text) in cases {
        let got = incomplete(&script).map(|(_, at)| at);
        assert_eq!(got, Some(want), "{script:?}");
        assert_eq!(want.to_string(), text);
    }
    // Answered requests and idle closes are not truncation.
    assert_eq!(
        incomplete(&[
            req.clone(),
            bytes(
                S2C,
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
            ),
            Step::Fin(S2C),
            Step::Fin(C2S),
        ]),
        None
    );
    // A second unanswered request after an answered one still counts.
    assert_eq!(
        incomplete(&[
            req.clone(),
            bytes(
                S2C,
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n"
            ),
            req,
            Step::Fin(S2C),
        ]),
        Some((S2C, Truncation::NoResponse))
    );
}

#[test]
fn finish_is_idempotent_and_stops_the_direction() {
    let mut conn = HttpConn::new();
    let mut events = Vec::new();
    conn.feed(C2S, SAMPLE_HTTP.as_bytes(), &mut events);
    conn.finish(S2C, &mut events);
    conn.finish(S2C, &mut events);
    conn.feed(S2C, b"HTTP/1.1 200 OK\r\n\r\n", &mut events);
    assert_eq!(kinds(&events), ["http_request", "http_incomplete"]);
}
