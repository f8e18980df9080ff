//! A short label for each event: the message's name and its one or two key values, for
//! ladder arrows and event lists.

use super::model::{text, Event, Layer};
use serde_json::Value;

/// A string field of a JSON object.
pub(super) fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A `{code, name}` object's name (or a plain string).
pub(super) fn name_of(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("name").and_then(Value::as_str).map(String::from),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A list of names (`["SSL","HYBRID"]`) or a flag set (`{"names": [...]}`), joined.
pub(super) fn names(v: Option<&Value>, sep: &str) -> Option<String> {
    let list = match v? {
        Value::Array(a) => a,
        Value::Object(o) => o.get("names")?.as_array()?,
        Value::String(s) => return Some(s.clone()),
        _ => return None,
    };
    let parts: Vec<String> = list.iter().map(|x| text(Some(x))).collect();
    Some(parts.join(sep))
}

/// A number field as text.
pub(super) fn num(e: &Event, key: &str) -> Option<String> {
    e.get(key).filter(|v| v.is_number()).map(|v| v.to_string())
}

/// An MS-TSGU status that is worth showing (anything but success).
fn status_suffix(e: &Event) -> String {
    let st = name_of(e.get("error").or_else(|| e.get("status")));
    match st {
        Some(n) if n != "S_OK" => format!(" {n}"),
        _ => String::new(),
    }
}

/// "NEGOTIATE", "CHALLENGE", "AUTHENTICATE" for NTLM message types.
pub(super) fn ntlm_name(t: Option<u64>) -> &'static str {
    match t {
        Some(1) => "NEGOTIATE",
        Some(2) => "CHALLENGE",
        Some(3) => "AUTHENTICATE",
        _ => "message",
    }
}

/// A readable name for an event kind nobody gave a label: `shutdown_request` → "shutdown request".
pub(super) fn humanize(kind: &str) -> String {
    kind.replace('_', " ")
}

/// A short name for the message or fact an event reports, for arrows and lists.
pub fn label(e: &Event) -> String {
    let k = e.kind.as_str();
    let l = match e.layer {
        Layer::Tcp => tcp_label(e),
        Layer::X224 => x224_label(e),
        Layer::Tls => tls_label(e),
        Layer::Mcs => mcs_label(e),
        Layer::Rdp => rdp_label(e),
        Layer::Http => http_label(e),
        Layer::Tsgu => tsgu_label(e),
        Layer::Ws => match k {
            "ws_close" => {
                let code = num(e, "code").unwrap_or_default();
                let name = e.str("code_name").unwrap_or_default();
                Some(
                    format!("WebSocket Close {code} {name}")
                        .trim_end()
                        .to_string(),
                )
            }
            "ws_violation" => Some(format!(
                "WebSocket violation: {}",
                e.str("reason").unwrap_or("")
            )),
            _ => None,
        },
        Layer::Session => match k {
            "phase" => Some(format!(
                "phase: {}",
                super::model::phase_id(e.str("phase").unwrap_or(""))
            )),
            "not_intercepted" => Some(format!(
                "not intercepted: {}",
                humanize(e.str("reason").unwrap_or(""))
            )),
            "verdict" => Some(format!("verdict: {}", e.str("cause").unwrap_or(""))),
            "proxy_started" => Some(format!("rdptap {} started", e.str("version").unwrap_or(""))),
            _ => None,
        },
        Layer::Decoder => Some(format!(
            "decoder stopped: {}",
            e.str("reason").unwrap_or("")
        )),
        Layer::Capture => match k {
            "capture_dropped" => Some(format!(
                "{} packets not captured",
                num(e, "packets").unwrap_or_default()
            )),
            "capture_failed" => Some(format!("capture failed: {}", e.str("error").unwrap_or(""))),
            _ => None,
        },
        Layer::Other(_) => None,
    };
    match l {
        Some(l) => l,
        None if k == "decode_error" => {
            format!("decoder stopped: {}", e.str("reason").unwrap_or(""))
        }
        None => humanize(k),
    }
}

fn tcp_label(e: &Event) -> Option<String> {
    Some(match e.kind.as_str() {
        "accepted" => format!("TCP connect from {}", e.str("client")?),
        "upstream_connected" => {
            let ms = e.get("connect_ms").and_then(Value::as_f64).unwrap_or(0.0);
            format!("TCP connect to {} ({ms:.1} ms)", e.str("addr")?)
        }
        "upstream_failed" => {
            let f = e.get("failure")?;
            let how = s(f, "failure").or(s(f, "kind")).unwrap_or("failed");
            let what = s(f, "error").or(s(f, "addr")).or(s(f, "host"));
            match what {
                Some(w) => format!("TCP connect failed: {how} ({w})"),
                None => format!("TCP connect failed: {how}"),
            }
        }
        "stream_ended" => {
            let how = e.str("how").unwrap_or("ended");
            let bytes = num(e, "bytes").unwrap_or_default();
            let how = match how {
                "fin" | "rst" => how.to_ascii_uppercase(),
                other => humanize(other),
            };
            format!("{how} after {bytes} bytes")
        }
        _ => return None,
    })
}

fn x224_label(e: &Event) -> Option<String> {
    Some(match e.kind.as_str() {
        "connection_request" => match names(e.get("requested_protocols"), "|") {
            Some(p) => format!("X.224 Connection Request ({p})"),
            None => "X.224 Connection Request (no RDP_NEG_REQ)".to_string(),
        },
        "connection_confirm" => match names(e.get("selected_protocol"), "|") {
            Some(p) => format!("X.224 Connection Confirm: {p}"),
            None => "X.224 Connection Confirm (no negotiation data)".to_string(),
        },
        "negotiation_failure" => format!("RDP_NEG_FAILURE {}", e.str("code").unwrap_or("")),
        "disconnect_request" => "X.224 Disconnect Request".to_string(),
        "preconnection_pdu" => "Preconnection PDU".to_string(),
        "not_rdp" => {
            let b: String = e
                .str("first_bytes")
                .unwrap_or("")
                .chars()
                .take(16)
                .collect();
            format!("not RDP: {b}")
        }
        "nla_downgraded" => "NLA removed from the request (--nla downgrade)".to_string(),
        _ => return None,
    })
}

fn tls_label(e: &Event) -> Option<String> {
    let ms = |k: &str| {
        e.get(k)
            .and_then(Value::as_f64)
            .map(|v| format!(" ({v:.1} ms)"))
    };
    Some(match e.kind.as_str() {
        "client_hello" => {
            let v = names(e.get("versions"), ", ").unwrap_or_default();
            let sni = e
                .str("sni")
                .map(|n| format!(" SNI {n}"))
                .unwrap_or_default();
            format!("ClientHello ({v}){sni}")
        }
        "server_hello" => {
            let hrr = if e.get("hello_retry_request") == Some(&Value::Bool(true)) {
                " (HelloRetryRequest)"
            } else {
                ""
            };
            format!(
                "ServerHello {} {}{hrr}",
                e.str("version").unwrap_or(""),
                e.str("cipher_suite").unwrap_or("")
            )
        }
        "certificate" => {
            let leaf = e.get("chain").and_then(|c| c.get(0));
            let subj = leaf.and_then(|l| s(l, "subject")).unwrap_or("");
            format!("Certificate {subj}")
        }
        "certificate_hidden" => "Certificate (encrypted by TLS 1.3)".to_string(),
        "cert_assessment" => {
            let f = finding_names(e);
            if f.is_empty() {
                "certificate check: passed".to_string()
            } else {
                format!("certificate check: {}", f.join(", "))
            }
        }
        "alert" => format!(
            "Alert {} {}",
            e.str("level").unwrap_or(""),
            e.str("description").unwrap_or("")
        ),
        "handshake_done" => "TLS handshake finished".to_string(),
        "app_record" => format!(
            "application data ({} bytes)",
            num(e, "len").unwrap_or_default()
        ),
        "encrypted_alert_likely" => format!(
            "encrypted alert, likely close_notify ({} bytes)",
            num(e, "len").unwrap_or_default()
        ),
        "upstream_tls" | "client_tls" => format!(
            "TLS handshake: {} {}{}",
            e.str("version").unwrap_or(""),
            e.str("cipher_suite").unwrap_or(""),
            ms("handshake_ms").unwrap_or_default()
        ),
        "upstream_tls_failed" | "client_tls_failed" => format!(
            "TLS handshake failed: {}",
            e.str("alert").or(e.str("error")).unwrap_or("")
        ),
        "fallback_replayed" => "Connection Request replayed on a fresh connection".to_string(),
        "fallback_failed" => format!("fallback failed: {}", e.str("error").unwrap_or("")),
        "strict_refused" => format!(
            "refused the certificate (--strict-upstream): {}",
            names(e.get("findings"), ", ").unwrap_or_default()
        ),
        "mint_failed" => format!(
            "could not mint a certificate: {}",
            e.str("error").unwrap_or("")
        ),
        _ => return None,
    })
}

fn mcs_label(e: &Event) -> Option<String> {
    let result = || {
        e.str("result")
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    };
    let channel = || {
        e.str("channel")
            .map(String::from)
            .or_else(|| num(e, "channel_id"))
            .unwrap_or_default()
    };
    Some(match e.kind.as_str() {
        "connect_initial" => format!(
            "MCS Connect Initial ({}, {}x{})",
            e.str("client_version").unwrap_or("?"),
            num(e, "desktop_width").unwrap_or_default(),
            num(e, "desktop_height").unwrap_or_default()
        ),
        "connect_response" => format!("MCS Connect Response{}", result()),
        "erect_domain" => "MCS Erect Domain".to_string(),
        "attach_user_request" => "MCS Attach User Request".to_string(),
        "attach_user_confirm" => format!("MCS Attach User Confirm{}", result()),
        "channel_join_request" => format!("MCS Channel Join Request {}", channel()),
        "channel_join_confirm" => format!("MCS Channel Join Confirm {}{}", channel(), result()),
        "channels_joined" => {
            let n = |k: &str| e.get(k).and_then(Value::as_array).map_or(0, Vec::len);
            format!(
                "channels joined: {}, refused: {}",
                n("joined"),
                n("refused")
            )
        }
        "disconnect_provider_ultimatum" => format!(
            "MCS Disconnect Provider Ultimatum ({})",
            e.str("reason").unwrap_or("")
        ),
        "downgrade_hidden" => "clientRequestedProtocols rewritten back (--nla downgrade)".into(),
        _ => return None,
    })
}

fn rdp_label(e: &Event) -> Option<String> {
    let code = |k: &str| name_of(e.get(k)).unwrap_or_default();
    Some(match e.kind.as_str() {
        "security_exchange" => "Security Exchange".to_string(),
        "client_info" => match e.str("user") {
            Some(u) => format!("Client Info (user {u})"),
            None => "Client Info".to_string(),
        },
        "license" => {
            let err = e
                .get("error")
                .and_then(|x| name_of(x.get("code")))
                .map(|c| format!(" {c}"))
                .unwrap_or_default();
            format!("License {}{err}", code("msg_type"))
        }
        "demand_active" | "confirm_active" => format!(
            "{} ({} capabilities)",
            if e.kind == "demand_active" {
                "Demand Active"
            } else {
                "Confirm Active"
            },
            num(e, "capability_count").unwrap_or_default()
        ),
        "deactivate_all" => "Deactivate All".to_string(),
        "server_redirection" => "Server Redirection".to_string(),
        "synchronize" => "Synchronize".to_string(),
        "control" => format!(
            "Control {}",
            code("action").trim_start_matches("CTRLACTION_")
        ),
        "font_list" => "Font List".to_string(),
        "font_map" => "Font Map".to_string(),
        "persistent_key_list" => "Persistent Key List".to_string(),
        "save_session_info" => {
            let err = e
                .get("logon_error")
                .and_then(|x| name_of(x.get("error_type")))
                .map(|c| format!(", {c}"))
                .unwrap_or_default();
            format!("Save Session Info ({}{err})", code("info_type"))
        }
        "set_error_info" => format!("Set Error Info {}", e.str("name").unwrap_or("")),
        "shutdown_request" => "Shutdown Request".to_string(),
        "shutdown_denied" => "Shutdown Denied".to_string(),
        "monitor_layout" => "Monitor Layout".to_string(),
        "status_info" => format!("Status Info {}", code("status")),
        "encrypted_from_here" => "encrypted from here on".to_string(),
        "compressed_pdu" => format!("compressed PDU {}", code("pdu_type2")),
        "malformed_pdu" => format!(
            "malformed {}: {}",
            e.str("what").unwrap_or("PDU"),
            e.str("reason").unwrap_or("")
        ),
        _ => return None,
    })
}

fn http_label(e: &Event) -> Option<String> {
    Some(match e.kind.as_str() {
        "http_request" => {
            let auth = e
                .get("auth")
                .map(|a| {
                    let scheme = s(a, "scheme").unwrap_or("auth");
                    match a.get("ntlm").filter(|n| !n.is_null()) {
                        Some(n) => format!(
                            " ({scheme} {})",
                            ntlm_name(n.get("message_type").and_then(Value::as_u64))
                        ),
                        None => format!(" ({scheme})"),
                    }
                })
                .unwrap_or_default();
            format!(
                "{} {}{auth}",
                e.str("method").unwrap_or("?"),
                e.str("target").unwrap_or("")
            )
        }
        "http_response" => {
            let ch = e
                .get("challenges")
                .and_then(Value::as_array)
                .map(|list| {
                    let schemes: Vec<String> = list
                        .iter()
                        .map(|c| match c.get("ntlm").filter(|n| !n.is_null()) {
                            Some(_) => format!("{} CHALLENGE", s(c, "scheme").unwrap_or("")),
                            None => s(c, "scheme").unwrap_or("").to_string(),
                        })
                        .collect();
                    if schemes.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", schemes.join(", "))
                    }
                })
                .unwrap_or_default();
            format!(
                "HTTP {} {}{ch}",
                num(e, "status").unwrap_or_default(),
                e.str("reason").unwrap_or("")
            )
        }
        "http_body_end" => format!("body ends ({} bytes)", num(e, "bytes").unwrap_or_default()),
        "http_incomplete" => {
            let at = e.get("at").and_then(|a| s(a, "kind")).unwrap_or("?");
            format!("HTTP message cut short ({})", humanize(at))
        }
        "http_head_too_large" => "HTTP head too large".to_string(),
        "http_malformed" => format!("malformed HTTP: {}", e.str("reason").unwrap_or("")),
        "http_upgrade" => format!("upgrade to {}", e.str("protocol").unwrap_or("?")),
        _ => return None,
    })
}

fn tsgu_label(e: &Event) -> Option<String> {
    Some(match e.kind.as_str() {
        "tsgu_packet" => {
            let p = e.str("packet").unwrap_or("?");
            let extra = match p {
                "DATA" => format!(" ({} bytes)", num(e, "data_len").unwrap_or_default()),
                "CHANNEL_CREATE" => {
                    let host = e
                        .get("resources")
                        .and_then(|r| r.get(0))
                        .and_then(Value::as_str)
                        .unwrap_or("?");
                    format!(" {host}:{}", num(e, "port").unwrap_or_default())
                }
                "EXTENDED_AUTH_MSG" => match e.get("ntlm_type").and_then(Value::as_u64) {
                    Some(t) => format!(" (NTLM {})", ntlm_name(Some(t))),
                    None => String::new(),
                },
                _ => String::new(),
            };
            format!("{p}{extra}{}", status_suffix(e))
        }
        "tsgu_violation" => format!("protocol violation: {}", e.str("reason").unwrap_or("")),
        "tsgu_framing_error" => format!("framing error: {}", e.str("reason").unwrap_or("")),
        "tsgu_seed" => format!(
            "random seed ({} bytes)",
            num(e, "bytes").unwrap_or_default()
        ),
        "tsgu_cut" => format!(
            "cut inside {}",
            e.str("inside").unwrap_or("the tunnel body")
        ),
        "tsgu_stage" => format!("tunnel stage: {}", e.str("stage").unwrap_or("?")),
        _ => return None,
    })
}

/// The finding identifiers of a `cert_assessment` (`expired`, `self_signed`…).
pub(super) fn finding_names(e: &Event) -> Vec<String> {
    e.get("findings")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(|f| s(f, "finding"))
                .map(|f| match f {
                    "self_signed" => "self-signed".to_string(),
                    other => humanize(other),
                })
                .collect()
        })
        .unwrap_or_default()
}
