//! The two TCP legs rdptap stands between, as the packet capture names them.

/// One of the two TCP legs rdptap stands between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leg {
    /// Client ↔ rdptap.
    Client,
    /// rdptap ↔ host or gateway.
    Upstream,
}

impl Leg {
    /// The direction of bytes read from this leg (the other way for bytes written).
    pub fn read_dir(self) -> super::Dir {
        match self {
            Leg::Client => super::Dir::C2S,
            Leg::Upstream => super::Dir::S2C,
        }
    }
}

/// Which legs a chunk travelled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Legs {
    /// Read from one leg and written unchanged to the other.
    Both,
    /// Only one leg saw it.
    One(Leg),
    /// Neither: the bytes are captured elsewhere (under TLS interception, by the
    /// socket wrapper).
    Neither,
}

/// What rdptap relays to, for the words of its messages: the RDP host, or in gateway
/// mode the RD Gateway.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FarEnd {
    /// The RDP host (`--target`).
    #[default]
    Host,
    /// The RD Gateway (`--gateway`).
    Gateway,
}

impl FarEnd {
    /// "host" or "gateway".
    pub fn name(self) -> &'static str {
        match self {
            FarEnd::Host => "host",
            FarEnd::Gateway => "gateway",
        }
    }
}
