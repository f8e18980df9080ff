//! The sans-IO tracker of one connection: timestamps, the bytes of each direction and
//! transport facts go in; events and, at the end, the verdict come out.
//!
//! It holds no sockets, no runtime, no lock and no clock. Every input carries `at`, the
//! time since the connection began, given by whoever drives it: the live proxy (from its
//! monotonic clock), `analyze` (from capture timestamps) or a test (a hand-made
//! timeline). The same tracker therefore gives the same verdict to the same traffic, live
//! or recorded.
//!
//! Direct RDP and RD Gateway connections are two implementations of [`Tracker`], so
//! nothing outside asks which mode it is in.

mod core;
mod direct;
mod gateway;

pub use direct::DirectTracker;
pub use gateway::{GatewayTracker, Tunnels};

use crate::decode::note::Note;
use crate::session::event::{Event, Source};
use crate::session::Verdict;
use crate::vocab::{ConnectError, Dir, StreamEnd};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Fixed facts about one connection.
#[derive(Debug, Clone)]
pub struct ConnInfo {
    /// Connection number, from 1.
    pub id: u64,
    /// The host's name, as certificates should carry it.
    pub target_name: String,
    /// How to show the host in messages (name and address).
    pub target_desc: String,
    /// The linger time in force.
    pub linger: Duration,
    /// Hide user and domain names (and the mstshash cookie) in every output.
    pub redact_users: bool,
    /// Roots for judging the host's certificate.
    pub roots: Arc<rustls::RootCertStore>,
    /// When the connection began on the wall clock. Certificate dates are judged against
    /// it (plus `at`): a capture is judged as of the day it was taken.
    pub wall_start: SystemTime,
    /// Whether the traffic is relayed live or read from a capture.
    pub source: Source,
    /// When the connection began, counted from a start shared by every connection of the
    /// run (the proxy's start, or the capture's first packet), so that the channels of one
    /// gateway session can be put on one timeline.
    pub start_offset: Duration,
}

/// What the transport tells the tracker, besides bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// A client connected.
    Accepted {
        /// The client's address.
        client: String,
        /// The address it connected to.
        listen: String,
    },
    /// The connection to the host was made.
    Connected {
        /// The host's address.
        addr: String,
        /// How long the connect took.
        connect_ms: f64,
    },
    /// The connection to the host could not be made.
    ConnectFailed(ConnectError),
    /// Something the relay did or learned while intercepting TLS.
    Note(Note),
    /// One direction's stream ended.
    Ended(Dir, StreamEnd),
}

/// Plaintext one side sent through an intercepted (or decrypted) connection.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct PlainSeen {
    /// Bytes of plaintext.
    pub bytes: u64,
    /// When the first plaintext byte came, since the client connected.
    pub first_at: Option<Duration>,
}

/// What a finished connection leaves behind.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The connection's verdict.
    pub verdict: Verdict,
    /// The verdict on the whole gateway session, when this connection was its last.
    pub session: Option<SessionVerdict>,
    /// This connection belongs to a gateway session that other connections still hold
    /// open: the session's verdict comes with the last of them.
    pub session_open: bool,
}

/// The verdict on a gateway session: every connection with one `RDG-Connection-Id`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionVerdict {
    /// The `RDG-Connection-Id` (or `conn-N` for a connection without one).
    pub key: String,
    /// The verdict.
    pub verdict: Verdict,
}

/// One connection's tracker.
pub trait Tracker: Send {
    /// A transport fact at `at`.
    fn fact(&mut self, at: Duration, fact: Fact);
    /// Bytes that crossed the wire in `dir`, in order.
    fn bytes(&mut self, at: Duration, dir: Dir, chunk: &[u8]);
    /// Decrypted bytes travelling in `dir`, when rdptap terminates (or decrypts) the TLS.
    fn plain(&mut self, at: Duration, dir: Dir, chunk: &[u8]);
    /// The next event, in order.
    fn poll_event(&mut self) -> Option<Event>;
    /// The connection is over: diagnose it. Its verdict events follow in
    /// [`Tracker::poll_event`].
    fn finish(&mut self, at: Duration) -> Finished;
}

#[cfg(test)]
mod direct_tests;
#[cfg(test)]
mod gateway_tests;
