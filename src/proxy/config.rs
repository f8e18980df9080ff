//! The proxy's checked settings. The command line and the TOML file are merged into
//! them by `cli`; the server only reads them.

use crate::record::jsonl::Target;
use crate::relay::intercept::NlaPolicy;
use crate::relay::Endpoint;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Interception settings (`--intercept`).
#[derive(Debug, Clone, PartialEq)]
pub struct InterceptConfig {
    /// The local CA's directory.
    pub ca_dir: PathBuf,
    /// What to do when the host selects NLA.
    pub nla: NlaPolicy,
    /// Refuse hosts whose certificate has any finding.
    pub strict_upstream: bool,
    /// The key log file, if any.
    pub keylog: Option<PathBuf>,
}

/// Checked settings for `rdptap proxy`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxyConfig {
    /// The host's name (for certificates and messages) and port.
    pub target: Endpoint,
    /// What to dial; the target itself unless --connect was given.
    pub dial: Endpoint,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Linger after a one-sided close.
    pub linger: Duration,
    /// Upstream connect timeout.
    pub connect_timeout: Duration,
    /// Idle timeout, if any.
    pub idle_timeout: Option<Duration>,
    /// How long a client may stay silent after connecting, if limited.
    pub first_byte_timeout: Option<Duration>,
    /// The event file, if any.
    pub events: Option<Target>,
    /// Exit after the first verdict.
    pub once: bool,
    /// Interception, when asked for.
    pub intercept: Option<InterceptConfig>,
    /// Extra trusted CA files for judging the host's certificate.
    pub trust: Vec<PathBuf>,
    /// The expected SHA-256 of the host's certificate.
    pub pin: Option<[u8; 32]>,
    /// Hide user names in every output.
    pub redact_users: bool,
    /// RD Gateway mode (`--gateway`): `target` is the gateway.
    pub gateway: Option<GatewayMode>,
    /// How many connections are relayed at once; more are refused.
    pub max_connections: usize,
    /// Packet capture (`--pcap`), if asked for.
    pub capture: Option<crate::record::capture::CaptureOptions>,
}

/// How gateway mode treats the gateway's TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayMode {
    /// Relay the outer TLS untouched (`--gateway-passthrough`), for gateways that bind
    /// authentication to their TLS channel (Extended Protection).
    pub passthrough: bool,
}

/// The default listen address: 3389 is often taken on Windows by its own RDP service.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:13389";

/// The default listen address in gateway mode: clients are given `localhost:8443` as
/// their RD Gateway.
pub const DEFAULT_GATEWAY_LISTEN: &str = "127.0.0.1:8443";
