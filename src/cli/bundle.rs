//! `rdptap bundle`: one archive to hand to a vendor.

use crate::record::bundle::archive::{self, Format};
use crate::record::bundle::{self, Input};
use crate::runtime::console::say;
use crate::runtime::files::create_private;
use clap::Args;
use std::path::PathBuf;

/// Examples shown by `rdptap bundle --help`.
pub const EXAMPLES: &str = "\
Examples:
  # Record, then bundle everything for a vendor (the trace is found from the events):
  rdptap proxy --gateway rdgw.example.com --pcap trace.pcapng --events trace.jsonl
  rdptap bundle case-1234.zip --events trace.jsonl

  # Only connections 3 and 4, as a tar.gz, naming the trace explicitly:
  rdptap bundle case-1234.tar.gz --events trace.jsonl --pcap trace.pcapng --conn 3,4

  # Include the TLS key log (it decrypts the raw legs, secrets included):
  rdptap bundle case-1234.zip --events trace.jsonl --keylog keys.log

The archive holds the events, the trace (only the chosen connections' packets), the
report (HTML and text), config.json (rdptap's version and settings) and a README.txt
that says how to open each file. Secrets were scrubbed when the trace was recorded
(unless --no-redact); a key log defeats that for the raw legs.";

/// Options of `rdptap bundle`.
#[derive(Debug, Clone, Args)]
pub struct BundleArgs {
    /// The archive to write: NAME.zip, NAME.tar.gz or NAME.tgz.
    #[arg(value_name = "OUT.zip")]
    pub out: PathBuf,
    /// The event file (written by `rdptap proxy --events`).
    #[arg(long, value_name = "EVENTS.jsonl")]
    pub events: PathBuf,
    /// Trace files to include (repeatable) [default: the --pcap file(s) the event file
    /// says were written].
    #[arg(long, value_name = "FILE.pcapng")]
    pub pcap: Vec<PathBuf>,
    /// Only these connections (their numbers, comma-separated) [default: all].
    #[arg(long, value_name = "N[,N...]", value_delimiter = ',')]
    pub conn: Vec<u64>,
    /// Include this TLS key log. Whoever gets the bundle can then decrypt the raw legs.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
}

/// Runs `rdptap bundle`; returns the exit status.
pub fn run(args: BundleArgs) -> i32 {
    match execute(&args) {
        Ok(()) => 0,
        Err(e) => {
            crate::runtime::console::error(e);
            2
        }
    }
}

fn execute(args: &BundleArgs) -> Result<(), String> {
    let format = Format::from_path(&args.out).ok_or_else(|| {
        format!(
            "{}: unknown archive type; name it .zip, .tar.gz or .tgz",
            args.out.display()
        )
    })?;
    let contents = bundle::gather(&Input {
        events: args.events.clone(),
        pcaps: args.pcap.clone(),
        conns: args.conn.clone(),
        keylog: args.keylog.clone(),
    })
    .map_err(|e| e.0)?;
    let file = create_private(&args.out, false).map_err(|e| {
        format!(
            "cannot create {}: {e}; check the directory exists and is writable",
            args.out.display()
        )
    })?;
    archive::write(file, format, &contents.entries)
        .map_err(|e| format!("writing {} failed: {e}", args.out.display()))?;
    for m in &contents.missing {
        say(format!(
            "rdptap: note: the trace {} named in the events is not there; the bundle has none (give --pcap FILE)",
            crate::runtime::console::inert(&m.display().to_string())
        ));
    }
    let names: Vec<&str> = contents.entries.iter().map(|e| e.name.as_str()).collect();
    let conns: Vec<String> = contents.conns.iter().map(u64::to_string).collect();
    say(format!(
        "rdptap: wrote {} (connections {}): {}",
        args.out.display(),
        if conns.is_empty() {
            "none".into()
        } else {
            conns.join(", ")
        },
        names.join(", ")
    ));
    if args.keylog.is_some() {
        say("rdptap: WARNING: the bundle holds a TLS key log: whoever has it can decrypt the raw legs, secrets included");
    }
    Ok(())
}
