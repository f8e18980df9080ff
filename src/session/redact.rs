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
        _ => {}
    }
}
