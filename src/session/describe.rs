//! One line in plain English for each timeline entry: what the console logs and what
//! the packet capture writes as a packet comment.

use crate::cert::CertProblem;
use crate::session::{diagnose, TcpEvent, What};

/// The entry in plain English.
pub fn describe(what: &What) -> String {
    match what {
        What::Decoded(d) => diagnose::describe(d),
        What::Phase(p) => format!("phase: {p}"),
        What::Note(n) => n.describe(),
        What::CertAssessed(p) if p.is_empty() => "certificate: no problems found".into(),
        What::CertAssessed(p) => {
            let v: Vec<String> = p.iter().map(CertProblem::to_string).collect();
            format!("certificate: {}", v.join("; "))
        }
        What::Tcp(TcpEvent::Accepted { client, .. }) => format!("client {client} connected"),
        What::Tcp(TcpEvent::UpstreamConnected { addr, connect_ms }) => {
            format!("connected to {addr} in {connect_ms:.1} ms")
        }
        What::Tcp(TcpEvent::UpstreamFailed { error }) => format!("upstream: {error}"),
        What::Tcp(TcpEvent::StreamEnded { end }) => {
            format!("stream {} after {} bytes", end.kind, end.bytes)
        }
    }
}
