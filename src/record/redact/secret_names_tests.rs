//! The events and the trace hide the same headers: every name the shared list calls
//! secret (`decode::http::header_secret`) is hidden by both redactions, and every
//! exception is shown by both.

use super::headers::scrub_head;
use crate::decode::http::{
    header_secret, redact_header, HeaderSecret, NOT_SECRET, SECRET_NAME_PARTS,
};

/// The secret every test value carries.
const SECRET: &str = "s3cretvalue";

/// Header names the list calls secret: each fragment alone, inside a longer name and in
/// upper case, and the headers whose values have a structure.
fn secret_names() -> Vec<String> {
    let mut names: Vec<String> = SECRET_NAME_PARTS
        .iter()
        .flat_map(|p| {
            [
                p.to_string(),
                format!("X-Rdg-{p}-Value"),
                p.to_ascii_uppercase(),
            ]
        })
        .collect();
    names.extend(
        [
            "Authorization",
            "Proxy-Authorization",
            "Cookie",
            "Set-Cookie",
        ]
        .map(String::from),
    );
    names
}

/// A value of the form the header's kind expects, carrying [`SECRET`].
fn value_for(name: &str) -> String {
    match header_secret(name) {
        HeaderSecret::Credentials => format!("Basic {SECRET}"),
        HeaderSecret::Cookie => format!("RDGSESS={SECRET}; lb=1"),
        HeaderSecret::SetCookie => format!("RDGSESS={SECRET}; Path=/"),
        _ => SECRET.to_string(),
    }
}

/// Whether the event shows the secret of `name: value`.
fn event_shows(name: &str, value: &str) -> bool {
    redact_header(name, value).contains(SECRET)
}

/// Whether the trace shows the secret of `name: value`, in a request and a response.
fn trace_shows(name: &str, value: &str) -> bool {
    [
        "RDG_OUT_DATA /remoteDesktopGateway/ HTTP/1.1",
        "HTTP/1.1 200 OK",
    ]
    .iter()
    .any(|start| {
        let head = format!("{start}\r\n{name}: {value}\r\nHost: gw\r\n\r\n");
        let mut out = head.clone().into_bytes();
        let mut patches = Vec::new();
        scrub_head(head.as_bytes(), &mut patches, false);
        for (at, data) in patches {
            if let Some(dst) = out.get_mut(at..at + data.len()) {
                dst.copy_from_slice(&data);
            }
        }
        String::from_utf8_lossy(&out).contains(SECRET)
    })
}

#[test]
fn every_secret_name_is_hidden_in_events_and_trace() {
    for name in secret_names() {
        let value = value_for(&name);
        assert!(
            !matches!(
                header_secret(&name),
                HeaderSecret::Plain | HeaderSecret::Challenges
            ),
            "{name} is on the secret list"
        );
        assert!(!event_shows(&name, &value), "the event shows {name}");
        assert!(!trace_shows(&name, &value), "the trace shows {name}");
    }
}

#[test]
fn the_exceptions_are_shown_by_both() {
    let others = ["Sec-WebSocket-Accept", "Host", "RDG-Connection-Id"];
    for name in NOT_SECRET.iter().chain(&others) {
        assert_eq!(header_secret(name), HeaderSecret::Plain, "{name}");
        assert!(event_shows(name, SECRET), "the event hides {name}");
        assert!(trace_shows(name, SECRET), "the trace hides {name}");
    }
}

#[test]
fn challenges_hold_no_credential_and_only_events_shorten_them() {
    // The one deliberate split: a challenge is the server's half of a handshake. The
    // trace keeps it for dissectors; the event shows its scheme and realm only.
    for name in ["WWW-Authenticate", "Proxy-Authenticate"] {
        let value = format!("NTLM {SECRET}");
        assert_eq!(header_secret(name), HeaderSecret::Challenges);
        assert!(!event_shows(name, &value), "{name}");
        assert!(trace_shows(name, &value), "{name}");
    }
}
