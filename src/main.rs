//! The `rdptap` command.

use clap::Parser;
use rdptap::cli::{analyze, bundle, ca, config, lab, report, Cli, Command};
use rdptap::proxy::ProxyServer;
use tracing_subscriber::EnvFilter;

fn main() {
    let cli = Cli::parse();
    init_logging(cli.verbose, cli.quiet);
    raise_fd_limit();
    let code = match cli.command {
        Command::Proxy(args) => {
            let cfg = match config::resolve(&args) {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("rdptap: {e}");
                    std::process::exit(2);
                }
            };
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("rdptap: cannot start the runtime: {e}");
                    std::process::exit(2);
                }
            };
            let run = async { ProxyServer::start(cfg).await?.run().await };
            match rt.block_on(run) {
                Ok(code) => code,
                Err(e) => {
                    eprintln!("rdptap: {}", e.0);
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

fn init_logging(verbose: u8, quiet: bool) {
    let level = match (quiet, verbose) {
        (true, _) => "rdptap=warn",
        (false, 0) => "rdptap=info",
        (false, 1) => "rdptap=debug",
        (false, _) => "rdptap=trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .compact()
        .init();
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
