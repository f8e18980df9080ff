//! Named constants of RDP connection setup (MS-RDPBCGR 2.2.1.1–2.2.1.2).

use serde::{Serialize, Serializer};
use std::fmt;

/// A set of RDP security protocols (requestedProtocols), or one selectedProtocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Protocols(pub u32);

impl Protocols {
    /// Standard RDP security (no TLS); the value 0.
    pub const RDP: Protocols = Protocols(0);
    /// TLS.
    pub const SSL: Protocols = Protocols(0x1);
    /// CredSSP (NLA) over TLS.
    pub const HYBRID: Protocols = Protocols(0x2);
    /// RDSTLS over TLS.
    pub const RDSTLS: Protocols = Protocols(0x4);
    /// CredSSP plus the Early User Authorization Result PDU.
    pub const HYBRID_EX: Protocols = Protocols(0x8);
    /// Entra ID (Azure AD) authentication over TLS.
    pub const RDSAAD: Protocols = Protocols(0x10);

    const NAMES: [(u32, &'static str); 5] = [
        (0x1, "SSL"),
        (0x2, "HYBRID"),
        (0x4, "RDSTLS"),
        (0x8, "HYBRID_EX"),
        (0x10, "RDSAAD"),
    ];

    /// True when every bit of `other` is set here (RDP, the empty set, is always contained).
    pub fn contains(self, other: Protocols) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when the protocol runs CredSSP (NLA): HYBRID or HYBRID_EX.
    pub fn is_nla(self) -> bool {
        self.0 & (Self::HYBRID.0 | Self::HYBRID_EX.0) != 0
    }

    /// True when the protocol starts TLS right after the X.224 exchange.
    pub fn uses_tls(self) -> bool {
        self.0 != 0
    }

    /// The protocol names, e.g. `["SSL", "HYBRID"]`; `["RDP"]` for zero.
    pub fn names(self) -> Vec<String> {
        if self.0 == 0 {
            return vec!["RDP".to_string()];
        }
        let mut out = Vec::new();
        let mut known = 0;
        for (bit, name) in Self::NAMES {
            if self.0 & bit != 0 {
                out.push(name.to_string());
                known |= bit;
            }
        }
        if self.0 & !known != 0 {
            out.push(format!("0x{:x}", self.0 & !known));
        }
        out
    }
}

impl fmt::Display for Protocols {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.names().join("|"))
    }
}

impl Serialize for Protocols {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(s)
    }
}

/// RDP_NEG_FAILURE failureCode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NegFailureCode {
    /// 1: the client offered only standard RDP security; the server demands TLS.
    SslRequiredByServer,
    /// 2: the server allows only standard RDP security.
    SslNotAllowedByServer,
    /// 3: the server has no usable TLS certificate.
    SslCertNotOnServer,
    /// 4: the requestedProtocols combination is invalid.
    InconsistentFlags,
    /// 5: the server requires NLA (CredSSP) and the client did not offer it.
    HybridRequiredByServer,
    /// 6: the server requires TLS with client-certificate authentication.
    SslWithUserAuthRequiredByServer,
    /// Any other value.
    Other(u32),
}

impl NegFailureCode {
    /// Decode the wire value.
    pub fn from_u32(v: u32) -> Self {
        match v {
            1 => Self::SslRequiredByServer,
            2 => Self::SslNotAllowedByServer,
            3 => Self::SslCertNotOnServer,
            4 => Self::InconsistentFlags,
            5 => Self::HybridRequiredByServer,
            6 => Self::SslWithUserAuthRequiredByServer,
            o => Self::Other(o),
        }
    }

    /// The wire value.
    pub fn code(self) -> u32 {
        match self {
            Self::SslRequiredByServer => 1,
            Self::SslNotAllowedByServer => 2,
            Self::SslCertNotOnServer => 3,
            Self::InconsistentFlags => 4,
            Self::HybridRequiredByServer => 5,
            Self::SslWithUserAuthRequiredByServer => 6,
            Self::Other(o) => o,
        }
    }

    /// The constant's name from MS-RDPBCGR.
    pub fn name(self) -> String {
        match self {
            Self::SslRequiredByServer => "SSL_REQUIRED_BY_SERVER".into(),
            Self::SslNotAllowedByServer => "SSL_NOT_ALLOWED_BY_SERVER".into(),
            Self::SslCertNotOnServer => "SSL_CERT_NOT_ON_SERVER".into(),
            Self::InconsistentFlags => "INCONSISTENT_FLAGS".into(),
            Self::HybridRequiredByServer => "HYBRID_REQUIRED_BY_SERVER".into(),
            Self::SslWithUserAuthRequiredByServer => {
                "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER".into()
            }
            Self::Other(o) => format!("unknown failure code {o}"),
        }
    }

    /// What the code means, in plain English.
    pub fn meaning(self) -> &'static str {
        match self {
            Self::SslRequiredByServer => {
                "the server demands TLS but the client offered only standard RDP security"
            }
            Self::SslNotAllowedByServer => {
                "the server allows only standard RDP security but the client demanded TLS or NLA"
            }
            Self::SslCertNotOnServer => "the server has no usable TLS certificate",
            Self::InconsistentFlags => "the client's requested protocols are an invalid combination",
            Self::HybridRequiredByServer => {
                "the server requires NLA (CredSSP) but the client did not offer it"
            }
            Self::SslWithUserAuthRequiredByServer => {
                "the server requires TLS with client-certificate authentication"
            }
            Self::Other(_) => "a failure code not defined by MS-RDPBCGR",
        }
    }
}

impl fmt::Display for NegFailureCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.meaning())
    }
}

impl Serialize for NegFailureCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

/// Renders a flags byte as names, with unknown bits in hex.
pub fn flag_names(value: u32, table: &[(u32, &str)]) -> Vec<String> {
    let mut out = Vec::new();
    let mut known = 0;
    for &(bit, name) in table {
        if value & bit != 0 {
            out.push(name.to_string());
            known |= bit;
        }
    }
    if value & !known != 0 {
        out.push(format!("0x{:x}", value & !known));
    }
    out
}

/// RDP_NEG_REQ flags.
pub const NEG_REQ_FLAGS: &[(u32, &str)] = &[
    (0x01, "RESTRICTED_ADMIN_MODE_REQUIRED"),
    (0x02, "REDIRECTED_AUTHENTICATION_MODE_REQUIRED"),
    (0x08, "CORRELATION_INFO_PRESENT"),
];

/// RDP_NEG_RSP flags.
pub const NEG_RSP_FLAGS: &[(u32, &str)] = &[
    (0x01, "EXTENDED_CLIENT_DATA_SUPPORTED"),
    (0x02, "DYNVC_GFX_PROTOCOL_SUPPORTED"),
    (0x04, "NEGRSP_FLAG_RESERVED"),
    (0x08, "RESTRICTED_ADMIN_MODE_SUPPORTED"),
    (0x10, "REDIRECTED_AUTHENTICATION_MODE_SUPPORTED"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_names() {
        assert_eq!(Protocols(0xb).to_string(), "SSL|HYBRID|HYBRID_EX");
        assert_eq!(Protocols(0).to_string(), "RDP");
        assert_eq!(Protocols(0x41).to_string(), "SSL|0x40");
        assert!(Protocols(0x3).contains(Protocols::HYBRID));
        assert!(Protocols(0x1).contains(Protocols::RDP));
    }

    #[test]
    fn failure_code_names() {
        assert_eq!(
            NegFailureCode::from_u32(2).name(),
            "SSL_NOT_ALLOWED_BY_SERVER"
        );
        assert_eq!(NegFailureCode::from_u32(99).code(), 99);
    }
}
