//! Drives a session tracker through a script, as the live proxy or `analyze` would:
//! the opening facts, the bytes, each direction's end, the verdict; and checks that
//! every event it writes reads back.

use crate::Chunk;
use rdptap::decode::note::Note;
use rdptap::session::event::{EventLine, Source};
use rdptap::session::tracker::{ConnInfo, Fact, Tracker};
use rdptap::vocab::{Dir, EndKind, StreamEnd};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};
use time::OffsetDateTime;

/// The facts of the one connection a fuzz input is about.
pub fn conn_info() -> ConnInfo {
    ConnInfo {
        id: 1,
        target_name: "host.example".into(),
        target_desc: "host.example (127.0.0.1:3389)".into(),
        linger: Duration::from_secs(5),
        redact_users: false,
        roots: Arc::new(rustls::RootCertStore::empty()),
        // A fixed day: the same input judges certificates the same way every run.
        wall_start: UNIX_EPOCH + Duration::from_secs(1_765_000_000),
        source: Source::Proxy,
        start_offset: Duration::ZERO,
    }
}

/// How a direction ends, picked by a chunk's spare bits.
fn end_kind(spare: u8) -> EndKind {
    match spare % 6 {
        0 => EndKind::Fin,
        1 => EndKind::Rst,
        2 => EndKind::Linger,
        3 => EndKind::IdleTimeout,
        4 => EndKind::WriteFailed {
            reset: true,
            error: "connection reset".into(),
        },
        _ => EndKind::CaptureEnded,
    }
}

/// Feeds `chunks` to `t` as wire bytes (`plain` false) or decrypted bytes (`plain`
/// true), ends each direction where the script says, and finishes the connection.
pub fn tracker(t: &mut dyn Tracker, chunks: &[Chunk<'_>], plain: bool) {
    let mut at = Duration::ZERO;
    t.fact(
        at,
        Fact::Accepted {
            client: "127.0.0.1:50000".into(),
            listen: "127.0.0.1:13389".into(),
        },
    );
    t.fact(
        at,
        Fact::Connected {
            addr: "127.0.0.1:3389".into(),
            connect_ms: 0.4,
        },
    );
    if plain {
        // What the relay (or analyze's decryptor) says once it reads the plaintext: the
        // tracker decodes plaintext only after it.
        let note = Note::Decrypted {
            version: None,
            cipher_suite: None,
        };
        t.fact(at, Fact::Note(note));
    }
    let mut bytes = [0u64; 2];
    let mut ended = [false; 2];
    for c in chunks {
        // The spare bits also move the clock, so the time rules (linger, silence)
        // see gaps of up to a minute.
        at += Duration::from_millis(u64::from(c.spare) * 1_000 + 1);
        let i = c.dir.idx();
        if ended[i] {
            continue;
        }
        if plain {
            t.plain(at, c.dir, c.data);
        } else {
            t.bytes(at, c.dir, c.data);
        }
        bytes[i] += c.data.len() as u64;
        if c.end {
            ended[i] = true;
            let end = StreamEnd {
                kind: end_kind(c.spare),
                after: at,
                bytes: bytes[i],
            };
            t.fact(at, Fact::Ended(c.dir, end));
        }
        drain(t);
    }
    for d in [Dir::C2S, Dir::S2C] {
        if !ended[d.idx()] {
            let end = StreamEnd {
                kind: EndKind::Fin,
                after: at,
                bytes: bytes[d.idx()],
            };
            t.fact(at, Fact::Ended(d, end));
        }
    }
    let done = t.finish(at + Duration::from_millis(1));
    let _ = serde_json::to_string(&done.verdict).expect("a verdict serialises");
    drain(t);
}

/// Takes every event out, writes it as a JSON line and reads it back.
fn drain(t: &mut dyn Tracker) {
    while let Some(ev) = t.poll_event() {
        let line = EventLine {
            ts: time_at(ev.at),
            conn: 1,
            source: None,
            event: ev,
        };
        let json = serde_json::to_string(&line).expect("every event serialises");
        if let Err(e) = EventLine::from_json(&json) {
            panic!("an event rdptap wrote does not read back: {e}\n{json}");
        }
    }
}

fn time_at(at: Duration) -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH + at
}
