//! What the proxy says on the console at start and at stop.

use super::config::ProxyConfig;
use crate::record::jsonl;
use crate::relay::intercept::NlaPolicy;
use crate::runtime::console::say;
use std::collections::BTreeMap;
use tokio::net::TcpListener;

/// Verdict counts by cause, for the summary printed at exit.
#[derive(Debug, Default)]
pub struct Tally {
    /// Verdicts by cause id.
    pub by_cause: BTreeMap<&'static str, u64>,
    /// Every verdict.
    pub total: u64,
}

/// Says where rdptap listens, what it relays to, and how to point clients at it.
pub fn announce(cfg: &ProxyConfig, listener: &TcpListener) {
    let addr = listener.local_addr().unwrap_or(cfg.listen);
    let port = addr.port();
    let dial = if cfg.dial == cfg.target {
        String::new()
    } else {
        format!(" (dialling {})", cfg.dial)
    };
    say(format!(
        "rdptap listening on {addr}, relaying to {}{dial}",
        cfg.target
    ));
    let host = if addr.ip().is_loopback() {
        "localhost".to_string()
    } else {
        addr.ip().to_string()
    };
    let ip = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        addr.ip().to_string()
    };
    let ip = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip
    };
    if let Some(g) = cfg.gateway {
        say("  RD Gateway mode: set the client's RD Gateway to rdptap:");
        say(format!("    mstsc: Advanced → Settings → Use these RD Gateway server settings → Server name {host}:{port}"));
        say(format!(
            "    xfreerdp /v:HOST /g:{ip}:{port} /gu:USER /gp:PASSWORD /gt:http"
        ));
        if let Some(k) = cfg.intercept.as_ref().and_then(|i| i.keylog.as_ref()) {
            say(format!("  WARNING: TLS keys are written to {} — anyone with this file and a capture can read the gateway traffic, credentials included", k.display()));
        }
        if g.passthrough {
            say("  --gateway-passthrough: the gateway's TLS is relayed untouched; only its TLS facts, certificate (TLS 1.2) and closes are seen");
        } else {
            say("  the gateway's TLS is terminated with a certificate from the local CA, so clients must trust it (`rdptap ca show` prints how); if authentication fails only through rdptap, the gateway enforces Extended Protection: use --gateway-passthrough");
            if cfg.intercept.as_ref().is_some_and(|i| i.mirror) {
                say("  rdptap's certificate mirrors the gateway's certificate problems, so the client warns or refuses as it would without rdptap (--no-mirror turns this off)");
            }
        }
    } else {
        say("  connect the client to rdptap:");
        say(format!("    mstsc /v:{host}:{port}"));
        say(format!("    xfreerdp /v:{ip}:{port}"));
    }
    let target_is_local = cfg.target.host == "localhost"
        || cfg
            .target
            .host
            .parse::<std::net::IpAddr>()
            .map(|i| i.is_loopback())
            .unwrap_or(false);
    if addr.ip().is_loopback() && !target_is_local && cfg.gateway.is_some() {
        say(format!(
            "  note: pointing the client's gateway setting at localhost changes the failure itself: Kerberos asks for a ticket for HTTP/localhost (and falls back to NTLM). To keep the gateway's real name {}, map it to 127.0.0.x in the hosts file and listen there on 443 (see README, \"Keeping the host's name\").",
            cfg.target.host
        ));
    } else if addr.ip().is_loopback() && !target_is_local {
        say(format!(
            "  note: pointing the client at localhost changes the failure itself: Kerberos asks for TERMSRV/localhost (and falls back to NTLM), and the host's certificate will not match the name. To keep the real name {}, map it to 127.0.0.x in the hosts file and listen there on 3389 (see README, \"Keeping the host's name\").",
            cfg.target.host
        ));
    }
    if let (Some(i), None) = (&cfg.intercept, cfg.gateway) {
        say(format!(
            "  intercepting TLS with the local CA in {} (clients must trust it: `rdptap ca show` prints how)",
            i.ca_dir.display()
        ));
        if i.mirror {
            say("  rdptap's certificate mirrors the host's certificate problems (expired, wrong name, untrusted), so the client warns or refuses as it would without rdptap (--no-mirror turns this off)");
        } else {
            say("  --no-mirror: interception hides the host's own certificate problems from the client; rdptap reports them instead");
        }
        if i.nla == NlaPolicy::Downgrade {
            say("  WARNING: --nla downgrade is on (lab use only): NLA is removed from every client's request, so the host shows its logon screen before anyone authenticates and credentials travel inside the session instead of CredSSP");
        } else {
            say("  NLA connections are relayed untouched (--nla passthrough): CredSSP binds the host's own TLS key");
        }
        if let Some(k) = &i.keylog {
            say(format!("  WARNING: TLS keys are written to {} — anyone with this file and a capture can read the sessions, passwords typed at a logon screen included", k.display()));
        }
        if i.strict_upstream {
            say("  --strict-upstream: hosts whose certificate has any problem are refused");
        }
    }
    if let Some(c) = &cfg.capture {
        let where_ = if c.split {
            format!(
                "{} (one file per connection)",
                crate::record::capture::split_path(&c.path, 1)
                    .display()
                    .to_string()
                    .replace("-conn1", "-connN")
            )
        } else {
            c.path.display().to_string()
        };
        say(format!(
            "  packet capture: {where_} (pcapng; queue {} MiB, {} when full)",
            c.queue_bytes >> 20,
            c.overflow
        ));
        if c.redact {
            say("  secrets (Authorization, passwords, cookies, keystrokes, clipboard) are scrubbed from the decrypted flows; --no-redact keeps them");
            if c.redact_users {
                say("  user and domain names are hidden in the trace too (--redact-users)");
            }
        } else {
            say("  WARNING: --no-redact: the trace keeps passwords, authentication tokens, cookies, keystrokes and clipboard contents; do not send it to anyone");
            if cfg.redact_users {
                say("  WARNING: --redact-users with --no-redact: user names are hidden in the events and the report, but the trace keeps them");
            }
        }
        let keylog = cfg.intercept.as_ref().and_then(|i| i.keylog.as_ref());
        if c.keys {
            say("  WARNING: --pcap-keys: the trace holds the TLS keys, so anyone with it can decrypt the raw legs, secrets included: redaction covers only the decrypted flows");
        } else if c.redact && keylog.is_some() {
            say("  WARNING: --keylog with --pcap: the key log decrypts the trace's raw legs, and redaction cannot reach them; keep the key log out of anything you send");
        }
    }
    match &cfg.events {
        Some(jsonl::Target::Stdout) => say("  events: standard output (JSON Lines)"),
        Some(jsonl::Target::File { path, append }) => say(format!(
            "  events: {} ({})",
            path.display(),
            if *append { "appending" } else { "truncated" }
        )),
        None => {}
    }
}

/// How the target shows in a trace's interface description.
pub fn info_desc(cfg: &ProxyConfig) -> String {
    if cfg.gateway.is_some() {
        format!("gateway {}", cfg.target)
    } else {
        cfg.target.to_string()
    }
}

/// The line printed when the proxy stops.
pub fn print_summary(t: &Tally) {
    let parts: Vec<String> = t.by_cause.iter().map(|(c, n)| format!("{c} {n}")).collect();
    say(format!(
        "rdptap stopped: {} connection{} seen{}",
        t.total,
        if t.total == 1 { "" } else { "s" },
        if parts.is_empty() {
            String::new()
        } else {
            format!("; verdicts: {}", parts.join(", "))
        }
    ));
}
