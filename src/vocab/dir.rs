//! Which way bytes travel, and the protocol layer an event belongs to.

use super::closed::closed_vocab;

closed_vocab! {
    /// Which way bytes travel through the proxy (or through a captured connection).
    pub enum Dir {
        /// Client to server (the client's bytes).
        C2S = ("c2s", "c2s"),
        /// Server to client (the server's bytes).
        S2C = ("s2c", "s2c"),
    }
}

impl Dir {
    /// The opposite direction.
    pub fn other(self) -> Dir {
        match self {
            Dir::C2S => Dir::S2C,
            Dir::S2C => Dir::C2S,
        }
    }

    /// Index 0 for c2s, 1 for s2c, for per-direction arrays.
    pub fn idx(self) -> usize {
        self as usize
    }

    /// The side that sends in this direction.
    pub fn sender(self) -> &'static str {
        match self {
            Dir::C2S => "client",
            Dir::S2C => "server",
        }
    }
}

closed_vocab! {
    /// The protocol layer an event belongs to.
    pub enum Layer {
        /// TCP and socket state, as seen by the relay or read from a capture.
        Tcp = ("tcp", "TCP"),
        /// TPKT/X.224 connection setup.
        X224 = ("x224", "X.224"),
        /// TLS records and handshake.
        Tls = ("tls", "TLS"),
        /// MCS/GCC (T.125), seen in the clear under standard RDP security or when intercepting.
        Mcs = ("mcs", "MCS"),
        /// RDP PDUs on the MCS I/O channel (Client Info, licensing, capabilities, errors).
        Rdp = ("rdp", "RDP"),
        /// RD Gateway HTTP: requests, responses, authentication and body framing.
        Http = ("http", "HTTP"),
        /// WebSocket frames (the RD Gateway WebSocket transport).
        Ws = ("ws", "WebSocket"),
        /// MS-TSGU packets: the RD Gateway tunnel.
        Tsgu = ("tsgu", "MS-TSGU"),
        /// The decoders themselves (a decoder gave up on a stream).
        Decoder = ("decoder", "decoder"),
        /// The per-connection session: phases and the verdict.
        Session = ("session", "session"),
        /// The packet capture (`--pcap`): packets left out, or the sink switched off.
        Capture = ("capture", "capture"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directions_index_and_flip() {
        assert_eq!(Dir::C2S.idx(), 0);
        assert_eq!(Dir::S2C.idx(), 1);
        assert_eq!(Dir::C2S.other(), Dir::S2C);
        assert_eq!(Dir::S2C.to_string(), "s2c");
        assert_eq!(Layer::X224.id(), "x224");
        assert_eq!(Layer::X224.to_string(), "X.224");
    }
}
