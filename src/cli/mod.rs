//! The command line: `rdptap proxy …`.

pub mod config;
pub mod duration;
pub mod limits;
pub mod proxy;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// rdptap: a diagnosing proxy for Remote Desktop connections.
#[derive(Debug, Parser)]
#[command(
    name = "rdptap",
    version,
    about = "Relays RDP connections unchanged and says, in one line, where and why each one broke.",
    after_help = "Examples:\n  rdptap proxy --target rdp-host.example.com\n  rdptap proxy --target rdp-host --events trace.jsonl --once\n  rdptap proxy --config config/rdptap.toml -v"
)]
pub struct Cli {
    /// More console detail (-v: per-record debug, -vv: trace). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less console output: verdicts and errors only.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Listen locally and relay each connection to the RDP host, diagnosing it.
    #[command(after_help = PROXY_EXAMPLES)]
    Proxy(ProxyArgs),
}

const PROXY_EXAMPLES: &str = "\
Examples:
  # Relay localhost:13389 to the host, print one verdict per connection:
  rdptap proxy --target rdp-host.example.com
  # Then connect the client to rdptap:
  mstsc /v:localhost:13389
  xfreerdp /v:127.0.0.1:13389

  # Keep the host's real name for certificate checks while dialling an address:
  rdptap proxy --target rdp-host.example.com --connect 10.0.0.5

  # Record events as JSON Lines and exit after the first connection (exit 0 = ok):
  rdptap proxy --target rdp-host --events trace.jsonl --once

  # Read options from a file (flags given on the command line win):
  rdptap proxy --config config/rdptap.toml

Every option can also be set in the TOML file; see config/rdptap.toml.";

/// Options of `rdptap proxy`. Each is optional here so that a config file can supply it.
#[derive(Debug, Clone, Default, Args)]
pub struct ProxyArgs {
    /// The RDP host: NAME[:PORT] (port 3389 by default).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub target: Option<String>,
    /// Dial this address instead of resolving --target; NAME stays the name used for
    /// certificate checks.
    #[arg(long, value_name = "IP[:PORT]")]
    pub connect: Option<String>,
    /// Where to listen for the client [default: 127.0.0.1:13389].
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Allow listening on a non-loopback address (this exposes the host to the network).
    #[arg(long)]
    pub allow_remote: bool,
    /// After one side closes, close both once the other has been silent this long
    /// [default: 5s].
    #[arg(long, value_name = "DURATION")]
    pub linger: Option<String>,
    /// Give up connecting to the host after this long [default: 10s].
    #[arg(long, value_name = "DURATION")]
    pub connect_timeout: Option<String>,
    /// Close a connection when nothing moved either way for this long [default: never].
    #[arg(long, value_name = "DURATION")]
    pub idle_timeout: Option<String>,
    /// Write events as JSON Lines to FILE ("-" for standard output).
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Append to the events file instead of truncating it.
    #[arg(long)]
    pub events_append: bool,
    /// Exit after the first connection's verdict: status 0 for ok, 1 otherwise.
    #[arg(long)]
    pub once: bool,
    /// Read options from this TOML file; command-line flags override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}
