//! The lab gateway's settings and its `--fail` knobs.

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

use super::auth::AuthMode;
use super::out_framing::OutFraming;
use super::tls::BadCert;
use crate::decode::tsgu::status::Status;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// One `--fail` knob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Knob {
    /// Answer HANDSHAKE_REQUEST with this status, then close.
    Handshake(Status),
    /// Answer TUNNEL_CREATE with this status, then close.
    Tunnel(Status),
    /// Answer TUNNEL_AUTH with this status, then close.
    TunnelAuth(Status),
    /// Answer CHANNEL_CREATE with this status, then close.
    Channel(Status),
    /// Answer the final authentication round with 401.
    AuthFinal401,
    /// Send only the status line and one header of the final OUT response, then close.
    CloseOutHeaders,
    /// Send the OUT 200 head and 4 of the 10 seed bytes, then close.
    CloseOutPreamble,
    /// Close the OUT stream after this many body bytes.
    CloseOutBody(u64),
    /// Send this SERVICE_MESSAGE after TUNNEL_AUTH_RESPONSE.
    ServiceMessage(String),
    /// Serve this bad certificate.
    Cert(BadCert),
}

/// The knob names, for error messages and help.
pub const KNOB_NAMES: &[&str] = &[
    "handshake=STATUS",
    "tunnel=STATUS",
    "tunnel-auth=STATUS",
    "channel=STATUS",
    "auth=final-401",
    "close=out-headers|out-preamble|out-body:N",
    "service-message=TEXT",
    "cert=expired|wrong-name|self-signed",
];

/// Parses one `--fail` value, e.g. `tunnel=E_PROXY_RAP_ACCESSDENIED`.
pub fn parse_knob(s: &str) -> Result<Knob, String> {
    let Some((name, value)) = s.split_once('=') else {
        return Err(format!(
            "{s:?} is not KNOB=VALUE; knobs: {}",
            KNOB_NAMES.join(", ")
        ));
    };
    let status = |knob: &str| -> Result<Status, String> {
        parse_status(value).map_err(|e| format!("{knob}={value}: {e}"))
    };
    match name {
        "handshake" => Ok(Knob::Handshake(status(name)?)),
        "tunnel" => Ok(Knob::Tunnel(status(name)?)),
        "tunnel-auth" => Ok(Knob::TunnelAuth(status(name)?)),
        "channel" => Ok(Knob::Channel(status(name)?)),
        "auth" => match value {
            "final-401" => Ok(Knob::AuthFinal401),
            _ => Err(format!(
                "auth={value}: the accepted value is final-401"
            )),
        },
        "close" => match value {
            "out-headers" => Ok(Knob::CloseOutHeaders),
            "out-preamble" => Ok(Knob::CloseOutPreamble),
            v => match v.strip_prefix("out-body:").map(str::parse::<u64>) {
                Some(Ok(n)) => Ok(Knob::CloseOutBody(n)),
                Some(Err(_)) => Err(format!(
                    "close={value}: N in out-body:N must be a number of bytes, e.g. out-body:100"
                )),
                None => Err(format!(
                    "close={value}: the accepted values are out-headers, out-preamble and out-body:N"
                )),
            },
        },
        "service-message" => {
            if value.is_empty() {
                Err("service-message=: the message text is empty".to_string())
            } else {
                Ok(Knob::ServiceMessage(value.to_string()))
            }
        }
        "cert" => BadCert::parse(value).map(Knob::Cert).ok_or_else(|| {
            format!(
                "cert={value}: the accepted values are {}",
                BadCert::VALUES.join(", ")
            )
        }),
        other => Err(format!(
            "{other:?} is not a known knob; knobs: {}",
            KNOB_NAMES.join(", ")
        )),
    }
}

/// An HRESULT by name (`E_PROXY_RAP_ACCESSDENIED`) or as hex (`0x800759DA`).
pub fn parse_status(s: &str) -> Result<Status, String> {
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return u32::from_str_radix(hex, 16)
            .map(Status)
            .map_err(|_| format!("{s:?} is not a 32-bit hex number"));
    }
    Status::from_name(s).ok_or_else(|| {
        format!(
            "{s:?} is not a known status; give a name like E_PROXY_RAP_ACCESSDENIED, \
             E_PROXY_NAP_ACCESSDENIED, E_PROXY_INTERNALERROR, E_PROXY_TS_CONNECTFAILED, \
             E_PROXY_CAPABILITYMISMATCH or a hex HRESULT like 0x800759DA"
        )
    })
}

/// Where the connection is cut short on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseAt {
    /// Part of the final OUT response head.
    OutHeaders,
    /// The OUT head and 4 seed bytes.
    OutPreamble,
    /// This many OUT body bytes.
    OutBody(u64),
}

impl fmt::Display for CloseAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseAt::OutHeaders => f.write_str("close=out-headers"),
            CloseAt::OutPreamble => f.write_str("close=out-preamble"),
            CloseAt::OutBody(n) => write!(f, "close=out-body:{n}"),
        }
    }
}

/// All `--fail` knobs together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FailPlan {
    /// HANDSHAKE_RESPONSE status.
    pub handshake: Option<Status>,
    /// TUNNEL_RESPONSE status.
    pub tunnel: Option<Status>,
    /// TUNNEL_AUTH_RESPONSE status.
    pub tunnel_auth: Option<Status>,
    /// CHANNEL_RESPONSE status.
    pub channel: Option<Status>,
    /// The final auth round gets 401.
    pub auth_final_401: bool,
    /// Where to cut the OUT stream.
    pub close: Option<CloseAt>,
    /// SERVICE_MESSAGE text.
    pub service_message: Option<String>,
    /// Bad certificate.
    pub cert: Option<BadCert>,
}

impl FailPlan {
    /// Combines knobs; the same knob twice is an error rather than a silent override.
    pub fn from_knobs(knobs: &[Knob]) -> Result<FailPlan, String> {
        let mut p = FailPlan::default();
        fn set<T>(slot: &mut Option<T>, v: T, name: &str) -> Result<(), String> {
            if slot.is_some() {
                return Err(format!("--fail {name}=… is given twice; give it once"));
            }
            *slot = Some(v);
            Ok(())
        }
        for k in knobs {
            match k {
                Knob::Handshake(s) => set(&mut p.handshake, *s, "handshake")?,
                Knob::Tunnel(s) => set(&mut p.tunnel, *s, "tunnel")?,
                Knob::TunnelAuth(s) => set(&mut p.tunnel_auth, *s, "tunnel-auth")?,
                Knob::Channel(s) => set(&mut p.channel, *s, "channel")?,
                Knob::AuthFinal401 => p.auth_final_401 = true,
                Knob::CloseOutHeaders => set(&mut p.close, CloseAt::OutHeaders, "close")?,
                Knob::CloseOutPreamble => set(&mut p.close, CloseAt::OutPreamble, "close")?,
                Knob::CloseOutBody(n) => set(&mut p.close, CloseAt::OutBody(*n), "close")?,
                Knob::ServiceMessage(m) => {
                    set(&mut p.service_message, m.clone(), "service-message")?
                }
                Knob::Cert(c) => set(&mut p.cert, *c, "cert")?,
            }
        }
        Ok(p)
    }

    /// One line per active knob, for the start-up banner.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut status = |what: &str, s: &Option<Status>| {
            if let Some(s) = s {
                out.push(format!("{what} answered with {s}, then the tunnel closes"));
            }
        };
        status("HANDSHAKE_REQUEST", &self.handshake);
        status("TUNNEL_CREATE", &self.tunnel);
        status("TUNNEL_AUTH", &self.tunnel_auth);
        status("CHANNEL_CREATE", &self.channel);
        if self.auth_final_401 {
            out.push("the final authentication round is answered 401".to_string());
        }
        match self.close {
            Some(CloseAt::OutHeaders) => out.push(
                "the final OUT/WebSocket response stops after its status line and one header"
                    .to_string(),
            ),
            Some(CloseAt::OutPreamble) => out.push(
                "the OUT channel stops after its head and 4 of the 10 seed bytes".to_string(),
            ),
            Some(CloseAt::OutBody(n)) => {
                out.push(format!("the OUT stream closes after {n} body bytes"))
            }
            None => {}
        }
        if let Some(m) = &self.service_message {
            out.push(format!("SERVICE_MESSAGE {m:?} after TUNNEL_AUTH_RESPONSE"));
        }
        if let Some(c) = self.cert {
            out.push(format!("TLS presents {c}"));
        }
        out
    }
}

/// Everything `rdptap lab gateway` runs with.
#[derive(Debug, Clone)]
pub struct LabConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The RDP host to dial for every channel: HOST:PORT.
    pub target: String,
    /// Dial the resource named in CHANNEL_CREATE instead of `target`.
    pub route_by_resource: bool,
    /// The local CA's directory.
    pub ca_dir: PathBuf,
    /// HTTP authentication.
    pub auth: AuthMode,
    /// Deliberate failures.
    pub fail: FailPlan,
    /// How the OUT channel's `200` body is framed (the HTTP transport).
    pub out_framing: OutFraming,
    /// How long one channel of the HTTP transport waits for the other.
    pub pair_timeout: Duration,
    /// Where to write the TLS keys of every client connection (NSS key log), so a
    /// capture of the lab can be decrypted (`rdptap analyze --keylog`).
    pub keylog: Option<PathBuf>,
    /// Idle timeout announced in TUNNEL_AUTH_RESPONSE, in minutes.
    pub idle_timeout_min: u32,
}
