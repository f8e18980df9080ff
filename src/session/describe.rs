//! One line in plain English for each timeline entry: what the console logs and what
//! the packet capture writes as a packet comment.

use crate::cert::CertProblem;
use crate::session::{diagnose, TcpEvent, What};
use crate::vocab::FarEnd;

/// The entry in plain English, for a connection to the host.
pub fn describe(what: &What) -> String {
    describe_for(what, FarEnd::Host)
}

/// The entry in plain English, naming what rdptap relays to as `far`.
pub fn describe_for(what: &What, far: FarEnd) -> String {
    match what {
        What::Decoded(d) => diagnose::describe(d),
        What::Phase(p) => format!("phase: {p}"),
        What::Note(n) => n.describe_for(far),
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
