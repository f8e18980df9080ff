//! One connection's outcome through rdptap, gathered for assertions that print
//! everything (verdict, events, client and server logs) when they fail.

#![allow(dead_code)]

use super::proxy::Proxy;
use super::ClientOutput;
use serde_json::Value;
use std::time::Duration;

/// rdptap writes the verdict once both directions have ended; with `--linger 1s` that is
/// at most about a second after the first side closes.
pub const VERDICT_TIMEOUT: Duration = Duration::from_secs(15);
/// Bound for one xfreerdp run through the proxy. Every run here finishes in about 2 s.
pub const CLIENT_RUN: Duration = Duration::from_secs(20);

/// One connection through rdptap, with everything needed to explain a failed assertion.
pub struct Run {
    pub verdict: Value,
    pub events: Vec<Value>,
    pub client: Option<ClientOutput>,
    pub server_log: String,
    pub console: String,
}

impl Run {
    /// Collect the first connection's verdict and events from `proxy`.
    pub fn collect(
        proxy: &Proxy,
        client: Option<ClientOutput>,
        server_log: impl Fn() -> String,
    ) -> Run {
        let verdict = proxy.first_verdict(VERDICT_TIMEOUT);
        let conn = verdict["conn"].as_u64().unwrap_or(1);
        Run {
            events: proxy.events_of(conn),
            verdict,
            client,
            server_log: server_log(),
            console: proxy.stderr_text(),
        }
    }

    pub fn str(&self, field: &str) -> &str {
        self.verdict[field].as_str().unwrap_or("")
    }

    pub fn cause(&self) -> &str {
        self.str("cause")
    }

    pub fn summary(&self) -> &str {
        self.str("summary")
    }

    pub fn inferred(&self) -> Option<bool> {
        self.verdict["inferred"].as_bool()
    }

    /// Events of one kind, in order.
    pub fn of_kind(&self, kind: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["kind"] == kind).collect()
    }

    pub fn one(&self, kind: &str) -> &Value {
        let found = self.of_kind(kind);
        assert_eq!(found.len(), 1, "expected one {kind} event\n{self}");
        found[0]
    }

    pub fn warning_causes(&self) -> Vec<&str> {
        self.verdict["warnings"]
            .as_array()
            .map(|w| w.iter().filter_map(|x| x["cause"].as_str()).collect())
            .unwrap_or_default()
    }

    /// The protocol names the Connection Confirm selected, e.g. `["SSL"]`.
    pub fn selected_protocol(&self) -> Vec<String> {
        names(&self.one("connection_confirm")["selected_protocol"])
    }

    /// Cause, phase, who closed and how, all at once so a mismatch shows all four.
    pub fn expect(&self, cause: &str, phase: &str, closed_by: &str, close_kind: &str) {
        let got = (
            self.cause(),
            self.str("phase"),
            self.str("closed_by"),
            self.str("close_kind"),
        );
        assert_eq!(
            got,
            (cause, phase, closed_by, close_kind),
            "(cause, phase, closed_by, close_kind)\n{self}"
        );
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "--- verdict ---\n{:#}", self.verdict)?;
        writeln!(f, "--- events ---")?;
        for e in &self.events {
            writeln!(f, "{e}")?;
        }
        if let Some(c) = &self.client {
            writeln!(
                f,
                "--- client: exit {:?}, timed out {}, {:?} ---\n{}",
                c.code, c.timed_out, c.elapsed, c.log
            )?;
        }
        writeln!(f, "--- server log ---\n{}", self.server_log)?;
        write!(f, "--- rdptap console ---\n{}", self.console)
    }
}

pub fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
