//! What one soak session does, decided from its number alone, so the client and the
//! upstream (which meet only through rdptap) derive the same plan: its kind (healthy or
//! one of the faults), its rounds of messages, and the bytes of every message.
//!
//! The client names its session in the X.224 Connection Request's routing cookie
//! (`Cookie: mstshash=soak-K-ID`, in the real fixture's request), which is how the
//! upstream behind rdptap learns which session an accepted connection belongs to.

use std::time::Duration;

/// What a session is: healthy, or one of the faults the issue lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Kind {
    /// RDP-shaped opening, rounds of messages checked byte for byte, orderly close.
    Healthy,
    /// The upstream's port is closed when rdptap dials it.
    Refuse,
    /// The upstream resets (SO_LINGER 0, close) in the middle of a reply.
    Reset,
    /// The upstream accepts and reads the request, and never answers.
    Hang,
    /// The client sends its Connection Request one byte every few seconds.
    Slowloris,
    /// The client stops reading while the upstream pushes data.
    ZeroWindow,
    /// The client sends random bytes instead of a Connection Request.
    Garbage,
    /// The client shuts its write side after some rounds and reads the last reply.
    HalfClose,
    /// The client closes right after connecting.
    EarlyClose,
}

impl Kind {
    /// Every fault, in report order.
    pub(crate) const FAULTS: [Kind; 8] = [
        Kind::Refuse,
        Kind::Reset,
        Kind::Hang,
        Kind::Slowloris,
        Kind::ZeroWindow,
        Kind::Garbage,
        Kind::HalfClose,
        Kind::EarlyClose,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Healthy => "healthy",
            Kind::Refuse => "refuse",
            Kind::Reset => "reset mid-stream",
            Kind::Hang => "hang",
            Kind::Slowloris => "slowloris",
            Kind::ZeroWindow => "zero window",
            Kind::Garbage => "garbage",
            Kind::HalfClose => "half-close",
            Kind::EarlyClose => "early close",
        }
    }

    fn letter(self) -> char {
        match self {
            Kind::Healthy => 'h',
            Kind::Refuse => 'f',
            Kind::Reset => 'r',
            Kind::Hang => 'g',
            Kind::Slowloris => 's',
            Kind::ZeroWindow => 'z',
            Kind::Garbage => 'x',
            Kind::HalfClose => 'c',
            Kind::EarlyClose => 'e',
        }
    }

    fn from_letter(c: u8) -> Option<Kind> {
        std::iter::once(Kind::Healthy)
            .chain(Kind::FAULTS)
            .find(|k| k.letter() as u8 == c)
    }
}

/// One exchange: the client's message, then the upstream's reply, then a pause.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Round {
    /// Payload bytes the client sends.
    pub(crate) up: usize,
    /// Payload bytes the upstream answers.
    pub(crate) down: usize,
    /// The client's pause after the reply, as a user's think time.
    pub(crate) think: Duration,
}

/// Everything both ends need to know about one session.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) id: u64,
    pub(crate) kind: Kind,
    pub(crate) rounds: Vec<Round>,
    /// Reset: the round whose reply is cut by the reset. Half-close: the payload of the
    /// upstream's last message, sent after the client's FIN.
    pub(crate) last: usize,
}

/// How long healthy sessions last, roughly: the sum of their think times.
pub(crate) const HEALTHY_SECS: (u64, u64) = (4, 16);

impl Plan {
    pub(crate) fn new(id: u64, kind: Kind) -> Plan {
        let mut r = Rng::new(id ^ 0x5eed_0f5e);
        let n = match kind {
            Kind::Healthy => {
                // Rounds until the think times reach this session's length.
                let ms = r.range(HEALTHY_SECS.0 * 1000, HEALTHY_SECS.1 * 1000);
                let mut rounds = Vec::new();
                let mut total = 0;
                while total < ms {
                    let round = round(&mut r);
                    total += round.think.as_millis() as u64;
                    rounds.push(round);
                }
                return Plan {
                    id,
                    kind,
                    rounds,
                    last: 0,
                };
            }
            Kind::Reset => r.range(1, 4) as usize,
            Kind::HalfClose => r.range(2, 5) as usize,
            _ => 0,
        };
        let rounds: Vec<Round> = (0..n).map(|_| round(&mut r)).collect();
        let last = match kind {
            // The reply of the last round is cut.
            Kind::Reset => n - 1,
            Kind::HalfClose => size_down(&mut r),
            _ => 0,
        };
        Plan {
            id,
            kind,
            rounds,
            last,
        }
    }

    /// The session's name in the routing cookie.
    pub(crate) fn token(&self) -> String {
        format!("soak-{}-{}", self.kind.letter(), self.id)
    }

    /// The byte streams of the two directions.
    pub(crate) fn streams(&self) -> (Gen, Gen) {
        (Gen::new(self.id, 1), Gen::new(self.id, 2))
    }
}

fn round(r: &mut Rng) -> Round {
    // RDP-shaped: small input from the client, screen updates of all sizes back.
    let up = match r.range(0, 100) {
        0..=69 => r.range(16, 256),
        70..=94 => r.range(256, 2048),
        _ => r.range(2048, 16384),
    } as usize;
    Round {
        up,
        down: size_down(r),
        think: Duration::from_millis(r.range(100, 900)),
    }
}

fn size_down(r: &mut Rng) -> usize {
    (match r.range(0, 100) {
        0..=59 => r.range(64, 1024),
        60..=89 => r.range(1024, 16384),
        _ => r.range(16384, 131072),
    }) as usize
}

/// Reads `soak-K-ID` back from a Connection Request.
pub(crate) fn parse_token(cr: &[u8]) -> Option<(Kind, u64)> {
    const KEY: &[u8] = b"mstshash=soak-";
    let at = cr.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let rest = &cr[at..];
    let kind = Kind::from_letter(*rest.first()?)?;
    let digits = rest.get(2..)?;
    let end = digits.iter().position(|b| !b.is_ascii_digit())?;
    let id = std::str::from_utf8(&digits[..end]).ok()?.parse().ok()?;
    Some((kind, id))
}

/// The fixture's Connection Request with its cookie value replaced by `token`, and the
/// TPKT and X.224 lengths fixed to match.
pub(crate) fn request_with(cr: &[u8], token: &str) -> Option<Vec<u8>> {
    const KEY: &[u8] = b"mstshash=";
    let start = cr.windows(KEY.len()).position(|w| w == KEY)? + KEY.len();
    let end = start + cr[start..].windows(2).position(|w| w == b"\r\n")?;
    let mut v = Vec::with_capacity(cr.len() + token.len());
    v.extend_from_slice(&cr[..start]);
    v.extend_from_slice(token.as_bytes());
    v.extend_from_slice(&cr[end..]);
    let len = u16::try_from(v.len()).ok()?;
    v[2..4].copy_from_slice(&len.to_be_bytes());
    // The X.224 length indicator counts the bytes after itself.
    v[4] = u8::try_from(v.len() - 5).ok()?;
    Some(v)
}

// ---------------------------------------------------------------- bytes

/// splitmix64: decorrelates nearby seeds (session numbers are consecutive).
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A small deterministic generator for plan choices.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(mix(seed))
    }

    fn next(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }

    /// A number in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

/// One direction's pseudo-random payload (xorshift64*), the same on both ends.
#[derive(Debug, Clone)]
pub(crate) struct Gen(u64);

impl Gen {
    fn new(id: u64, dir: u64) -> Gen {
        Gen(mix(id.wrapping_mul(4).wrapping_add(dir)) | 1)
    }

    fn word(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Appends the next `n` bytes of this direction's stream.
    pub(crate) fn take(&mut self, n: usize, out: &mut Vec<u8>) {
        out.reserve(n);
        let mut left = n;
        while left > 0 {
            let w = self.word().to_le_bytes();
            let k = left.min(8);
            out.extend_from_slice(&w[..k]);
            left -= k;
        }
    }
}

/// TLS application-data records, as RDP over TLS looks on the wire: what rdptap's
/// decoders follow in passthrough.
const RECORD: usize = 16 * 1024;
/// Largest fast-path PDU (a 15-bit length).
const FASTPATH: usize = 0x7fff - 3;

/// How a message's payload is framed on the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// TLS application-data records: the stream rdptap relays untouched.
    Records,
    /// Fast-path PDUs: the plaintext inside a real TLS session that rdptap decrypts.
    FastPath,
}

impl Framing {
    /// The wire bytes of a message with `n` payload bytes drawn from `g`.
    pub(crate) fn message(self, g: &mut Gen, n: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(n + 8 * (n / 1024 + 1));
        let mut left = n.max(1);
        while left > 0 {
            match self {
                Framing::Records => {
                    let k = left.min(RECORD);
                    v.extend_from_slice(&[0x17, 0x03, 0x03]);
                    v.extend_from_slice(&(k as u16).to_be_bytes());
                    g.take(k, &mut v);
                    left -= k;
                }
                Framing::FastPath => {
                    let k = left.min(FASTPATH);
                    // Action 0 (fast-path), no encryption flags; a two-byte length
                    // that counts the whole PDU.
                    v.push(0x00);
                    v.extend_from_slice(&(0x8000 | (k as u16 + 3)).to_be_bytes());
                    g.take(k, &mut v);
                    left -= k;
                }
            }
        }
        v
    }

    /// The message that ends a session in an orderly way: a record the size of an
    /// encrypted close_notify in passthrough; nothing inside real TLS, which has its own.
    pub(crate) fn goodbye(self, g: &mut Gen) -> Vec<u8> {
        match self {
            Framing::Records => {
                let mut v = vec![0x15, 0x03, 0x03, 0x00, 0x1a];
                g.take(0x1a, &mut v);
                v
            }
            Framing::FastPath => Vec::new(),
        }
    }
}

/// Payload a zero-window session's upstream pushes per write.
pub(crate) const PUSH_CHUNK: usize = 64 * 1024;
