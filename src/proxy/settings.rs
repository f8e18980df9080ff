//! The settings in force, written into the event file so a report or a bundle shows
//! how the trace was made.

use super::config::ProxyConfig;
use serde_json::{json, Value};

/// The proxy's settings as JSON. Nothing here is secret: paths, addresses, policies,
/// and the pin (a public certificate fingerprint).
pub fn describe(cfg: &ProxyConfig) -> Value {
    let capture = cfg.capture.as_ref().map(|c| {
        json!({
            "pcap": c.path,
            "pcap_split": c.split,
            "pcap_keys": c.keys,
            "redact": c.redact,
            "capture_queue": c.queue_bytes,
            "capture_overflow": c.overflow,
        })
    });
    let intercept = cfg.intercept.as_ref().map(|i| {
        json!({
            "ca_dir": i.ca_dir,
            "nla": format!("{:?}", i.nla).to_lowercase(),
            "strict_upstream": i.strict_upstream,
            "keylog": i.keylog.is_some(),
        })
    });
    json!({
        "target": cfg.target.to_string(),
        "connect": (cfg.dial != cfg.target).then(|| cfg.dial.to_string()),
        "listen": cfg.listen.to_string(),
        "gateway": cfg.gateway.map(|g| json!({"passthrough": g.passthrough})),
        "linger_ms": cfg.linger.as_millis() as u64,
        "connect_timeout_ms": cfg.connect_timeout.as_millis() as u64,
        "idle_timeout_ms": cfg.idle_timeout.map(|d| d.as_millis() as u64),
        "first_byte_timeout_ms": cfg.first_byte_timeout.map(|d| d.as_millis() as u64),
        "max_connections": cfg.max_connections,
        "intercept": intercept,
        "trust": cfg.trust,
        "pin": cfg.pin.map(|p| p.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        "redact_users": cfg.redact_users,
        "once": cfg.once,
        "capture": capture,
        "os": std::env::consts::OS,
    })
}
