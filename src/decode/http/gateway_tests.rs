//! RD Gateway exchanges end to end: NTLM rounds, the chunked OUT channel, the WebSocket
//! upgrade, the xfreerdp samples, byte-split invariance and secrets.

use super::test_msgs::*;
use super::*;
use crate::vocab::Dir::{C2S, S2C};

#[test]
fn ntlm_round_trip_then_chunked_tunnel() {
    let (events, sink) = run(&ntlm_out_channel());
    assert_eq!(
        kinds(&events),
        [
            "http_request",
            "http_response",
            "http_body_end",
            "http_request",
            "http_response",
            "http_body_end"
        ]
    );
    let HttpEvent::Request {
        method,
        auth,
        transport,
        connection_id,
        ..
    } = &events[0]
    else {
        panic!("{:?}", events[0]);
    };
    assert_eq!(*method, Method::RdgOutData);
    assert_eq!(*transport, Transport::HttpOut);
    assert_eq!(
        connection_id.as_deref(),
        Some("{bfbe6f46-87c6-b653-1076-aa725b6f9e0b}")
    );
    assert_eq!(
        auth.as_ref()
            .and_then(|a| a.ntlm.as_ref())
            .map(|n| n.message_type),
        Some(1)
    );
    let HttpEvent::Response {
        status, challenges, ..
    } = &events[1]
    else {
        panic!("{:?}", events[1]);
    };
    assert_eq!(*status, 401);
    assert_eq!(challenges[0].ntlm.as_ref().map(|n| n.message_type), Some(2));
    let HttpEvent::BodyEnd {
        dir,
        bytes,
        snippet,
    } = &events[2]
    else {
        panic!("{:?}", events[2]);
    };
    assert_eq!((*dir, *bytes), (S2C, IIS_401_PAGE.len() as u64));
    assert_eq!(
        snippet.as_deref(),
        Some("401 - Unauthorized: Access is denied due to invalid credentials. You do not have permission to view this directory or page using the credentials that you supplied.")
    );
    let HttpEvent::Request {
        auth,
        user_id,
        cookies,
        ..
    } = &events[3]
    else {
        panic!("{:?}", events[3]);
    };
    let ntlm = auth.as_ref().and_then(|a| a.ntlm.clone()).expect("type 3");
    assert_eq!(
        (
            ntlm.message_type,
            ntlm.user.as_deref(),
            ntlm.domain.as_deref()
        ),
        (3, Some("labuser"), Some("LAB"))
    );
    assert_eq!(user_id.as_deref(), Some("labuser"));
    assert_eq!(
        cookies,
        &[CookieInfo {
            name: "RDGSESS".into(),
            value_len: 11
        }]
    );
    let HttpEvent::Response {
        status,
        chunked,
        set_cookies,
        ..
    } = &events[4]
    else {
        panic!("{:?}", events[4]);
    };
    assert_eq!((*status, *chunked, set_cookies.len()), (200, true, 1));
    assert_eq!(
        events[5],
        HttpEvent::BodyEnd {
            dir: S2C,
            bytes: 26,
            snippet: None
        }
    );
    assert!(sink.c2s.is_empty());
    assert_eq!(sink.s2c.len(), IIS_401_PAGE.len() + 26);
    assert!(sink
        .s2c
        .ends_with(b"\xAB\xCD\x02\x00\x00\x00\x10\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00"));

    // No secret made it into any event.
    let text = json(&events);
    for secret in [
        "s3cretvalue",
        "n3wsecret",
        &b64(&NT_RESPONSE)[..16],
        "TlRMTVNTUAAD",
    ] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert!(text.contains("NTLM <redacted"));
}

#[test]
fn websocket_upgrade_after_an_auth_round() {
    let (events, sink, upgraded) = run_with(&websocket_channel(), &mut |_, b| vec![b.to_vec()]);
    assert!(upgraded);
    assert_eq!(
        kinds(&events),
        [
            "http_request",
            "http_response",
            "http_request",
            "http_response",
            "http_upgrade"
        ]
    );
    let HttpEvent::Request { transport, .. } = &events[0] else {
        panic!("{:?}", events[0]);
    };
    assert_eq!(*transport, Transport::WebSocket);
    assert_eq!(
        events[4],
        HttpEvent::Upgrade {
            protocol: "websocket".into()
        }
    );
    assert_eq!(sink.s2c, b"\x82\x02\x01\x02\x82\x01\x05");
    assert_eq!(sink.c2s, b"\x82\x82\x00\x00\x00\x00\x03\x04");
}

/// Splits of every script step at every byte give the same events and sink bytes.
fn split_everywhere(script: &[Step]) {
    let whole = run_with(script, &mut |_, b| vec![b.to_vec()]);
    let bytewise = run_with(script, &mut |_, b| b.iter().map(|&x| vec![x]).collect());
    assert_eq!(whole, bytewise, "byte at a time");
    for (i, step) in script.iter().enumerate() {
        let Step::Bytes(_, b) = step else { continue };
        for k in 0..=b.len() {
            let split = run_with(script, &mut |j, b| {
                if j == i {
                    vec![b[..k].to_vec(), b[k..].to_vec()]
                } else {
                    vec![b.to_vec()]
                }
            });
            assert_eq!(whole, split, "step {i} split at {k}");
        }
    }
}

#[test]
fn split_at_every_byte_gives_identical_results() {
    split_everywhere(&ntlm_out_channel());
    split_everywhere(&websocket_channel());
}

#[test]
fn the_three_xfreerdp_samples() {
    for (sample, method, transport, target, conn_id) in [
        (
            SAMPLE_HTTP,
            Method::RdgOutData,
            Transport::HttpOut,
            "/remoteDesktopGateway/",
            Some("{bfbe6f46-87c6-b653-1076-aa725b6f9e0b}"),
        ),
        (
            SAMPLE_RPC,
            Method::RpcInData,
            Transport::RpcIn,
            "/rpc/rpcproxy.dll?localhost:3388",
            None,
        ),
        (
            SAMPLE_WS,
            Method::RdgOutData,
            Transport::WebSocket,
            "/remoteDesktopGateway/",
            Some("{74258260-b98c-6150-4539-d431dc44ac85}"),
        ),
    ] {
        let (events, _) = run(&[bytes(C2S, sample)]);
        assert_eq!(events.len(), 1, "{events:?}");
        let HttpEvent::Request {
            method: m,
            target: t,
            version,
            transport: tr,
            connection_id,
            content_length,
            auth,
            headers,
            ..
        } = &events[0]
        else {
            panic!("{:?}", events[0]);
        };
        assert_eq!((m, tr, t.as_str()), (&method, &transport, target));
        assert_eq!(version, "HTTP/1.1");
        assert_eq!(connection_id.as_deref(), conn_id);
        assert_eq!(*content_length, Some(0));
        let auth = auth.clone().expect("authorization");
        assert_eq!(auth.scheme, AuthScheme::Ntlm);
        assert_eq!(auth.ntlm.map(|n| n.message_type), Some(1));
        let shown = headers
            .iter()
            .find(|h| h.name == "Authorization")
            .map(|h| h.value.as_str());
        assert_eq!(shown, Some("NTLM <redacted 56 bytes>"));
        assert!(!json(&events).contains("TlRMTVNT"));
    }
}

#[test]
fn client_bytes_sent_before_the_101_are_kept_in_order() {
    let (events, sink, upgraded) = run_with(
        &[
            bytes(
                C2S,
                [SAMPLE_WS.as_bytes(), b"\x82\x80\x00\x00\x00\x00"].concat(),
            ),
            bytes(C2S, b"\x81"),
            bytes(
                S2C,
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
            ),
            bytes(C2S, b"\x82"),
        ],
        &mut |_, b| vec![b.to_vec()],
    );
    assert!(upgraded);
    assert_eq!(
        kinds(&events),
        ["http_request", "http_response", "http_upgrade"]
    );
    assert_eq!(sink.c2s, b"\x82\x80\x00\x00\x00\x00\x81\x82");
}

#[test]
fn a_refused_upgrade_releases_the_next_request() {
    let (events, _, upgraded) = run_with(
        &[
            bytes(C2S, format!("{SAMPLE_WS}{SAMPLE_WS}")),
            bytes(
                S2C,
                "HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n",
            ),
        ],
        &mut |_, b| vec![b.to_vec()],
    );
    assert!(!upgraded);
    assert_eq!(
        kinds(&events),
        ["http_request", "http_response", "http_request"]
    );
}

#[test]
fn events_serialize_with_the_agreed_kinds() {
    let e = HttpEvent::Incomplete {
        dir: S2C,
        at: Truncation::Body {
            got: 1,
            expected: 2,
        },
    };
    assert_eq!(
        serde_json::to_string(&e).unwrap_or_default(),
        // The direction is the event record's own `dir`, so it is not repeated here.
        r#"{"kind":"http_incomplete","at":{"kind":"body","got":1,"expected":2}}"#
    );
    let (events, _) = run(&[bytes(C2S, SAMPLE_WS)]);
    let v = serde_json::to_value(&events[0]).unwrap_or_default();
    assert_eq!(v["kind"], "http_request");
    assert_eq!(v["method"], "RDG_OUT_DATA");
    assert_eq!(v["transport"], "websocket");
    assert_eq!(v["auth"]["scheme"], "NTLM");
    assert_eq!(v["auth"]["ntlm"]["message_type"], 1);
}
