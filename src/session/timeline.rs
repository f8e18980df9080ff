//! A connection's timeline: its events with their times and directions, in order,
//! bounded per kind of event (see [`Timeline`]).

use crate::cert::CertProblem;
use crate::decode::note::Note;
use crate::decode::DecodeEvent;
use crate::session::kind::KindKey;
use crate::session::Phase;
use crate::vocab::{ConnectError, StreamEnd};
use crate::vocab::{Dir, Layer};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, VecDeque};
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
    /// In a gateway session's merged timeline: an entry of a channel's direction that
    /// carries none of the tunnel (the HTTP transport's IN response, OUT request), so
    /// its end is not where the tunnel's stream that way ended.
    pub back_channel: bool,
}

/// How many entries of each kind (per direction) a timeline keeps from the start.
pub const KEEP_FIRST: usize = 32;
/// How many of the latest entries of each kind it keeps too; those between the first
/// and the latest are only counted. Together they cover the 64 records per direction
/// the TLS decoder reports, and the 64 events of each limited kind (see
/// [`crate::decode::limits`]), so only kinds without a limit ever lose entries.
pub const KEEP_LAST: usize = 32;

/// A connection's timeline, bounded: of each kind of entry (see [`KindKey`]) it keeps
/// the first [`KEEP_FIRST`] and the latest [`KEEP_LAST`], and counts the rest. A peer
/// that repeats one message forever therefore costs a fixed amount of memory, while the
/// verdict still sees how each kind began and how it ended. Kept entries keep the
/// sequence numbers they were given, which are the ones the event file shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timeline {
    /// The kept entries, by sequence number.
    entries: BTreeMap<usize, Entry>,
    /// The sequence number of the next entry.
    next: usize,
    /// What is kept and counted of each kind.
    kinds: HashMap<KindKey, Kept>,
}

/// One kind's share of a timeline.
#[derive(Debug, Clone, Default, PartialEq)]
struct Kept {
    /// Its first entry, which is always kept, so the kind can be recognised.
    first: usize,
    /// Entries pushed.
    pushed: u64,
    /// Entries only counted (never pushed): past a decoder limit, or lost in a merge.
    counted: u64,
    /// The latest entries kept after the first [`KEEP_FIRST`], oldest first.
    tail: VecDeque<usize>,
}

impl Kept {
    /// Entries of the kind that are not in the timeline.
    fn unkept(&self) -> u64 {
        let kept = self.pushed.min(KEEP_FIRST as u64) + self.tail.len() as u64;
        self.pushed + self.counted - kept
    }
}

impl Timeline {
    /// Appends an entry and returns its sequence number. The oldest of the latest
    /// entries of its kind may leave the timeline to make room.
    pub fn push(&mut self, at: Duration, dir: Option<Dir>, what: What) -> usize {
        self.push_entry(at, dir, what, false)
    }

    /// [`Timeline::push`] for a merge, which says whether the entry is of a
    /// [`Entry::back_channel`].
    pub fn push_entry(
        &mut self,
        at: Duration,
        dir: Option<Dir>,
        what: What,
        back_channel: bool,
    ) -> usize {
        let seq = self.next;
        self.next += 1;
        let k = self
            .kinds
            .entry(KindKey::of(dir, &what))
            .or_insert_with(|| Kept {
                first: seq,
                ..Kept::default()
            });
        k.pushed += 1;
        if k.pushed > KEEP_FIRST as u64 {
            k.tail.push_back(seq);
            if k.tail.len() > KEEP_LAST {
                if let Some(old) = k.tail.pop_front() {
                    self.entries.remove(&old);
                }
            }
        }
        self.entries.insert(
            seq,
            Entry {
                seq,
                at,
                dir,
                what,
                back_channel,
            },
        );
        seq
    }

    /// Counts an entry of kind `key` without keeping it (a decoder limit held it back).
    /// Returns false, counting nothing, when no entry of the kind is in the timeline to
    /// count it under.
    pub fn count_only(&mut self, key: KindKey) -> bool {
        match self.kinds.get_mut(&key) {
            Some(k) => {
                k.counted += 1;
                true
            }
            None => false,
        }
    }

    /// The kept entries, in order.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry> + '_ {
        self.entries.values()
    }

    /// The entry with sequence number `seq`, if it is kept.
    pub fn get(&self, seq: usize) -> Option<&Entry> {
        self.entries.get(&seq)
    }

    /// The sequence number the next entry gets: how many were pushed.
    pub fn next_seq(&self) -> usize {
        self.next
    }

    /// How many entries are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries of the kinds `is_kind` recognises (by their first entry) that are not
    /// kept: the ones a count must add to the entries it sees.
    pub fn unkept(&self, is_kind: impl Fn(&What) -> bool) -> u64 {
        self.kinds
            .values()
            .filter(|k| self.entries.get(&k.first).is_some_and(|e| is_kind(&e.what)))
            .map(Kept::unkept)
            .sum()
    }

    /// Adds what `other` counted but did not keep to this timeline's counts, kind by
    /// kind, after `other`'s kept entries were pushed here (a merge).
    pub fn absorb_unkept(&mut self, other: &Timeline) {
        for (key, k) in &other.kinds {
            let n = k.unkept();
            if n > 0 {
                if let Some(mine) = self.kinds.get_mut(key) {
                    mine.counted += n;
                }
            }
        }
    }

    /// Decoder events with their entries, in order.
    pub fn decoded(&self) -> impl Iterator<Item = (&Entry, &DecodeEvent)> {
        self.entries().filter_map(|e| match &e.what {
            What::Decoded(d) => Some((e, d)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Phase;

    fn alert() -> What {
        What::Decoded(DecodeEvent::Tls(crate::decode::tls::TlsEvent::Alert {
            level: crate::decode::tls::AlertLevel::WARNING,
            description: crate::decode::tls::AlertDescription::CLOSE_NOTIFY,
        }))
    }

    #[test]
    fn each_kind_keeps_its_first_and_latest_entries_under_their_own_numbers() {
        let mut t = Timeline::default();
        let ms = Duration::from_millis;
        t.push(ms(0), None, What::Phase(Phase::TcpConnect));
        for i in 0..1000 {
            t.push(ms(i), Some(Dir::S2C), alert());
            if i == 500 {
                t.push(ms(i), None, What::Phase(Phase::X224));
            }
        }
        assert_eq!(t.next_seq(), 1002);
        assert_eq!(t.len(), 2 + KEEP_FIRST + KEEP_LAST);
        // Numbers are the ones given at push, which the event file shows.
        let seqs: Vec<usize> = t.entries().map(|e| e.seq).collect();
        assert_eq!(&seqs[..3], &[0, 1, 2]);
        assert!(
            seqs.contains(&502),
            "the phase entered mid-flood is kept: {seqs:?}"
        );
        assert_eq!(seqs.last(), Some(&1001));
        assert!(
            t.get(500).is_none(),
            "the middle of the flood is only counted"
        );
        assert!(matches!(
            t.get(502).map(|e| &e.what),
            Some(What::Phase(Phase::X224))
        ));
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            t.unkept(|w| *w == alert()),
            1000 - (KEEP_FIRST + KEEP_LAST) as u64
        );
        // Only-counted entries add to the count.
        assert!(t.count_only(KindKey::of(Some(Dir::S2C), &alert())));
        assert!(!t.count_only(KindKey::of(Some(Dir::C2S), &alert())));
        assert_eq!(
            t.unkept(|w| *w == alert()),
            1001 - (KEEP_FIRST + KEEP_LAST) as u64
        );
    }
}
