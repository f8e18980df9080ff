//! Gateway sessions: the TCP connections that share one `RDG-Connection-Id` (the two
//! channels of the HTTP transport, or the one WebSocket connection) share one tunnel
//! decoder, and get one verdict together once the last of them ends.
//!
//! This is the session's state only; the driver that runs the trackers decides how it
//! is shared between them (see [`crate::session::tracker::Tunnels`]).

use crate::decode::gateway::GwTunnel;
use crate::session::{Entry, TcpEvent, Timeline, What};
use crate::vocab::Dir;
use std::time::Duration;

/// A finished member connection's record, kept for the session verdict.
#[derive(Debug, Clone)]
pub struct Deposit {
    /// The connection number.
    pub conn: u64,
    /// When the client connected, from the run's shared start.
    pub started: Duration,
    /// Its timeline.
    pub timeline: Timeline,
    /// The one direction of the tunnel the connection carries (an HTTP-transport
    /// channel: IN carries the client's, OUT the gateway's), or None for both.
    pub carries: Option<Dir>,
}

/// One gateway session.
#[derive(Debug, Default)]
pub struct GwSession {
    /// The sans-IO tunnel decoder (packet order, inner RDP).
    pub tunnel: GwTunnel,
    /// Connections linked to the session.
    joined: usize,
    /// Members that have ended.
    departed: usize,
    /// The ended members' records, folded into one as each member ends: a session
    /// keeps one bounded timeline however many connections join it.
    done: Option<Deposit>,
    /// The session verdict was written.
    pub reported: bool,
}

impl GwSession {
    /// A session before its first packet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one more member connection.
    pub fn join(&mut self) {
        self.joined += 1;
    }

    /// A member ended. When it was the last, the session is reported now and the
    /// members' record comes back (one, with every member's timeline merged in).
    pub fn depart(&mut self, d: Deposit) -> Option<Vec<Deposit>> {
        self.departed += 1;
        self.done = Some(match self.done.take() {
            None => d,
            Some(before) => fold(&[before, d]),
        });
        if self.departed >= self.joined && !self.reported {
            self.reported = true;
            self.done.take().map(|d| vec![d])
        } else {
            None
        }
    }
}

/// Several members' records as one: their timelines merged, under the first member's
/// number and start. Merging keeps of each kind the first and the latest entries of
/// all, so folding one member at a time keeps what one merge at the end would.
pub fn fold(done: &[Deposit]) -> Deposit {
    let (timeline, started) = merge(done);
    Deposit {
        conn: done.iter().map(|d| d.conn).min().unwrap_or_default(),
        started,
        timeline,
        // Each merged entry keeps its own mark.
        carries: None,
    }
}

/// The members' timelines merged in time order, renumbered, timed from the first
/// member's start (which comes back too). Stream ends are timed from there too, and
/// those of a channel's direction that carries none of the tunnel are marked
/// [`Entry::back_channel`]: which channel ends first is a race, and the back direction
/// of one (a gateway resetting an IN channel the client already closed) must not read
/// as the end of the tunnel's stream.
pub fn merge(done: &[Deposit]) -> (Timeline, Duration) {
    let base = done.iter().map(|d| d.started).min().unwrap_or_default();
    // (time from the session's start, member, entry), sorted by time then member.
    let mut all: Vec<(Duration, usize, &Entry)> = Vec::new();
    for (i, d) in done.iter().enumerate() {
        let offset = d.started.saturating_sub(base);
        for e in d.timeline.entries() {
            all.push((offset + e.at, i, e));
        }
    }
    all.sort_by_key(|(at, i, e)| (*at, done[*i].conn, e.seq));
    let mut t = Timeline::default();
    for (at, i, e) in all {
        let (offset, carries) = (done[i].started.saturating_sub(base), done[i].carries);
        let mut what = e.what.clone();
        let mut back = e.back_channel;
        if let What::Tcp(TcpEvent::StreamEnded { end }) = &mut what {
            end.after += offset;
            back |= carries.is_some_and(|c| e.dir.is_some_and(|d| d != c));
        }
        t.push_entry(at, e.dir, what, back);
    }
    for d in done {
        t.absorb_unkept(&d.timeline);
    }
    (t, base)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::gateway::GwEvent;
    use crate::decode::tsgu::packet::Packet;
    use crate::decode::DecodeEvent;
    use crate::session::timeline::{KEEP_FIRST, KEEP_LAST};
    use crate::session::What;
    use crate::vocab::Dir;

    fn keepalive() -> What {
        What::Decoded(DecodeEvent::Gw(GwEvent::TsguPacket {
            packet: Packet::Keepalive,
            len: 8,
        }))
    }

    fn member(conn: u64, keepalives: usize) -> Deposit {
        let mut t = Timeline::default();
        for i in 0..keepalives {
            t.push(Duration::from_millis(i as u64), Some(Dir::C2S), keepalive());
        }
        Deposit {
            conn,
            started: Duration::from_secs(conn),
            timeline: t,
            carries: None,
        }
    }

    fn ended(at_ms: u64, dir: Dir) -> (Duration, Option<Dir>, What) {
        let end = crate::vocab::StreamEnd {
            kind: crate::vocab::EndKind::Fin,
            after: Duration::from_millis(at_ms),
            bytes: 1,
        };
        let at = Duration::from_millis(at_ms);
        (at, Some(dir), What::Tcp(TcpEvent::StreamEnded { end }))
    }

    #[test]
    fn a_channels_back_direction_is_marked_and_ends_are_timed_from_the_session_start() {
        let channel = |conn: u64, start_ms: u64, carries: Dir| {
            let mut t = Timeline::default();
            for (at, dir, what) in [ended(10, Dir::C2S), ended(20, Dir::S2C)] {
                t.push(at, dir, what);
            }
            Deposit {
                conn,
                started: Duration::from_millis(start_ms),
                timeline: t,
                carries: Some(carries),
            }
        };
        let members = [channel(1, 1000, Dir::S2C), channel(2, 1005, Dir::C2S)];
        // Folded one at a time, then merged again, as the last member's finish does.
        let folded = fold(&[fold(&members[..1]), members[1].clone()]);
        let (t, base) = merge(&[folded]);
        assert_eq!(base, Duration::from_millis(1000));
        let ends: Vec<(u64, Dir, bool)> = t
            .entries()
            .filter_map(|e| match &e.what {
                What::Tcp(TcpEvent::StreamEnded { end }) => {
                    Some((end.after.as_millis() as u64, e.dir?, e.back_channel))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            ends,
            [
                (10, Dir::C2S, true),
                (15, Dir::C2S, false),
                (20, Dir::S2C, false),
                (25, Dir::S2C, true),
            ]
        );
    }

    #[test]
    fn many_members_leave_one_bounded_record_with_every_count() {
        let mut s = GwSession::new();
        let n = 200;
        for _ in 0..n {
            s.join();
        }
        for conn in 1..n as u64 {
            assert!(s.depart(member(conn, 100)).is_none());
            let kept = s.done.as_ref().map_or(0, |d| d.timeline.len());
            assert!(kept <= KEEP_FIRST + KEEP_LAST, "{kept} entries kept");
        }
        let done = s
            .depart(member(n as u64, 100))
            .expect("the last member reports");
        assert_eq!(done.len(), 1);
        let (t, base) = merge(&done);
        assert_eq!(base, Duration::from_secs(1));
        assert_eq!(t.len(), KEEP_FIRST + KEEP_LAST);
        let kept = t.entries().count() as u64;
        assert_eq!(kept + t.unkept(|w| *w == keepalive()), 100 * n as u64);
        // The first kept are the first member's, the last the last member's.
        assert_eq!(t.entries().next().map(|e| e.at), Some(Duration::ZERO));
        assert_eq!(
            t.entries().last().map(|e| e.at),
            Some(Duration::from_secs(n as u64 - 1) + Duration::from_millis(99))
        );
    }
}
