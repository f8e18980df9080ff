//! With `--pcap-keys`, a connection's raw TLS packets wait until its keys are in the
//! file. Wireshark reads a trace in one pass and learns a key only when it reaches its
//! Decryption Secrets Block, so the block must come before the records it decrypts; but
//! the keys exist only once each handshake has run, after its first packets were seen.

use std::time::{Duration, Instant};

/// Longest a connection's packets wait for keys that may never come (a handshake that
/// failed, or TLS rdptap does not terminate).
pub(super) const MAX_WAIT: Duration = Duration::from_secs(3);
/// Most bytes held for one connection before they are written anyway.
pub(super) const MAX_HELD: usize = 4 << 20;

/// What the key log has given for one client random.
#[derive(Debug, Default, Clone, Copy)]
struct Seen {
    client_random: bool,
    client_traffic: bool,
    server_traffic: bool,
}

/// Packets of one connection's raw legs, held until its traffic keys are written.
#[derive(Debug)]
pub(super) struct Hold {
    /// Whole blocks, in order.
    pub blocks: Vec<u8>,
    randoms: Vec<([u8; 32], Seen)>,
    since: Instant,
}

impl Hold {
    pub fn new() -> Hold {
        Hold {
            blocks: Vec::new(),
            randoms: Vec::new(),
            since: Instant::now(),
        }
    }

    /// A ClientHello with this random crossed one of the connection's legs.
    pub fn add_random(&mut self, r: [u8; 32]) {
        if !self.randoms.iter().any(|(x, _)| *x == r) {
            self.randoms.push((r, Seen::default()));
        }
    }

    /// A key log line for `r` was written.
    pub fn saw_key(&mut self, label: &str, r: [u8; 32]) {
        if let Some((_, s)) = self.randoms.iter_mut().find(|(x, _)| *x == r) {
            match label {
                "CLIENT_RANDOM" => s.client_random = true,
                "CLIENT_TRAFFIC_SECRET_0" => s.client_traffic = true,
                "SERVER_TRAFFIC_SECRET_0" => s.server_traffic = true,
                _ => {}
            }
        }
    }

    /// Every handshake on the connection has its application-data keys in the file
    /// (TLS 1.2: the master secret; TLS 1.3: both traffic secrets).
    pub fn complete(&self) -> bool {
        !self.randoms.is_empty()
            && self
                .randoms
                .iter()
                .all(|(_, s)| s.client_random || (s.client_traffic && s.server_traffic))
    }

    /// Waited long enough, or holds too much: write the packets without the keys.
    pub fn overdue(&self) -> bool {
        self.since.elapsed() >= MAX_WAIT || self.blocks.len() >= MAX_HELD
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_once_every_handshake_has_traffic_keys() {
        let mut h = Hold::new();
        assert!(!h.complete());
        h.add_random([1; 32]);
        h.add_random([2; 32]);
        h.saw_key("CLIENT_HANDSHAKE_TRAFFIC_SECRET", [1; 32]);
        h.saw_key("CLIENT_TRAFFIC_SECRET_0", [1; 32]);
        h.saw_key("SERVER_TRAFFIC_SECRET_0", [1; 32]);
        assert!(!h.complete());
        h.saw_key("CLIENT_RANDOM", [2; 32]);
        assert!(h.complete());
        h.saw_key("CLIENT_RANDOM", [9; 32]);
        assert!(h.complete());
        assert!(!h.overdue());
    }
}
