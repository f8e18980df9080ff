//! HTTP authentication of one gateway channel (each TLS connection authenticates on its
//! own), accepting everyone: the lab gateway tests tunnels, not passwords.
//!
//! Secrets never leave this module: only schemes, message types and names are reported.

use super::http_io::Request;
use super::ntlm_challenge::{self, ServerNames};
use base64::Engine as _;
use std::fmt;

/// Which authentication the gateway asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMode {
    /// No authentication at all.
    None,
    /// `Basic`, any user and password accepted.
    Basic,
    /// NTLM (also inside `Negotiate`), any AUTHENTICATE accepted unchecked.
    NtlmAny,
}

impl AuthMode {
    /// The accepted `--auth` values.
    pub const VALUES: &'static [&'static str] = &["none", "basic", "ntlm-any"];

    /// Parses an `--auth` value.
    pub fn parse(s: &str) -> Result<AuthMode, String> {
        match s {
            "none" => Ok(AuthMode::None),
            "basic" => Ok(AuthMode::Basic),
            "ntlm-any" => Ok(AuthMode::NtlmAny),
            other => Err(format!(
                "--auth {other:?} is not known; use one of: {}",
                AuthMode::VALUES.join(", ")
            )),
        }
    }
}

impl fmt::Display for AuthMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthMode::None => "no authentication",
            AuthMode::Basic => "Basic (any credentials)",
            AuthMode::NtlmAny => "NTLM (any credentials)",
        })
    }
}

/// Who a channel authenticated as, as far as the client said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// How: "none", "Basic", "NTLM" or "Negotiate".
    pub scheme: &'static str,
    /// The user name the client gave.
    pub user: Option<String>,
    /// The domain the client gave (NTLM only).
    pub domain: Option<String>,
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.domain, &self.user) {
            (Some(d), Some(u)) if !d.is_empty() => write!(f, "{d}\\{u}"),
            (_, Some(u)) => f.write_str(u),
            _ => f.write_str("(anonymous)"),
        }
    }
}

/// What to answer one request with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Authenticated: go on with the channel.
    Accept(Identity),
    /// Answer 401 with these `WWW-Authenticate` values and wait for the next request.
    Challenge(Vec<String>),
    /// Answer 401 with these `WWW-Authenticate` values and close: the final round failed.
    Deny(Vec<String>),
}

/// The authentication state of one channel.
#[derive(Debug)]
pub struct ChannelAuth {
    mode: AuthMode,
    /// `--fail auth=final-401`: the round that would succeed is answered 401 instead.
    final_401: bool,
    names: ServerNames,
}

impl ChannelAuth {
    /// A channel that has not authenticated yet.
    pub fn new(mode: AuthMode, final_401: bool) -> ChannelAuth {
        ChannelAuth {
            mode,
            final_401,
            names: ServerNames::default(),
        }
    }

    /// What to answer `req` with; `describe` receives a one-line, secret-free note of
    /// what the client sent.
    pub fn step(&mut self, req: &Request, describe: &mut impl FnMut(String)) -> Step {
        let auth = req.header("Authorization");
        let (scheme, param) = match auth {
            Some(v) => {
                let mut parts = v.splitn(2, ' ');
                (
                    parts.next().unwrap_or("").to_string(),
                    parts.next().unwrap_or("").trim().to_string(),
                )
            }
            None => (String::new(), String::new()),
        };
        match self.mode {
            AuthMode::None => Step::Accept(Identity {
                scheme: "none",
                ..Identity::default()
            }),
            AuthMode::Basic => self.basic(&scheme, &param, describe),
            AuthMode::NtlmAny => self.ntlm(&scheme, &param, describe),
        }
    }

    fn accept(&self, id: Identity, challenge: Vec<String>) -> Step {
        if self.final_401 {
            Step::Deny(challenge)
        } else {
            Step::Accept(id)
        }
    }

    fn basic(&self, scheme: &str, param: &str, describe: &mut impl FnMut(String)) -> Step {
        let realm = vec!["Basic realm=\"rdptap-lab\"".to_string()];
        if !scheme.eq_ignore_ascii_case("Basic") {
            describe(no_usable_auth(scheme));
            return Step::Challenge(realm);
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(param)
            .ok()
            .map(|b| String::from_utf8_lossy(&b).into_owned());
        let user = decoded
            .as_deref()
            .and_then(|s| s.split_once(':'))
            .map(|(u, _)| u.to_string());
        describe(format!(
            "Basic credentials ({} bytes) for user {}",
            param.len(),
            user.as_deref().unwrap_or("(unreadable)")
        ));
        self.accept(
            Identity {
                scheme: "Basic",
                user,
                domain: None,
            },
            realm,
        )
    }

    fn ntlm(&mut self, scheme: &str, param: &str, describe: &mut impl FnMut(String)) -> Step {
        let offer = vec!["NTLM".to_string(), "Negotiate".to_string()];
        let reply_scheme: &'static str = if scheme.eq_ignore_ascii_case("NTLM") {
            "NTLM"
        } else if scheme.eq_ignore_ascii_case("Negotiate") {
            "Negotiate"
        } else {
            describe(no_usable_auth(scheme));
            return Step::Challenge(offer);
        };
        let token = base64::engine::general_purpose::STANDARD
            .decode(param)
            .unwrap_or_default();
        match ntlm_challenge::message_type(&token) {
            Some(ntlm_challenge::NEGOTIATE) => {
                let client = ntlm_challenge::negotiate_flags(&token);
                describe(format!(
                    "{reply_scheme} NEGOTIATE ({} bytes, flags {:#010x})",
                    token.len(),
                    client.unwrap_or(0)
                ));
                let challenge = ntlm_challenge::build_challenge(
                    client,
                    random_bytes(),
                    ntlm_challenge::filetime_now(),
                    &self.names,
                );
                let b64 = base64::engine::general_purpose::STANDARD.encode(challenge);
                Step::Challenge(vec![format!("{reply_scheme} {b64}")])
            }
            Some(ntlm_challenge::AUTHENTICATE) => {
                let names = ntlm_challenge::authenticate_names(&token).unwrap_or_default();
                describe(format!(
                    "{reply_scheme} AUTHENTICATE ({} bytes) for user {:?} domain {:?} workstation {:?}",
                    token.len(),
                    names.user,
                    names.domain,
                    names.workstation
                ));
                self.accept(
                    Identity {
                        scheme: reply_scheme,
                        user: Some(names.user),
                        domain: Some(names.domain),
                    },
                    offer,
                )
            }
            other => {
                // Kerberos inside Negotiate, or garbage: steer the client to plain NTLM.
                describe(format!(
                    "{reply_scheme} token of {} bytes that is not an NTLM NEGOTIATE or AUTHENTICATE (NTLM type {other:?})",
                    token.len()
                ));
                Step::Challenge(vec!["NTLM".to_string()])
            }
        }
    }
}

fn no_usable_auth(scheme: &str) -> String {
    if scheme.is_empty() {
        "no Authorization header".to_string()
    } else {
        format!("Authorization scheme {scheme:?} is not the one asked for")
    }
}

/// Eight random bytes for the NTLM server challenge.
fn random_bytes() -> [u8; 8] {
    use ring::rand::SecureRandom;
    let mut b = [0u8; 8];
    // A failed system RNG leaves zeros: harmless for a gateway that checks nothing.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(auth: Option<&str>) -> Request {
        let mut headers = vec![("Host".to_string(), "x".to_string())];
        if let Some(a) = auth {
            headers.push(("Authorization".to_string(), a.to_string()));
        }
        Request {
            method: "RDG_OUT_DATA".into(),
            target: "/remoteDesktopGateway/".into(),
            headers,
        }
    }

    fn ignore(_: String) {}

    #[test]
    fn ntlm_round_trip_accepts_anything() {
        let mut a = ChannelAuth::new(AuthMode::NtlmAny, false);
        assert_eq!(
            a.step(&req(None), &mut ignore),
            Step::Challenge(vec!["NTLM".into(), "Negotiate".into()])
        );
        let neg = "NTLM TlRMTVNTUAABAAAAt4II4gAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==";
        let Step::Challenge(v) = a.step(&req(Some(neg)), &mut ignore) else {
            panic!("expected a challenge");
        };
        let tok = v[0].strip_prefix("NTLM ").unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(tok)
            .unwrap();
        assert_eq!(
            ntlm_challenge::message_type(&raw),
            Some(ntlm_challenge::CHALLENGE)
        );
    }

    #[test]
    fn basic_accepts_any_and_never_reports_the_password() {
        let mut a = ChannelAuth::new(AuthMode::Basic, false);
        assert!(matches!(
            a.step(&req(None), &mut ignore),
            Step::Challenge(v) if v[0].contains("realm=\"rdptap-lab\"")
        ));
        let mut notes = Vec::new();
        let cred = base64::engine::general_purpose::STANDARD.encode("bob:s3cret");
        let step = a.step(&req(Some(&format!("Basic {cred}"))), &mut |n| notes.push(n));
        assert_eq!(
            step,
            Step::Accept(Identity {
                scheme: "Basic",
                user: Some("bob".into()),
                domain: None
            })
        );
        assert!(!notes.concat().contains("s3cret"));
        let mut strict = ChannelAuth::new(AuthMode::Basic, true);
        assert!(matches!(
            strict.step(&req(Some(&format!("Basic {cred}"))), &mut ignore),
            Step::Deny(_)
        ));
    }

    #[test]
    fn auth_values_parse() {
        assert_eq!(AuthMode::parse("ntlm-any"), Ok(AuthMode::NtlmAny));
        assert_eq!(AuthMode::parse("none"), Ok(AuthMode::None));
        let e = AuthMode::parse("kerberos").unwrap_err();
        assert!(e.contains("--auth") && e.contains("ntlm-any"), "{e}");
    }
}
