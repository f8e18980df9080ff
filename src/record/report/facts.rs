//! What the pages show beside the ladder: the negotiated parameters side by side, the
//! client's offer next to the server's choice.

use super::event::Event;
use super::labels::{join, label};
use super::model::Connection;
use crate::decode::http::{HttpEvent, Transport};
use crate::decode::mcs::{ChannelName, McsEvent};
use crate::decode::note::{LegTls, Note};
use crate::decode::pdu::{LicenseOutcome, RdpEvent};
use crate::decode::tls::TlsEvent;
use crate::decode::tsgu::packet::Packet;
use crate::decode::x224::X224Event;
use crate::decode::DecodeEvent;
use crate::vocab::{Dir, Layer};

/// A negotiated value: what each side offered or chose, or one fact.
#[derive(Debug, Clone, PartialEq)]
pub enum FactValue {
    /// The client's offer and the server's choice (either may be unknown).
    Pair(Option<String>, Option<String>),
    /// One value.
    Single(String),
}

/// One row of the negotiation tables.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    /// The table it belongs to, e.g. "X.224" or "TLS (inside the tunnel)".
    pub group: String,
    /// What is negotiated.
    pub name: &'static str,
    /// Its value.
    pub value: FactValue,
}

/// Collects facts group by group, merging a client's offer and a server's choice.
struct Facts {
    out: Vec<Fact>,
}

impl Facts {
    fn pair(&mut self, group: &str, name: &'static str, dir: Dir, v: Option<String>) {
        let Some(v) = v else { return };
        if let Some(f) = self
            .out
            .iter_mut()
            .find(|f| f.group == group && f.name == name)
        {
            if let FactValue::Pair(c, s) = &mut f.value {
                let slot = if dir == Dir::C2S { c } else { s };
                slot.get_or_insert(v);
            }
            return;
        }
        let value = if dir == Dir::C2S {
            FactValue::Pair(Some(v), None)
        } else {
            FactValue::Pair(None, Some(v))
        };
        self.out.push(Fact {
            group: group.to_string(),
            name,
            value,
        });
    }

    /// Like `single`, but a later value replaces an earlier one.
    fn set(&mut self, group: &str, name: &'static str, v: Option<String>) {
        self.out.retain(|f| !(f.group == group && f.name == name));
        self.single(group, name, v);
    }

    fn single(&mut self, group: &str, name: &'static str, v: Option<String>) {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            if !self.out.iter().any(|f| f.group == group && f.name == name) {
                self.out.push(Fact {
                    group: group.to_string(),
                    name,
                    value: FactValue::Single(v),
                });
            }
        }
    }
}

/// The group name of an event's layer, telling the gateway's TLS from the tunnel's.
fn group(e: &Event, gateway: bool) -> String {
    let base = e.layer_text();
    if e.inner() {
        format!("{base} (inside the tunnel)")
    } else if gateway && e.layer() == Some(Layer::Tls) {
        "TLS (with the gateway)".to_string()
    } else {
        base
    }
}

/// A channel by its name, or by its id when it has none.
fn channel_name(name: &Option<ChannelName>, id: u16) -> String {
    match name.as_ref().map(ToString::to_string) {
        Some(n) if !n.is_empty() => n,
        _ => id.to_string(),
    }
}

/// The negotiated parameters of a connection, in the order they were seen.
pub fn negotiation(c: &Connection) -> Vec<Fact> {
    let gw = c.is_gateway();
    let mut f = Facts { out: Vec::new() };
    for e in &c.events {
        let g = group(e, gw);
        let g = g.as_str();
        let dir = e.dir().unwrap_or(Dir::C2S);
        if let Some(n) = e.note() {
            note_facts(&mut f, g, n, gw);
            continue;
        }
        match e.decoded() {
            Some(DecodeEvent::X224(x)) => x224_facts(&mut f, g, x),
            Some(DecodeEvent::Tls(t)) => tls_facts(&mut f, g, dir, t, e),
            Some(DecodeEvent::Mcs(m)) => mcs_facts(&mut f, g, m),
            Some(DecodeEvent::Rdp(r)) => rdp_facts(&mut f, g, dir, r, e),
            Some(DecodeEvent::Http(h)) => http_facts(&mut f, g, h),
            Some(DecodeEvent::Gw(crate::decode::gateway::GwEvent::TsguPacket {
                packet, ..
            })) => tsgu_facts(&mut f, g, packet),
            _ => {}
        }
    }
    f.out
}

fn x224_facts(f: &mut Facts, g: &str, x: &X224Event) {
    match x {
        X224Event::ConnectionRequest {
            requested_protocols,
            cookie,
            ..
        } => {
            let p = requested_protocols
                .map(|p| join(&p.names(), ", "))
                .unwrap_or_else(|| "none (standard RDP security)".into());
            f.pair(g, "security protocol", Dir::C2S, Some(p));
            f.single(g, "cookie (mstshash)", cookie.clone());
        }
        X224Event::ConnectionConfirm {
            selected_protocol, ..
        } => {
            let p = selected_protocol
                .map(|p| join(&p.names(), ", "))
                .unwrap_or_else(|| "legacy (none)".into());
            f.pair(g, "security protocol", Dir::S2C, Some(p));
        }
        X224Event::NegotiationFailure { code } => {
            f.pair(g, "security protocol", Dir::S2C, Some(code.name()))
        }
        _ => {}
    }
}

fn tls_facts(f: &mut Facts, g: &str, dir: Dir, t: &TlsEvent, e: &Event) {
    match t {
        TlsEvent::ClientHello {
            versions,
            cipher_suites,
            cipher_suites_omitted,
            sni,
            alpn,
            ..
        } => {
            f.pair(g, "TLS version", dir, Some(join(versions, ", ")));
            let n = cipher_suites.len() as u64 + u64::from(cipher_suites_omitted.unwrap_or(0));
            let offered = format!("{n} offered");
            f.pair(g, "cipher suite", dir, Some(offered));
            f.single(g, "server name (SNI)", sni.clone());
            f.single(g, "ALPN", Some(alpn.join(", ")));
        }
        TlsEvent::ServerHello {
            version,
            cipher_suite,
            ..
        } => {
            f.pair(g, "TLS version", Dir::S2C, Some(version.to_string()));
            f.pair(g, "cipher suite", Dir::S2C, Some(cipher_suite.to_string()));
        }
        TlsEvent::Alert { .. } => f.single(g, "alert", Some(label(e))),
        _ => {}
    }
}

fn note_facts(f: &mut Facts, g: &str, n: &Note, gw: bool) {
    match n {
        Note::UpstreamTls { tls, .. } => {
            let who = if gw {
                "rdptap ↔ gateway"
            } else {
                "rdptap ↔ host"
            };
            f.single(g, who, tls_leg(tls));
        }
        Note::ClientTls { tls, .. } => f.single(g, "client ↔ rdptap", tls_leg(tls)),
        _ => {}
    }
}

fn mcs_facts(f: &mut Facts, g: &str, m: &McsEvent) {
    let names = |v: &Option<Vec<String>>| v.as_ref().map(|l| l.join(", "));
    match m {
        McsEvent::ConnectInitial {
            client_version,
            desktop_width,
            desktop_height,
            client_name,
            channels,
            client_build,
            early_capability_flags,
            encryption_methods,
            ..
        } => {
            f.pair(g, "RDP version", Dir::C2S, client_version.clone());
            let enc = encryption_methods.map(|m| join(&m.names(), ", "));
            f.pair(g, "encryption", Dir::C2S, enc);
            let early = names(early_capability_flags);
            f.pair(g, "early capabilities", Dir::C2S, early);
            f.pair(g, "static channels", Dir::C2S, Some(channels.join(", ")));
            let size = desktop_width.zip(*desktop_height);
            f.single(g, "desktop", size.map(|(w, h)| format!("{w} × {h}")));
            f.single(g, "client name", client_name.clone());
            f.single(g, "client build", client_build.map(|b| b.to_string()));
        }
        McsEvent::ConnectResponse {
            result,
            server_version,
            early_capability_flags,
            encryption_method,
            encryption_level,
            ..
        } => {
            f.pair(g, "RDP version", Dir::S2C, server_version.clone());
            let level = encryption_level.map_or_else(|| "?".to_string(), |l| l.name());
            let enc =
                encryption_method.map(|m| format!("{}, level {level}", join(&m.names(), ", ")));
            f.pair(g, "encryption", Dir::S2C, enc);
            let early = names(early_capability_flags);
            f.pair(g, "early capabilities", Dir::S2C, early);
            f.single(g, "connect result", Some(result.clone()));
        }
        McsEvent::ChannelsJoined {
            joined, refused, ..
        } => {
            let list: Vec<String> = joined.iter().map(|c| channel_name(&c.name, c.id)).collect();
            f.single(g, "channels joined", Some(list.join(", ")));
            let list: Vec<String> = refused
                .iter()
                .map(|c| channel_name(&c.name, c.id))
                .collect();
            f.single(g, "channels refused", Some(list.join(", ")));
        }
        _ => {}
    }
}

fn rdp_facts(f: &mut Facts, g: &str, dir: Dir, r: &RdpEvent, e: &Event) {
    match r {
        RdpEvent::ClientInfo(ci) => {
            let user = match (ci.domain.as_str(), ci.user.as_str()) {
                (_, "") => None,
                ("", u) => Some(u.to_string()),
                (d, u) => Some(format!("{d}\\{u}")),
            };
            f.single(g, "user", user);
            f.single(g, "auto logon", Some(ci.auto_logon.to_string()));
        }
        // Licensing takes several PDUs: the last outcome is the one that counts.
        RdpEvent::License(l) => {
            let outcome = match l.outcome {
                LicenseOutcome::Succeeded => "succeeded",
                LicenseOutcome::Failed => "failed",
                LicenseOutcome::InProgress => "in progress",
            };
            f.set(g, "licensing", Some(outcome.to_string()));
        }
        RdpEvent::DemandActive(p) | RdpEvent::ConfirmActive(p) => {
            let cd = p.color_depth.map(|d| format!("{d} bpp"));
            f.pair(g, "colour depth", dir, cd);
            f.pair(g, "capabilities", dir, Some(p.capability_count.to_string()));
        }
        RdpEvent::SetErrorInfo(_) => f.single(g, "error info", Some(label(e))),
        _ => {}
    }
}

fn http_facts(f: &mut Facts, g: &str, h: &HttpEvent) {
    match h {
        HttpEvent::Request {
            transport,
            connection_id,
            auth,
            ..
        } => {
            let t = match transport {
                Transport::HttpOut => "http out",
                Transport::HttpIn => "http in",
                Transport::WebSocket => "websocket",
                Transport::RpcIn => "rpc in",
                Transport::RpcOut => "rpc out",
                Transport::Other => "other",
            };
            f.single(g, "transport", Some(t.to_string()));
            f.single(g, "RDG-Connection-Id", connection_id.clone());
            let scheme = auth
                .as_ref()
                .map(|a| a.scheme.name().to_string())
                .filter(|s| !s.is_empty());
            f.pair(g, "authentication", Dir::C2S, scheme);
        }
        HttpEvent::Response { challenges, .. } => {
            let schemes: Vec<&str> = challenges
                .iter()
                .map(|c| c.scheme.name())
                .filter(|s| !s.is_empty())
                .collect();
            let offered = (!schemes.is_empty()).then(|| schemes.join(", "));
            f.pair(g, "authentication", Dir::S2C, offered);
        }
        _ => {}
    }
}

fn tsgu_facts(f: &mut Facts, g: &str, p: &Packet) {
    let ver = |major: u8, minor: u8| Some(format!("{major}.{minor}"));
    match p {
        Packet::HandshakeRequest {
            ver_major,
            ver_minor,
            extended_auth,
            ..
        } => {
            f.pair(g, "protocol version", Dir::C2S, ver(*ver_major, *ver_minor));
            let ext = Some(join(&extended_auth.names(), ", "));
            f.pair(g, "extended authentication", Dir::C2S, ext);
        }
        Packet::HandshakeResponse {
            ver_major,
            ver_minor,
            extended_auth,
            ..
        } => {
            f.pair(g, "protocol version", Dir::S2C, ver(*ver_major, *ver_minor));
            let ext = Some(join(&extended_auth.names(), ", "));
            f.pair(g, "extended authentication", Dir::S2C, ext);
        }
        Packet::TunnelCreate { caps, .. } => {
            let caps = Some(join(&caps.names(), ", "));
            f.pair(g, "tunnel capabilities", Dir::C2S, caps);
        }
        Packet::TunnelResponse { caps, .. } => {
            let caps = caps.map(|c| join(&c.names(), ", "));
            f.pair(g, "tunnel capabilities", Dir::S2C, caps);
        }
        Packet::TunnelAuth { client_name, .. } => {
            f.single(g, "client name", Some(client_name.clone()))
        }
        Packet::TunnelAuthResponse {
            redir_flags,
            idle_timeout_min,
            ..
        } => {
            let redir = redir_flags.map(|r| join(&r.names(), ", "));
            f.single(g, "redirection", redir);
            f.single(
                g,
                "idle timeout",
                idle_timeout_min.map(|m| format!("{m} min")),
            );
        }
        Packet::ChannelCreate {
            resources, port, ..
        } => {
            let target = format!("{}:{port}", resources.join(", "));
            f.single(g, "target host", Some(target));
        }
        _ => {}
    }
    if let Some(st) = p.status().filter(|s| s.name() != "S_OK") {
        let refusal = format!("{} {}", p.packet_type().name(), st.name());
        f.single(g, "refusal", Some(refusal));
    }
}

/// "TLS 1.3, TLS_AES_128_GCM_SHA256, 2.1 ms" for one of rdptap's own handshakes.
fn tls_leg(t: &LegTls) -> Option<String> {
    let suite = t
        .cipher_suite
        .map_or_else(|| "?".to_string(), |c| c.to_string());
    Some(format!("{}, {suite}, {:.1} ms", t.version?, t.handshake_ms))
}
