//! A connection's timeline: every event with its time and direction, in order.

use crate::cert::CertProblem;
use crate::decode::note::Note;
use crate::decode::DecodeEvent;
use crate::session::Phase;
use crate::vocab::{ConnectError, StreamEnd};
use crate::vocab::{Dir, Layer};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Socket-level facts recorded by the session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TcpEvent {
    /// A client connected to rdptap.
    Accepted {
        /// The client's address.
        client: String,
        /// The address rdptap listened on.
        listen: String,
    },
    /// rdptap connected to the host.
    UpstreamConnected {
        /// The host address.
        addr: String,
        /// How long the connect took.
        connect_ms: f64,
    },
    /// rdptap could not connect to the host.
    UpstreamFailed {
        /// Why.
        #[serde(flatten)]
        error: ConnectError,
    },
    /// One direction's stream ended.
    StreamEnded {
        /// How, when and after how many bytes.
        #[serde(flatten)]
        end: StreamEnd,
    },
}

/// What a timeline entry records.
#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// A decoder event.
    Decoded(DecodeEvent),
    /// A socket fact.
    Tcp(TcpEvent),
    /// The connection entered a phase.
    Phase(Phase),
    /// The host's certificate was judged.
    CertAssessed(Vec<CertProblem>),
    /// The relay intercepted TLS (or chose not to) and said how it went.
    Note(Note),
}

impl What {
    /// The layer the entry belongs to.
    pub fn layer(&self) -> Layer {
        match self {
            What::Decoded(d) => d.layer(),
            What::Tcp(_) => Layer::Tcp,
            What::Phase(_) => Layer::Session,
            What::CertAssessed(_) => Layer::Tls,
            What::Note(n) => n.layer(),
        }
    }
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// 0-based position in the timeline, used to cite evidence.
    pub seq: usize,
    /// Time since the client connected.
    pub at: Duration,
    /// The direction, where the entry has one.
    pub dir: Option<Dir>,
    /// What happened.
    pub what: What,
}

/// All entries of one connection.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// The entries in the order they happened.
    pub entries: Vec<Entry>,
}

impl Timeline {
    /// Append an entry and return its sequence number.
    pub fn push(&mut self, at: Duration, dir: Option<Dir>, what: What) -> usize {
        let seq = self.entries.len();
        self.entries.push(Entry { seq, at, dir, what });
        seq
    }

    /// Decoder events with their entries, in order.
    pub fn decoded(&self) -> impl Iterator<Item = (&Entry, &DecodeEvent)> {
        self.entries.iter().filter_map(|e| match &e.what {
            What::Decoded(d) => Some((e, d)),
            _ => None,
        })
    }
}
