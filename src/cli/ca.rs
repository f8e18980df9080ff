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

/// The leaf minter `rdptap proxy --intercept` uses, with the target's leaf minted ahead.
pub fn minter_for_proxy(
    dir: &std::path::Path,
    target: &str,
) -> Result<crate::tls::leaf::LeafMinter, String> {
    let _ = (dir, target);
    Err("the local CA is not available yet".into())
}
