//! How one direction of a relayed stream ended.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// The way a direction's stream ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum EndKind {
    /// The sender closed its side in an orderly way (TCP FIN).
    Fin,
    /// The connection was reset (ECONNRESET on read or write).
    Rst,
    /// Another socket error ended the stream.
    Error {
        /// The error text.
        error: String,
    },
    /// The other side had closed and this side stayed silent for the linger time.
    Linger,
    /// Both sides were silent for the idle timeout.
    IdleTimeout,
    /// The client sent nothing within the first-byte timeout after connecting, so
    /// rdptap closed both directions.
    FirstByteTimeout,
    /// rdptap was asked to stop.
    Shutdown,
    /// rdptap closed it because the other direction was reset or could not be delivered.
    Aborted,
    /// Writing the stream's bytes onward failed: the receiving side went away.
    WriteFailed {
        /// True when the write failed with a reset.
        reset: bool,
        /// The error text.
        error: String,
    },
    /// The capture that `analyze` read ended while the stream was still open.
    CaptureEnded,
}

impl EndKind {
    /// True when the sender itself ended the stream (FIN or RST), not rdptap.
    pub fn by_peer(&self) -> bool {
        matches!(self, EndKind::Fin | EndKind::Rst | EndKind::Error { .. })
    }
}

impl fmt::Display for EndKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndKind::Fin => f.write_str("closed (FIN)"),
            EndKind::Rst => f.write_str("reset (RST)"),
            EndKind::Error { error } => write!(f, "failed: {error}"),
            EndKind::Linger => f.write_str("stayed silent until the linger time ran out"),
            EndKind::IdleTimeout => f.write_str("was idle past the idle timeout"),
            EndKind::FirstByteTimeout => f.write_str(
                "was closed by rdptap: the client sent nothing within the first-byte timeout",
            ),
            EndKind::Shutdown => f.write_str("was cut by rdptap shutting down"),
            EndKind::Aborted => f.write_str("was closed by rdptap after the other side failed"),
            EndKind::WriteFailed { reset: true, .. } => {
                f.write_str("could not be delivered: the receiver reset")
            }
            EndKind::WriteFailed { error, .. } => write!(f, "could not be delivered: {error}"),
            EndKind::CaptureEnded => f.write_str("was still open when the capture ended"),
        }
    }
}

/// The end of one direction: how, when (since the connection was accepted) and after how
/// many bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamEnd {
    /// How it ended.
    #[serde(flatten)]
    pub kind: EndKind,
    /// Time since the client connected.
    #[serde(serialize_with = "ser_ms", deserialize_with = "de_ms")]
    pub after: Duration,
    /// Bytes relayed in this direction before the end.
    pub bytes: u64,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64((d.as_secs_f64() * 1e6).round() / 1e3)
}

fn de_ms<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let ms = f64::deserialize(d)?;
    Ok(Duration::from_secs_f64((ms / 1e3).max(0.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_end_survives_the_json_boundary() {
        let e = StreamEnd {
            kind: EndKind::WriteFailed {
                reset: true,
                error: "broken pipe".into(),
            },
            after: Duration::from_micros(12_345),
            bytes: 77,
        };
        let j = serde_json::to_string(&e).unwrap();
        assert!(j.contains("\"how\":\"write_failed\""), "{j}");
        let back: StreamEnd = serde_json::from_str(&j).unwrap();
        assert_eq!(back, e);
    }
}
