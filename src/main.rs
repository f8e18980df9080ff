//! The `rdptap` command.

use clap::Parser;
use rdptap::cli::{analyze, bundle, ca, config, lab, report, Cli, Command};
use rdptap::proxy::ProxyServer;
use rdptap::runtime::console::{error as rdptap_error, init_logging};

fn main() {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    raise_fd_limit();
    let code = match cli.command {
        Command::Proxy(args) => {
            let cfg = match config::resolve(&args) {
                Ok(c) => c,
                Err(e) => {
                    rdptap_error(e);
                    std::process::exit(2);
                }
            };
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    rdptap_error(format!("cannot start the runtime: {e}"));
                    std::process::exit(2);
                }
            };
            let run = async { ProxyServer::start(cfg).await?.run().await };
            match rt.block_on(run) {
                Ok(code) => code,
                Err(e) => {
                    rdptap_error(e.0);
                    2
                }
            }
        }
        Command::Ca(cmd) => ca::run(cmd),
        Command::Lab(cmd) => lab::run(cmd),
        Command::Analyze(args) => analyze::run(args),
        Command::Report(args) => report::run(args),
        Command::Bundle(args) => bundle::run(args),
    };
    std::process::exit(code);
}

/// Raise the open-file limit and say so when it still caps the connection count.
fn raise_fd_limit() {
    match rdptap::runtime::limits::raise_open_file_limit() {
        Some(n) if n < 4096 => tracing::warn!(
            "open-file limit is {n}: rdptap can serve about {} connections at once; raise it with ulimit -n",
            n / 2
        ),
        Some(n) => tracing::debug!("open-file limit: {n}"),
        None => {}
    }
}
