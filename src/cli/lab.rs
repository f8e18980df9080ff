//! `rdptap lab …`: small servers that reproduce gateway problems on purpose.

use crate::lab::auth::AuthMode;
use crate::lab::channels::PAIR_TIMEOUT;
use crate::lab::config::{parse_knob, FailPlan, Knob, LabConfig};
use crate::lab::out_framing::OutFraming;
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

/// `rdptap lab …` subcommands.
#[derive(Debug, Subcommand)]
pub enum LabCommand {
    /// Run a small RD Gateway (MS-TSGU over HTTP and WebSocket) that tunnels to one RDP
    /// host, accepts any credentials, and fails on request.
    #[command(after_help = GATEWAY_EXAMPLES)]
    Gateway(LabGatewayArgs),
}

/// Examples shown by `rdptap lab gateway --help`.
pub const GATEWAY_EXAMPLES: &str = "\
Examples:
  # A gateway on 127.0.0.1:9443 in front of an RDP host (certificate from the local CA):
  rdptap ca init
  rdptap lab gateway --listen 127.0.0.1:9443 --target 127.0.0.1:3389
  # Then connect through it (any gateway user and password; /gt:http uses WebSocket,
  # /gt:http,no-websockets the two-channel HTTP transport):
  xfreerdp /v:rdp-host /g:127.0.0.1:9443 /gu:gwuser /gp:gwpass /gt:http /cert:ignore

Failure knobs (--fail, repeatable):
  handshake=STATUS       answer HANDSHAKE_REQUEST with STATUS, then close
  tunnel=STATUS          answer TUNNEL_CREATE with STATUS, then close
  tunnel-auth=STATUS     answer TUNNEL_AUTH with STATUS, then close
  channel=STATUS         answer CHANNEL_CREATE with STATUS, then close
      STATUS is a name (E_PROXY_RAP_ACCESSDENIED, E_PROXY_NAP_ACCESSDENIED,
      E_PROXY_INTERNALERROR, E_PROXY_TS_CONNECTFAILED, ...) or hex (0x800759DA)
  auth=final-401         answer the final authentication round with 401
  close=out-headers      send only the status line and one header of the final OUT
                         (or WebSocket 101) response, then close the connection
  close=out-preamble     send the OUT 200 head and 4 of the 10 seed bytes, then close
                         (WebSocket: the whole 101, then close before any frame)
  close=out-body:N       close the OUT stream after N body bytes (seed included;
                         WebSocket: N bytes of frames after the 101)
  service-message=TEXT   send SERVICE_MESSAGE TEXT after TUNNEL_AUTH_RESPONSE
  cert=expired           serve a certificate from the local CA that has expired
  cert=wrong-name        serve a certificate from the local CA for another name
  cert=self-signed       serve a self-signed certificate (not from the CA)

  rdptap lab gateway --target 127.0.0.1:3389 --fail tunnel=E_PROXY_RAP_ACCESSDENIED
  rdptap lab gateway --target 127.0.0.1:3389 --fail close=out-preamble
  rdptap lab gateway --target 127.0.0.1:3389 --fail cert=expired --fail auth=final-401
  rdptap lab gateway --target 127.0.0.1:3389 --fail 'service-message=Maintenance at 18:00'

OUT channel framing (--out-framing, HTTP transport only), as gateways and the reverse
proxies in front of them send it; clients read the tunnel whatever it declares:
  none                   no Content-Length: the body runs until the close (default)
  length:N               Content-Length: N, whatever the tunnel's size (0, 10, 1073741824)
  chunked                Transfer-Encoding: chunked, one chunk per write
  chunked:N              chunked, in chunks of at most N bytes, which cut packets
--fail close=out-body:N counts tunnel bytes before chunking, so with chunked it cuts
inside a chunk's data:
  rdptap lab gateway --target 127.0.0.1:3389 --out-framing chunked:7 --fail close=out-body:40";

/// Options of `rdptap lab gateway`.
#[derive(Debug, Clone, Args)]
pub struct LabGatewayArgs {
    /// Where to listen for gateway clients.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9443")]
    pub listen: SocketAddr,
    /// Allow listening on a non-loopback address (this exposes a gateway that accepts
    /// any password).
    #[arg(long)]
    pub allow_remote: bool,
    /// The RDP host every tunnel goes to: HOST[:PORT] (port 3389 by default).
    #[arg(long, value_name = "HOST[:PORT]")]
    pub target: String,
    /// Dial the resource the client names in CHANNEL_CREATE (with its port) instead of
    /// --target.
    #[arg(long)]
    pub route_by_resource: bool,
    /// HTTP authentication: none, basic (any credentials) or ntlm-any (any NTLM
    /// credentials, unchecked).
    #[arg(long, value_name = "MODE", default_value = "ntlm-any",
          value_parser = ["none", "basic", "ntlm-any"])]
    pub auth: String,
    /// Fail on purpose (repeatable); see the knobs below.
    #[arg(long, value_name = "KNOB=VALUE", value_parser = parse_knob)]
    pub fail: Vec<Knob>,
    /// How the HTTP transport's OUT channel frames its 200 body: none (no
    /// Content-Length, read until the close), length:N (Content-Length: N, whatever
    /// the tunnel's size), chunked (one chunk per write) or chunked:N (chunks of at most
    /// N bytes, which cut packets). Clients read the tunnel the same whatever it says.
    #[arg(long, value_name = "MODE", default_value = "none", value_parser = OutFraming::parse)]
    pub out_framing: OutFraming,
    /// Where the local CA lives [default: the per-user directory `rdptap ca show` prints].
    #[arg(long, value_name = "DIR")]
    pub ca_dir: Option<PathBuf>,
    /// Write the TLS keys of every client connection to FILE (NSS key log format), so a
    /// capture of the lab can be decrypted: `rdptap analyze CAPTURE --keylog FILE`.
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
    /// Seconds one channel of the two-channel HTTP transport waits for the other.
    #[arg(long, value_name = "SECONDS", default_value_t = PAIR_TIMEOUT.as_secs())]
    pub pair_timeout: u64,
}

/// Runs one `lab` subcommand and returns the process exit status.
pub fn run(cmd: LabCommand) -> i32 {
    let LabCommand::Gateway(args) = cmd;
    let cfg = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            crate::runtime::console::error(e);
            return 2;
        }
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rdptap: cannot start the runtime: {e}");
            return 2;
        }
    };
    match rt.block_on(crate::lab::run(cfg)) {
        Ok(code) => code,
        Err(e) => {
            crate::runtime::console::error(e);
            2
        }
    }
}

fn config(a: &LabGatewayArgs) -> Result<LabConfig, String> {
    if !a.listen.ip().is_loopback() && !a.allow_remote {
        return Err(format!(
            "--listen {}: the lab gateway accepts any password, so it listens on loopback only unless --allow-remote is given",
            a.listen
        ));
    }
    let target = with_port(&a.target);
    let ca_dir = match &a.ca_dir {
        Some(d) => d.clone(),
        None => crate::tls::ca::default_ca_dir().map_err(|e| e.to_string())?,
    };
    Ok(LabConfig {
        listen: a.listen,
        target,
        route_by_resource: a.route_by_resource,
        ca_dir,
        auth: AuthMode::parse(&a.auth)?,
        fail: FailPlan::from_knobs(&a.fail)?,
        out_framing: a.out_framing,
        pair_timeout: std::time::Duration::from_secs(a.pair_timeout.max(1)),
        idle_timeout_min: 30,
        keylog: a.keylog.clone(),
    })
}

/// HOST[:PORT] with the RDP port added when none is given.
fn with_port(t: &str) -> String {
    if t.parse::<SocketAddr>().is_ok() {
        return t.to_string();
    }
    if let Ok(ip) = t.parse::<std::net::IpAddr>() {
        return SocketAddr::new(ip, 3389).to_string();
    }
    match t.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => t.to_string(),
        _ => format!("{t}:3389"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct T {
        #[command(subcommand)]
        cmd: LabCommand,
    }

    fn parse(args: &[&str]) -> Result<LabGatewayArgs, String> {
        let mut v = vec!["t", "gateway"];
        v.extend_from_slice(args);
        T::try_parse_from(v)
            .map(|t| {
                let LabCommand::Gateway(a) = t.cmd;
                a
            })
            .map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_and_target_port() {
        let a = parse(&["--target", "rdp-host"]).unwrap();
        let c = config(&a).unwrap();
        assert_eq!(c.listen, "127.0.0.1:9443".parse().unwrap());
        assert_eq!(c.target, "rdp-host:3389");
        assert_eq!(c.auth, AuthMode::NtlmAny);
        let a = parse(&["--target", "127.0.0.1:3390"]).unwrap();
        assert_eq!(config(&a).unwrap().target, "127.0.0.1:3390");
    }

    #[test]
    fn fail_knobs_are_checked_by_the_parser() {
        let a = parse(&[
            "--target",
            "h",
            "--fail",
            "tunnel=E_PROXY_RAP_ACCESSDENIED",
            "--fail",
            "close=out-preamble",
        ])
        .unwrap();
        assert_eq!(a.fail.len(), 2);
        let e = parse(&["--target", "h", "--fail", "cert=revoked"]).unwrap_err();
        assert!(e.contains("cert=revoked") && e.contains("expired"), "{e}");
    }

    #[test]
    fn out_framing_defaults_to_none_and_is_checked_by_the_parser() {
        let a = parse(&["--target", "h"]).unwrap();
        assert_eq!(config(&a).unwrap().out_framing, OutFraming::None);
        let a = parse(&["--target", "h", "--out-framing", "length:10"]).unwrap();
        assert_eq!(config(&a).unwrap().out_framing, OutFraming::Length(10));
        let e = parse(&["--target", "h", "--out-framing", "gzip"]).unwrap_err();
        assert!(e.contains("chunked:N"), "{e}");
    }

    #[test]
    fn remote_listen_needs_allow_remote() {
        let a = parse(&["--target", "h", "--listen", "0.0.0.0:9443"]).unwrap();
        assert!(config(&a).unwrap_err().contains("--allow-remote"));
    }
}
