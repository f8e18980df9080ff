//! `rdptap ca init|show|remove-instructions`.

use super::CaCommand;

/// Examples shown by `rdptap ca init --help`.
pub const INIT_EXAMPLES: &str = "\
Examples:
  rdptap ca init
  rdptap ca init --constrain rdp-host.example.com,10.0.0.5 --days 7";

/// Runs one `ca` subcommand and returns the process exit status.
pub fn run(cmd: CaCommand) -> i32 {
    let _ = cmd;
    eprintln!("rdptap: not implemented yet");
    2
}
