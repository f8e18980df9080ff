//! The command line: `rdptap proxy …`, `rdptap ca …`, `rdptap lab …` and `rdptap report …`.

pub mod analyze;
pub mod bundle;
pub mod ca;
pub mod capture_config;
pub mod config;
pub mod duration;
pub mod lab;
pub mod report;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// rdptap: a diagnosing proxy for Remote Desktop connections.
#[derive(Debug, Parser)]
#[command(
    name = "rdptap",
    version,
    about = "Relays RDP connections unchanged and says, in one line, where and why each one broke.",
    after_help = "Examples:\n  rdptap proxy --target rdp-host.example.com\n  rdptap proxy --target rdp-host --events trace.jsonl --once\n  rdptap proxy --config config/rdptap.toml -v\n  rdptap report trace.jsonl -o report.html"
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
    Proxy(Box<ProxyArgs>),
    /// Manage the local certificate authority that signs rdptap's interception certificates.
    #[command(subcommand)]
    Ca(CaCommand),
    /// Lab servers that reproduce RD Gateway problems on purpose.
    #[command(subcommand)]
    Lab(lab::LabCommand),
    /// Diagnose the RDP and RD Gateway sessions in a capture file (pcap or pcapng),
    /// as the proxy would have diagnosed them live.
    #[command(after_help = analyze::EXAMPLES)]
    Analyze(analyze::AnalyzeArgs),
    /// Turn an event file into a report a person can read: one HTML page, or plain text.
    #[command(after_help = report::EXAMPLES)]
    Report(report::ReportArgs),
    /// Collect the trace, events, report and a README for a vendor into one .zip or
    /// .tar.gz.
    #[command(after_help = bundle::EXAMPLES)]
    Bundle(bundle::BundleArgs),
}

/// `rdptap ca …` subcommands.
#[derive(Debug, Subcommand)]
pub enum CaCommand {
    /// Create the local CA (certificate and private key).
    #[command(after_help = ca::INIT_EXAMPLES)]
    Init(CaInitArgs),
    /// Print the CA's fingerprint, validity and constraints, and how to trust it.
    #[command(after_help = ca::SHOW_EXAMPLES)]
    Show(CaDirArg),
    /// Print how to remove the CA from every place `ca show` suggested.
    #[command(after_help = ca::REMOVE_EXAMPLES)]
    RemoveInstructions(CaDirArg),
}

/// The CA directory option shared by every command that uses the CA.
#[derive(Debug, Clone, Default, Args)]
pub struct CaDirArg {
    /// Where the CA lives [default: $XDG_CONFIG_HOME/rdptap or ~/.config/rdptap; %APPDATA%\\rdptap on Windows].
    #[arg(long, value_name = "DIR")]
    pub ca_dir: Option<PathBuf>,
}

/// Options of `rdptap ca init`.
#[derive(Debug, Clone, Default, Args)]
pub struct CaInitArgs {
    /// The CA directory.
    #[command(flatten)]
    pub dir: CaDirArg,
    /// Limit the CA to these DNS names and IP addresses (X.509 name constraints);
    /// localhost, 127.0.0.1 and ::1 are always added.
    #[arg(long, value_name = "NAME,...", value_delimiter = ',')]
    pub constrain: Vec<String>,
    /// Days the CA stays valid.
    #[arg(long, value_name = "N", default_value_t = 30)]
    pub days: u32,
    /// Replace an existing CA in the directory.
    #[arg(long)]
    pub force: bool,
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

  # Shared by a help desk: at most 200 clients at once, silent ones closed after 10 s:
  rdptap proxy --target rdp-host --listen 0.0.0.0:13389 --allow-remote --max-connections 200 --first-byte-timeout 10s

  # Read options from a file (flags given on the command line win):
  rdptap proxy --config config/rdptap.toml

  # See inside TLS (MCS, licensing, Set Error Info) with a local CA:
  rdptap ca init --constrain rdp-host.example.com
  rdptap proxy --target rdp-host.example.com --intercept
  # ... and write the TLS keys for Wireshark (keep the file secret):
  rdptap proxy --target rdp-host.example.com --intercept --keylog keys.log

  # RD Gateway mode: set the client's gateway to localhost:8443 (trust the CA first):
  rdptap proxy --gateway rdgw.example.com
  xfreerdp /v:rdp-host /g:127.0.0.1:8443 /gu:user /gp:pass /gt:http
  # ... for a gateway that enforces Extended Protection (outer TLS untouched):
  rdptap proxy --gateway rdgw.example.com --gateway-passthrough

  # A trace for a vendor: pcapng (secrets scrubbed), events, then a report and a bundle:
  rdptap proxy --gateway rdgw.example.com --pcap trace.pcapng --events trace.jsonl
  rdptap report trace.jsonl -o report.html
  rdptap bundle case-1234.zip --events trace.jsonl --pcap trace.pcapng

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
    /// Close a connection whose client sends nothing this long after connecting (RDP
    /// and RD Gateway clients speak first); 0 turns it off [default: 30s].
    #[arg(long, value_name = "DURATION")]
    pub first_byte_timeout: Option<String>,
    /// Relay at most N connections at once; more are closed at once, and said on the
    /// console and in the events at most once a second [default: 1024].
    #[arg(long, value_name = "N")]
    pub max_connections: Option<usize>,
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
    /// See inside TLS: when the host selects plain TLS, terminate it with a certificate
    /// from the local CA (see `rdptap ca init`) and open rdptap's own TLS to the host.
    #[arg(long)]
    pub intercept: bool,
    /// Where the local CA lives [default: the per-user directory `rdptap ca show` prints].
    #[arg(long, value_name = "DIR")]
    pub ca_dir: Option<PathBuf>,
    /// When the host selects NLA: `passthrough` relays it untouched (NLA works, nothing
    /// inside TLS is seen); `downgrade` (lab only, lowers security) removes NLA from the
    /// client's request so the session can be intercepted [default: passthrough].
    #[arg(long, value_name = "POLICY", value_parser = ["passthrough", "downgrade"])]
    pub nla: Option<String>,
    /// Also trust the CA certificates in this PEM file when judging the host's
    /// certificate (repeatable).
    #[arg(long, value_name = "FILE.pem")]
    pub trust: Vec<PathBuf>,
    /// The SHA-256 fingerprint the host's certificate must have (64 hex digits, colons
    /// allowed); a match counts as trusted.
    #[arg(long, value_name = "SHA256")]
    pub pin: Option<String>,
    /// With --intercept: refuse the connection when the host's certificate has any
    /// problem, instead of recording it and carrying on.
    #[arg(long)]
    pub strict_upstream: bool,
    /// With --intercept: write both TLS legs' keys to FILE in NSS key log format, so
    /// Wireshark can decrypt a capture. The file is a secret.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
    /// Hide user and domain names (and the mstshash cookie) in every output.
    #[arg(long)]
    pub redact_users: bool,
    /// RD Gateway mode: relay the client's gateway traffic (HTTP, WebSocket or RPC
    /// transport) to this gateway, decoding MS-TSGU and the RDP inside. Set the client's
    /// gateway to rdptap's --listen address [default listen: 127.0.0.1:8443].
    #[arg(long, value_name = "GW[:PORT]", conflicts_with = "target")]
    pub gateway: Option<String>,
    /// With --gateway: relay the gateway's TLS untouched (for gateways that enforce
    /// channel binding / Extended Protection); only TLS facts and closes are seen.
    #[arg(long)]
    pub gateway_passthrough: bool,
    /// Write a pcapng trace that Wireshark opens: both raw TCP legs, and the decrypted
    /// flows where rdptap intercepts (HTTP on port 80, RDP on 3389). Secrets are scrubbed
    /// unless --no-redact.
    #[arg(long, value_name = "FILE.pcapng")]
    pub pcap: Option<PathBuf>,
    /// With --pcap: one file per connection (FILE-connN.pcapng) instead of one for all.
    #[arg(long)]
    pub pcap_split: bool,
    /// With --pcap and interception: embed the TLS keys in the trace (a Decryption
    /// Secrets Block), so Wireshark decrypts the raw legs. This defeats redaction there.
    #[arg(long)]
    pub pcap_keys: bool,
    /// Keep secrets (Authorization headers, passwords, cookies, keystrokes, clipboard) in the
    /// trace's decrypted flows. Only for traces that never leave your hands.
    #[arg(long)]
    pub no_redact: bool,
    /// How much the capture queue may hold before --capture-overflow applies, e.g. 64MiB
    /// [default: 64MiB].
    #[arg(long, value_name = "SIZE")]
    pub capture_queue: Option<String>,
    /// When the capture queue is full: `lossless` makes the relay wait for the trace
    /// writer; `drop` drops whole packets and counts them [default: lossless].
    #[arg(long, value_name = "POLICY", value_parser = ["lossless", "drop"])]
    pub capture_overflow: Option<String>,
    /// Pause this long before writing each captured chunk (simulates a slow disk).
    #[arg(long, value_name = "DURATION", hide = true)]
    pub capture_write_delay: Option<String>,
}
