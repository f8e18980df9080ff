//! `rdptap analyze`: a capture file through the same diagnosis as live traffic.

use crate::analyze::{self, Options};
use clap::Args;
use std::path::PathBuf;

/// Examples shown by `rdptap analyze --help`.
pub const EXAMPLES: &str = "\
Examples:
  # A capture made on the client, on a jump host, or by rdptap --pcap:
  rdptap analyze session.pcapng
  # Decrypt its TLS with a key log (rdptap's --keylog, FreeRDP's secrets file, or a
  # browser-style SSLKEYLOGFILE), and keep the events and a report:
  rdptap analyze session.pcap --keylog keys.log --events events.jsonl --report report.html
  # A gateway's HTTPS is followed when --target names it (or the key log decrypts it):
  rdptap analyze gw.pcap --target rdgw.example.com
  # The text report on the terminal:
  rdptap analyze session.pcap --text
  # Make a capture of your own with tcpdump (Linux) or pktmon (Windows):
  tcpdump -i any -w session.pcap 'tcp port 3389 or tcp port 443'

Exit status: 0 when every verdict is ok, 1 otherwise (or when the capture holds no RDP),
2 when the file cannot be read.";

/// Options of `rdptap analyze`.
#[derive(Debug, Clone, Args)]
pub struct AnalyzeArgs {
    /// The capture: pcap (either byte order, µs or ns) or pcapng.
    #[arg(value_name = "CAPTURE")]
    pub capture: PathBuf,
    /// An NSS key log to decrypt TLS with (CLIENT_RANDOM for TLS 1.2, the traffic
    /// secrets for TLS 1.3). A pcapng's Decryption Secrets Blocks are used too.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
    /// The host or gateway the capture is about: HOST[:PORT]. Its name is checked
    /// against certificates, and TLS connections to it are followed as an RD Gateway's.
    #[arg(long, value_name = "NAME")]
    pub target: Option<String>,
    /// Write every event and verdict as JSON Lines (the proxy's schema, with
    /// "source": "capture").
    #[arg(long, value_name = "OUT.jsonl")]
    pub events: Option<PathBuf>,
    /// Write the HTML report.
    #[arg(long, value_name = "OUT.html")]
    pub report: Option<PathBuf>,
    /// Print the text report instead of the verdict lines.
    #[arg(long)]
    pub text: bool,
}

/// Runs `rdptap analyze` and returns the process exit status.
pub fn run(args: AnalyzeArgs) -> i32 {
    analyze::run(&Options {
        capture: args.capture,
        keylog: args.keylog,
        target: args.target,
        events: args.events,
        report: args.report,
        text: args.text,
    })
}
