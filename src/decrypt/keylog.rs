//! NSS key log text (SSLKEYLOGFILE, rustls `KeyLogFile`, FreeRDP's secrets file, rdptap's
//! own `--keylog`): `LABEL <client_random hex> <secret hex>` lines, kept in a store keyed by
//! client random that can grow while a capture is read, because pcapng files carry key log
//! text in Decryption Secrets Blocks between packets.

use super::hex;
use std::collections::HashMap;
use std::fmt;
use std::io::{self, BufRead};
use std::path::Path;

/// Most secrets one `KeyLog` holds (about 100 bytes each), so a hostile file cannot
/// exhaust memory; lines past the cap are counted in `KeyLogStats::over_cap`.
pub const MAX_SECRETS: usize = 1_000_000;

/// Longest line `KeyLog` reads; real lines are under 250 bytes.
pub const MAX_LINE: usize = 1024;

/// Longest secret: a TLS 1.2 master secret or a SHA-384 TLS 1.3 traffic secret.
pub const MAX_SECRET_LEN: usize = 48;

/// The key log labels this decryptor uses; other labels are counted and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretLabel {
    /// `CLIENT_RANDOM`: the TLS 1.0–1.2 master secret.
    MasterSecret,
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET` (TLS 1.3).
    ClientHandshake,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET` (TLS 1.3).
    ServerHandshake,
    /// `CLIENT_TRAFFIC_SECRET_0` (TLS 1.3).
    ClientTraffic0,
    /// `SERVER_TRAFFIC_SECRET_0` (TLS 1.3).
    ServerTraffic0,
}

impl SecretLabel {
    /// Every label, in the order above.
    pub const ALL: [SecretLabel; 5] = [
        SecretLabel::MasterSecret,
        SecretLabel::ClientHandshake,
        SecretLabel::ServerHandshake,
        SecretLabel::ClientTraffic0,
        SecretLabel::ServerTraffic0,
    ];

    /// The label as written in the key log.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretLabel::MasterSecret => "CLIENT_RANDOM",
            SecretLabel::ClientHandshake => "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
            SecretLabel::ServerHandshake => "SERVER_HANDSHAKE_TRAFFIC_SECRET",
            SecretLabel::ClientTraffic0 => "CLIENT_TRAFFIC_SECRET_0",
            SecretLabel::ServerTraffic0 => "SERVER_TRAFFIC_SECRET_0",
        }
    }

    /// The label for this key log spelling, if it is one we use.
    pub fn parse(text: &[u8]) -> Option<SecretLabel> {
        SecretLabel::ALL
            .into_iter()
            .find(|l| l.as_str().as_bytes() == text)
    }

    /// Whether a secret of `len` bytes fits this label (48 for a master secret; 32 or 48,
    /// the SHA-256 or SHA-384 hash length, for TLS 1.3).
    fn fits(self, len: usize) -> bool {
        match self {
            SecretLabel::MasterSecret => len == 48,
            _ => len == 32 || len == 48,
        }
    }
}

impl fmt::Display for SecretLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One secret from the key log, stored inline (no allocation per entry).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    len: u8,
    bytes: [u8; MAX_SECRET_LEN],
}

impl Secret {
    /// A secret from its bytes, if it is no longer than `MAX_SECRET_LEN`.
    pub fn new(bytes: &[u8]) -> Option<Secret> {
        let mut s = Secret {
            len: u8::try_from(bytes.len()).ok()?,
            bytes: [0; MAX_SECRET_LEN],
        };
        s.bytes.get_mut(..bytes.len())?.copy_from_slice(bytes);
        Some(s)
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Secret {
    // Never print a secret by accident (logs, panics in tests).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.len)
    }
}

/// What reading key log text did, line by line (blank and `#` comment lines are not counted).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct KeyLogStats {
    /// Secrets stored for a client random and label not seen before.
    pub added: u64,
    /// Lines that repeated a client random and label; the later secret is kept.
    pub replaced: u64,
    /// Well-formed lines with a label this decryptor does not use (e.g. `EXPORTER_SECRET`).
    pub ignored_labels: u64,
    /// Lines that are not `LABEL <64 hex digits> <hex secret of a fitting length>`.
    pub malformed: u64,
    /// Secrets dropped because the store already held `MAX_SECRETS`.
    pub over_cap: u64,
}

impl KeyLogStats {
    fn add(&mut self, other: KeyLogStats) {
        self.added += other.added;
        self.replaced += other.replaced;
        self.ignored_labels += other.ignored_labels;
        self.malformed += other.malformed;
        self.over_cap += other.over_cap;
    }
}

impl fmt::Display for KeyLogStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} secrets added, {} replaced, {} lines with other labels ignored, \
             {} malformed lines skipped, {} secrets dropped over the cap of {}",
            self.added,
            self.replaced,
            self.ignored_labels,
            self.malformed,
            self.over_cap,
            MAX_SECRETS
        )
    }
}

/// Secrets from NSS key log text, keyed by client random and label; grows as text is added.
#[derive(Debug, Clone)]
pub struct KeyLog {
    secrets: HashMap<([u8; 32], SecretLabel), Secret>,
    limit: usize,
    stats: KeyLogStats,
}

impl Default for KeyLog {
    fn default() -> Self {
        KeyLog::new()
    }
}

/// How one line was taken.
enum Line {
    Blank,
    Added,
    Replaced,
    OtherLabel,
    Malformed,
    OverCap,
}

impl KeyLog {
    /// An empty key log holding at most `MAX_SECRETS` secrets.
    pub fn new() -> KeyLog {
        KeyLog::with_limit(MAX_SECRETS)
    }

    /// An empty key log holding at most `limit` secrets.
    pub fn with_limit(limit: usize) -> KeyLog {
        KeyLog {
            secrets: HashMap::new(),
            limit,
            stats: KeyLogStats::default(),
        }
    }

    /// Reads a key log file line by line (lines over `MAX_LINE` bytes count as malformed).
    pub fn load(path: &Path) -> io::Result<KeyLog> {
        let mut log = KeyLog::new();
        let mut reader = io::BufReader::new(std::fs::File::open(path)?);
        let mut line = Vec::with_capacity(256);
        while let Some(too_long) = read_line_bounded(&mut reader, &mut line)? {
            let mut stats = KeyLogStats::default();
            if too_long {
                stats.malformed += 1;
            } else {
                log.take_line(&line, &mut stats);
            }
            log.stats.add(stats);
        }
        Ok(log)
    }

    /// Adds key log text: whole lines, LF or CRLF; a last line without a newline counts.
    pub fn add_text(&mut self, text: &str) -> KeyLogStats {
        self.add_bytes(text.as_bytes())
    }

    /// Adds key log bytes, as `add_text` (a pcapng Decryption Secrets Block holds bytes).
    pub fn add_bytes(&mut self, bytes: &[u8]) -> KeyLogStats {
        let mut stats = KeyLogStats::default();
        for line in bytes.split(|&b| b == b'\n') {
            if line.len() > MAX_LINE {
                stats.malformed += 1;
            } else {
                self.take_line(line, &mut stats);
            }
        }
        self.stats.add(stats);
        stats
    }

    fn take_line(&mut self, line: &[u8], stats: &mut KeyLogStats) {
        match self.line(line) {
            Line::Blank => {}
            Line::Added => stats.added += 1,
            Line::Replaced => stats.replaced += 1,
            Line::OtherLabel => stats.ignored_labels += 1,
            Line::Malformed => stats.malformed += 1,
            Line::OverCap => stats.over_cap += 1,
        }
    }

    fn line(&mut self, line: &[u8]) -> Line {
        let line = line.trim_ascii();
        if line.is_empty() || line.starts_with(b"#") {
            return Line::Blank;
        }
        let mut fields = line
            .split(|b| b.is_ascii_whitespace())
            .filter(|f| !f.is_empty());
        let (Some(label), Some(random), Some(secret), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Line::Malformed;
        };
        let Some(label) = SecretLabel::parse(label) else {
            // Lines with other labels (RSA, EXPORTER_SECRET, early data) are valid NSS
            // with fields of their own lengths: only check they are hex.
            let hex = |f: &[u8]| f.len().is_multiple_of(2) && f.iter().all(u8::is_ascii_hexdigit);
            return if hex(random) && hex(secret) {
                Line::OtherLabel
            } else {
                Line::Malformed
            };
        };
        let mut client_random = [0u8; 32];
        if !hex::decode_into(random, &mut client_random) {
            return Line::Malformed;
        }
        let mut bytes = [0u8; MAX_SECRET_LEN];
        let len = secret.len() / 2;
        let Some(slot) = bytes.get_mut(..len) else {
            return Line::Malformed;
        };
        if !label.fits(len) || !hex::decode_into(secret, slot) {
            return Line::Malformed;
        }
        let Some(secret) = Secret::new(slot) else {
            return Line::Malformed;
        };
        let key = (client_random, label);
        if let Some(old) = self.secrets.get_mut(&key) {
            *old = secret;
            return Line::Replaced;
        }
        if self.secrets.len() >= self.limit {
            return Line::OverCap;
        }
        self.secrets.insert(key, secret);
        Line::Added
    }

    /// The secret logged for this client random and label.
    pub fn secret(&self, client_random: &[u8; 32], label: SecretLabel) -> Option<&Secret> {
        self.secrets.get(&(*client_random, label))
    }

    /// How many secrets are stored.
    pub fn len(&self) -> usize {
        self.secrets.len()
    }

    /// Whether no secret is stored.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Totals over everything added so far.
    pub fn stats(&self) -> KeyLogStats {
        self.stats
    }
}

/// Reads one line into `line` without its newline; `Some(true)` if it was longer than
/// `MAX_LINE` (the rest is skipped, never buffered), `None` at end of file.
fn read_line_bounded(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Option<bool>> {
    line.clear();
    let mut too_long = false;
    let mut any = false;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(any.then_some(too_long));
        }
        any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], i + 1),
            None => (buf, buf.len()),
        };
        if line.len() + chunk.len() > MAX_LINE {
            too_long = true;
        } else if !too_long {
            line.extend_from_slice(chunk);
        }
        let newline = done > chunk.len();
        reader.consume(done);
        if newline {
            return Ok(Some(too_long));
        }
    }
}
