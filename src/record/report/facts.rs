//! What the pages show beside the ladder: the negotiated parameters side by side, and the
//! certificates with their findings.

use super::labels::{humanize, label, name_of, names, num, s};
use super::model::{text, Connection, Event, Layer};
use crate::vocab::Dir;
use serde_json::Value;

/// One finding in plain English, with its details.
fn finding_text(f: &Value) -> String {
    let d = |k: &str| s(f, k).unwrap_or("?");
    match s(f, "finding").unwrap_or("") {
        "expired" => format!("expired (notAfter {})", d("not_after")),
        "not_yet_valid" => format!("not valid yet (notBefore {})", d("not_before")),
        "name_mismatch" => format!(
            "name mismatch: expected {}, presented {}",
            d("expected"),
            names(f.get("presented"), ", ").unwrap_or_default()
        ),
        "wrong_usage" => format!(
            "not for server authentication (EKUs: {})",
            names(f.get("ekus"), ", ").unwrap_or_default()
        ),
        "untrusted" => format!("untrusted: {}", d("reason")),
        "self_signed" => "self-signed".to_string(),
        "pin_mismatch" => format!("not the pinned certificate (SHA-256 {})", d("presented")),
        other => humanize(other),
    }
}

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
    let base = e.layer.to_string();
    if e.inner {
        format!("{base} (inside the tunnel)")
    } else if gateway && e.layer == Layer::Tls {
        "TLS (with the gateway)".to_string()
    } else {
        base
    }
}

/// The negotiated parameters of a connection, in the order they were seen.
pub fn negotiation(c: &Connection) -> Vec<Fact> {
    let gw = c.is_gateway();
    let mut f = Facts { out: Vec::new() };
    for e in &c.events {
        let g = group(e, gw);
        let g = g.as_str();
        let dir = e.dir.unwrap_or(Dir::C2S);
        match (e.layer.clone(), e.kind.as_str()) {
            (Layer::X224, "connection_request") => {
                let p = names(e.get("requested_protocols"), ", ")
                    .or(Some("none (standard RDP security)".into()));
                f.pair(g, "security protocol", Dir::C2S, p);
                f.single(g, "cookie (mstshash)", e.str("cookie").map(String::from));
            }
            (Layer::X224, "connection_confirm") => {
                let p = names(e.get("selected_protocol"), ", ").or(Some("legacy (none)".into()));
                f.pair(g, "security protocol", Dir::S2C, p);
            }
            (Layer::X224, "negotiation_failure") => f.pair(
                g,
                "security protocol",
                Dir::S2C,
                e.str("code").map(String::from),
            ),
            (Layer::Tls, "client_hello") => {
                f.pair(g, "TLS version", dir, names(e.get("versions"), ", "));
                let n = e
                    .get("cipher_suites")
                    .and_then(Value::as_array)
                    .map(Vec::len);
                f.pair(g, "cipher suite", dir, n.map(|n| format!("{n} offered")));
                f.single(g, "server name (SNI)", e.str("sni").map(String::from));
                f.single(g, "ALPN", names(e.get("alpn"), ", "));
            }
            (Layer::Tls, "server_hello") => {
                f.pair(
                    g,
                    "TLS version",
                    Dir::S2C,
                    e.str("version").map(String::from),
                );
                f.pair(
                    g,
                    "cipher suite",
                    Dir::S2C,
                    e.str("cipher_suite").map(String::from),
                );
            }
            (Layer::Tls, "upstream_tls") => {
                let who = if gw {
                    "rdptap ↔ gateway"
                } else {
                    "rdptap ↔ host"
                };
                f.single(g, who, tls_leg(e));
            }
            (Layer::Tls, "client_tls") => f.single(g, "client ↔ rdptap", tls_leg(e)),
            (Layer::Tls, "alert") => f.single(g, "alert", Some(label(e))),
            (Layer::Mcs, "connect_initial") => {
                f.pair(
                    g,
                    "RDP version",
                    Dir::C2S,
                    e.str("client_version").map(String::from),
                );
                f.pair(
                    g,
                    "encryption",
                    Dir::C2S,
                    names(e.get("encryption_methods"), ", "),
                );
                f.pair(
                    g,
                    "early capabilities",
                    Dir::C2S,
                    names(e.get("early_capability_flags"), ", "),
                );
                f.pair(
                    g,
                    "static channels",
                    Dir::C2S,
                    names(e.get("channels"), ", "),
                );
                let size = num(e, "desktop_width").zip(num(e, "desktop_height"));
                f.single(g, "desktop", size.map(|(w, h)| format!("{w} × {h}")));
                f.single(g, "client name", e.str("client_name").map(String::from));
                f.single(g, "client build", num(e, "client_build"));
            }
            (Layer::Mcs, "connect_response") => {
                f.pair(
                    g,
                    "RDP version",
                    Dir::S2C,
                    e.str("server_version").map(String::from),
                );
                let enc = names(e.get("encryption_method"), ", ")
                    .map(|m| format!("{m}, level {}", e.str("encryption_level").unwrap_or("?")));
                f.pair(g, "encryption", Dir::S2C, enc);
                f.pair(
                    g,
                    "early capabilities",
                    Dir::S2C,
                    names(e.get("early_capability_flags"), ", "),
                );
                f.single(g, "connect result", e.str("result").map(String::from));
            }
            (Layer::Mcs, "channels_joined") => {
                let list = |k: &str| {
                    e.get(k).and_then(Value::as_array).map(|l| {
                        l.iter()
                            .map(|c| {
                                s(c, "name")
                                    .map(String::from)
                                    .unwrap_or_else(|| text(c.get("id")))
                            })
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                };
                f.single(g, "channels joined", list("joined"));
                f.single(g, "channels refused", list("refused"));
            }
            (Layer::Rdp, "client_info") => {
                let nonempty = |k: &str| e.str(k).filter(|v| !v.is_empty());
                let user = match (nonempty("domain"), nonempty("user")) {
                    (Some(d), Some(u)) => Some(format!("{d}\\{u}")),
                    (None, Some(u)) => Some(u.to_string()),
                    _ => None,
                };
                f.single(g, "user", user);
                f.single(g, "auto logon", e.get("auto_logon").map(|v| text(Some(v))));
            }
            // Licensing takes several PDUs: the last outcome is the one that counts.
            (Layer::Rdp, "license") => f.set(g, "licensing", e.str("outcome").map(humanize)),
            (Layer::Rdp, "demand_active") | (Layer::Rdp, "confirm_active") => {
                let cd = num(e, "color_depth").map(|d| format!("{d} bpp"));
                f.pair(g, "colour depth", dir, cd);
                f.pair(g, "capabilities", dir, num(e, "capability_count"));
            }
            (Layer::Rdp, "set_error_info") => f.single(g, "error info", Some(label(e))),
            (Layer::Http, "http_request") => {
                f.single(g, "transport", e.str("transport").map(humanize));
                f.single(
                    g,
                    "RDG-Connection-Id",
                    e.str("connection_id").map(String::from),
                );
                let auth = e.get("auth").and_then(|a| s(a, "scheme")).map(String::from);
                f.pair(g, "authentication", Dir::C2S, auth);
            }
            (Layer::Http, "http_response") => {
                let ch = e.get("challenges").and_then(Value::as_array).and_then(|l| {
                    let v: Vec<&str> = l.iter().filter_map(|c| s(c, "scheme")).collect();
                    (!v.is_empty()).then(|| v.join(", "))
                });
                f.pair(g, "authentication", Dir::S2C, ch);
            }
            (Layer::Tsgu, "tsgu_packet") => tsgu_facts(&mut f, g, e),
            _ => {}
        }
    }
    f.out
}

fn tsgu_facts(f: &mut Facts, g: &str, e: &Event) {
    let ver = || {
        num(e, "ver_major")
            .zip(num(e, "ver_minor"))
            .map(|(a, b)| format!("{a}.{b}"))
    };
    match e.str("packet").unwrap_or("") {
        "HANDSHAKE_REQUEST" => {
            f.pair(g, "protocol version", Dir::C2S, ver());
            f.pair(
                g,
                "extended authentication",
                Dir::C2S,
                names(e.get("extended_auth"), ", "),
            );
        }
        "HANDSHAKE_RESPONSE" => {
            f.pair(g, "protocol version", Dir::S2C, ver());
            f.pair(
                g,
                "extended authentication",
                Dir::S2C,
                names(e.get("extended_auth"), ", "),
            );
        }
        "TUNNEL_CREATE" => f.pair(
            g,
            "tunnel capabilities",
            Dir::C2S,
            names(e.get("caps"), ", "),
        ),
        "TUNNEL_RESPONSE" => f.pair(
            g,
            "tunnel capabilities",
            Dir::S2C,
            names(e.get("caps"), ", "),
        ),
        "TUNNEL_AUTH" => f.single(g, "client name", e.str("client_name").map(String::from)),
        "TUNNEL_AUTH_RESPONSE" => {
            f.single(g, "redirection", names(e.get("redir_flags"), ", "));
            let idle = num(e, "idle_timeout_min").map(|m| format!("{m} min"));
            f.single(g, "idle timeout", idle);
        }
        "CHANNEL_CREATE" => {
            let host = names(e.get("resources"), ", ");
            let target = host.map(|h| format!("{h}:{}", num(e, "port").unwrap_or_default()));
            f.single(g, "target host", target);
        }
        _ => {}
    }
    let st = name_of(e.get("error").or_else(|| e.get("status")));
    if let Some(st) = st.filter(|n| n != "S_OK") {
        f.single(
            g,
            "refusal",
            Some(format!("{} {st}", e.str("packet").unwrap_or(""))),
        );
    }
}

/// "TLS 1.3, TLS_AES_128_GCM_SHA256, 2.1 ms" for one of rdptap's own handshakes.
fn tls_leg(e: &Event) -> Option<String> {
    let mut v = format!(
        "{}, {}",
        e.str("version")?,
        e.str("cipher_suite").unwrap_or("?")
    );
    if let Some(ms) = e.get("handshake_ms").and_then(Value::as_f64) {
        v.push_str(&format!(", {ms:.1} ms"));
    }
    Some(v)
}

/// One certificate of a chain.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CertInfo {
    /// Subject DN.
    pub subject: String,
    /// Issuer DN.
    pub issuer: String,
    /// notBefore.
    pub not_before: String,
    /// notAfter.
    pub not_after: String,
    /// Subject alternative names.
    pub sans: Vec<String>,
    /// True when self-signed.
    pub self_signed: bool,
    /// Key type and size, e.g. "EC P-256 (256 bits)".
    pub key: String,
    /// Signature algorithm.
    pub signature: String,
    /// Extended key usages.
    pub ekus: Vec<String>,
    /// SHA-256 fingerprint, when known.
    pub sha256: Option<String>,
}

/// A certificate chain someone presented, and what rdptap found wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub struct CertView {
    /// Whose it is and where it was seen.
    pub role: String,
    /// The chain, leaf first (empty when TLS 1.3 hid it).
    pub chain: Vec<CertInfo>,
    /// The findings in plain English (empty: the checks passed, or none were made).
    pub findings: Vec<String>,
    /// True when a `cert_assessment` judged it.
    pub assessed: bool,
}

fn cert_info(v: &Value) -> CertInfo {
    let list = |k: &str| {
        v.get(k)
            .and_then(Value::as_array)
            .map(|l| l.iter().map(|x| text(Some(x))).collect())
            .unwrap_or_default()
    };
    let bits = v.get("key_bits").and_then(Value::as_u64);
    let key = match (s(v, "key_type"), bits) {
        (Some(t), Some(b)) => format!("{t} ({b} bits)"),
        (Some(t), None) => t.to_string(),
        _ => String::new(),
    };
    CertInfo {
        subject: s(v, "subject").unwrap_or("").to_string(),
        issuer: s(v, "issuer").unwrap_or("").to_string(),
        not_before: s(v, "not_before").unwrap_or("").to_string(),
        not_after: s(v, "not_after").unwrap_or("").to_string(),
        sans: list("sans"),
        self_signed: v
            .get("self_signed")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        key,
        signature: s(v, "signature_algorithm").unwrap_or("").to_string(),
        ekus: list("ekus"),
        sha256: s(v, "sha256").map(String::from),
    }
}

/// The certificates a connection saw, each with the findings of the check that followed.
pub fn certificates(c: &Connection) -> Vec<CertView> {
    let gw = c.is_gateway();
    let mut out: Vec<CertView> = Vec::new();
    // Which view the next cert_assessment (same `inner`) belongs to.
    let mut pending: [Option<usize>; 2] = [None, None];
    for e in &c.events {
        let slot = usize::from(e.inner);
        let whose = match (e.inner, gw) {
            (true, _) => "the host's certificate, inside the gateway tunnel",
            (false, true) => "the gateway's certificate",
            (false, false) => "the host's certificate",
        };
        match (e.layer.clone(), e.kind.as_str()) {
            (Layer::Tls, "certificate") if e.dir != Some(Dir::C2S) => {
                let chain = e.get("chain").and_then(Value::as_array);
                out.push(CertView {
                    role: format!("{whose}, as the client received it"),
                    chain: chain
                        .map(|l| l.iter().map(cert_info).collect())
                        .unwrap_or_default(),
                    findings: Vec::new(),
                    assessed: false,
                });
                pending[slot] = Some(out.len() - 1);
            }
            (Layer::Tls, "upstream_tls") => {
                let chain = e.get("chain").and_then(Value::as_array);
                out.push(CertView {
                    role: format!("{whose}, as rdptap received it on its own connection"),
                    chain: chain
                        .map(|l| l.iter().map(cert_info).collect())
                        .unwrap_or_default(),
                    findings: Vec::new(),
                    assessed: false,
                });
                pending[slot] = Some(out.len() - 1);
            }
            (Layer::Tls, "certificate_hidden") => out.push(CertView {
                role: format!("{whose}: encrypted by TLS 1.3, so not seen"),
                chain: Vec::new(),
                findings: Vec::new(),
                assessed: false,
            }),
            (Layer::Tls, "cert_assessment") => {
                if let Some(i) = pending[slot].take() {
                    let list = e.get("findings").and_then(Value::as_array);
                    out[i].findings = list
                        .map(|l| l.iter().map(finding_text).collect())
                        .unwrap_or_default();
                    out[i].assessed = true;
                }
            }
            _ => {}
        }
    }
    out
}
