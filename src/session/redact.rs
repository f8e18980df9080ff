//! `--redact-users`: user and domain names replaced in events before any sink sees them.

use crate::decode::x224::X224Event;
use crate::decode::DecodeEvent;

/// What a hidden name is replaced with.
pub const REDACTED: &str = "<redacted>";

/// Hides user and domain names in one event, in place.
pub fn users(ev: &mut DecodeEvent) {
    match ev {
        DecodeEvent::X224(X224Event::ConnectionRequest { cookie, .. }) => {
            // The mstshash cookie is the user name (or a prefix of it) mstsc sends.
            if let Some(c) = cookie.as_mut() {
                *c = REDACTED.to_string();
            }
        }
        DecodeEvent::Rdp(r) => r.redact_users(),
        DecodeEvent::Http(h) => {
            if let crate::decode::http::HttpEvent::Request {
                auth,
                user_id,
                headers,
                ..
            } = &mut **h
            {
                for hl in headers.iter_mut() {
                    if hl.name.eq_ignore_ascii_case("RDG-User-Id") {
                        hl.value = REDACTED.to_string();
                    }
                }
                if let Some(u) = user_id.as_mut() {
                    *u = REDACTED.to_string();
                }
                if let Some(n) = auth.as_mut().and_then(|a| a.ntlm.as_mut()) {
                    for f in [&mut n.user, &mut n.domain] {
                        if let Some(v) = f.as_mut() {
                            *v = REDACTED.to_string();
                        }
                    }
                }
            }
        }
        DecodeEvent::Inner(i) => users(&mut i.0),
        _ => {}
    }
}
