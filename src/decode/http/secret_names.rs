//! Which HTTP headers carry secrets, judged by name: the one list that both the event
//! redaction ([`super::redact_header`]) and the trace redaction (`record::redact`)
//! decide by, so a header hidden in one is never shown by the other.

/// Name fragments of headers that carry credentials or session secrets.
pub const SECRET_NAME_PARTS: [&str; 8] = [
    "auth",
    "token",
    "cookie",
    "secret",
    "passw",
    "credential",
    "paa",
    "key",
];

/// Headers whose names contain a fragment above but whose values are not secret: the
/// gateway's scheme name and the WebSocket handshake's public nonce. (Its answer,
/// `Sec-WebSocket-Accept`, matches no fragment, so it needs no exception.)
pub const NOT_SECRET: [&str; 2] = ["rdg-auth-scheme", "sec-websocket-key"];

/// What a header's name says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderSecret {
    /// `Authorization`, `Proxy-Authorization`: a scheme word (shown), then a credential.
    Credentials,
    /// `WWW-Authenticate`, `Proxy-Authenticate`: the server's challenges, which hold no
    /// credential. Events show their schemes and realms only; the trace keeps them whole
    /// so that dissectors can read the NTLM CHALLENGE.
    Challenges,
    /// `Cookie`: `name=value` pairs; the values are secret.
    Cookie,
    /// `Set-Cookie`: one `name=value` pair, whose value is secret, then attributes.
    SetCookie,
    /// Named like a token, key, password or credential: the whole value is secret.
    Whole,
    /// Nothing secret.
    Plain,
}

/// What the header named `name` (in any case) holds.
pub fn header_secret(name: &str) -> HeaderSecret {
    let name = name.to_ascii_lowercase();
    match name.as_str() {
        "authorization" | "proxy-authorization" => HeaderSecret::Credentials,
        "www-authenticate" | "proxy-authenticate" => HeaderSecret::Challenges,
        "cookie" => HeaderSecret::Cookie,
        "set-cookie" => HeaderSecret::SetCookie,
        n if NOT_SECRET.contains(&n) => HeaderSecret::Plain,
        n if SECRET_NAME_PARTS.iter().any(|p| n.contains(p)) => HeaderSecret::Whole,
        _ => HeaderSecret::Plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_judged_in_any_case() {
        assert_eq!(header_secret("AUTHORIZATION"), HeaderSecret::Credentials);
        assert_eq!(
            header_secret("Proxy-Authenticate"),
            HeaderSecret::Challenges
        );
        assert_eq!(header_secret("Set-Cookie"), HeaderSecret::SetCookie);
        assert_eq!(header_secret("X-PAA-Token"), HeaderSecret::Whole);
        assert_eq!(header_secret("Authentication-Info"), HeaderSecret::Whole);
        assert_eq!(header_secret("Sec-WebSocket-Key"), HeaderSecret::Plain);
        assert_eq!(header_secret("Host"), HeaderSecret::Plain);
    }

    #[test]
    fn every_exception_names_a_secret_fragment() {
        // An exception that matched no fragment would be dead weight in the list.
        for n in NOT_SECRET {
            assert!(SECRET_NAME_PARTS.iter().any(|p| n.contains(p)), "{n}");
        }
    }
}
