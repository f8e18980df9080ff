//! Proxy settings: the TOML file merged under the command line, then checked.

use super::{duration, ProxyArgs};
use crate::proxy::admission::DEFAULT_MAX_CONNECTIONS;
use crate::proxy::config::{
    GatewayMode, InterceptConfig, ProxyConfig, DEFAULT_GATEWAY_LISTEN, DEFAULT_LISTEN,
};
use crate::record::jsonl::Target;
use crate::relay::intercept::NlaPolicy;
use crate::relay::Endpoint;
use serde::Deserialize;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long a client may stay silent after connecting, unless configured.
pub const DEFAULT_FIRST_BYTE_TIMEOUT: Duration = Duration::from_secs(30);

/// A configuration error: which file and field, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The TOML file's keys; unknown keys are refused so typos do not pass silently.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    target: Option<String>,
    connect: Option<String>,
    listen: Option<String>,
    allow_remote: Option<bool>,
    linger: Option<String>,
    connect_timeout: Option<String>,
    idle_timeout: Option<String>,
    first_byte_timeout: Option<String>,
    max_connections: Option<usize>,
    events: Option<PathBuf>,
    events_append: Option<bool>,
    once: Option<bool>,
    intercept: Option<bool>,
    ca_dir: Option<PathBuf>,
    nla: Option<String>,
    trust: Option<Vec<PathBuf>>,
    pin: Option<String>,
    strict_upstream: Option<bool>,
    keylog: Option<PathBuf>,
    redact_users: Option<bool>,
    gateway: Option<String>,
    gateway_passthrough: Option<bool>,
    pcap: Option<PathBuf>,
    pcap_split: Option<bool>,
    pcap_keys: Option<bool>,
    no_redact: Option<bool>,
    capture_queue: Option<String>,
    capture_overflow: Option<String>,
}

/// Merge the file (if any) under the command line and check every value.
pub fn resolve(args: &ProxyArgs) -> Result<ProxyConfig, ConfigError> {
    let (file, origin) = match &args.config {
        Some(p) => (load(p)?, format!("{}", p.display())),
        None => (FileConfig::default(), String::new()),
    };
    // Name the source of a bad value: the flag, or the file and key.
    let src = |key: &str, from_cli: bool| -> String {
        if from_cli {
            format!("--{}", key.replace('_', "-"))
        } else {
            format!("{origin}: key '{key}'")
        }
    };
    let gateway_s = args.gateway.clone().or(file.gateway.clone());
    let target_s = args.target.clone().or(file.target.clone());
    let gateway_passthrough = args.gateway_passthrough || file.gateway_passthrough.unwrap_or(false);
    let (target, gateway) = match (gateway_s, target_s) {
        (Some(_), Some(_)) => {
            return Err(ConfigError(format!(
                "{} and {} both given: rdptap relays either to an RDP host (--target) or to an RD Gateway (--gateway); keep one",
                src("target", args.target.is_some()),
                src("gateway", args.gateway.is_some())
            )))
        }
        (None, None) => {
            return Err(ConfigError(
                "no target host: give --target HOST[:PORT] for an RDP host, or --gateway GW[:PORT] for an RD Gateway (or 'target = \"HOST\"' in the config file)"
                    .into(),
            ))
        }
        (Some(g), None) => {
            let e = Endpoint::parse(&g, 443).map_err(|e| {
                ConfigError(format!(
                    "{}: {e}; expected GW[:PORT], e.g. rdgw.example.com:443",
                    src("gateway", args.gateway.is_some())
                ))
            })?;
            (
                e,
                Some(GatewayMode {
                    passthrough: gateway_passthrough,
                }),
            )
        }
        (None, Some(t)) => {
            if gateway_passthrough {
                return Err(ConfigError(format!(
                    "{} only applies to an RD Gateway; use --gateway GW instead of --target, or remove it",
                    src("gateway_passthrough", args.gateway_passthrough)
                )));
            }
            let e = Endpoint::parse(&t, 3389).map_err(|e| {
                ConfigError(format!(
                    "{}: {e}; expected HOST[:PORT], e.g. rdp-host.example.com:3389",
                    src("target", args.target.is_some())
                ))
            })?;
            (e, None)
        }
    };
    let dial = match args.connect.clone().or(file.connect.clone()) {
        None => target.clone(),
        Some(c) => {
            let e = Endpoint::parse(&c, target.port).map_err(|e| {
                ConfigError(format!(
                    "{}: {e}; expected IP[:PORT], e.g. 10.0.0.5",
                    src("connect", args.connect.is_some())
                ))
            })?;
            if e.host.parse::<std::net::IpAddr>().is_err() {
                return Err(ConfigError(format!(
                    "{}: '{}' is not an IP address; --connect takes the address to dial, while --target keeps the name",
                    src("connect", args.connect.is_some()),
                    e.host
                )));
            }
            e
        }
    };
    let listen_s = args
        .listen
        .clone()
        .or(file.listen.clone())
        .unwrap_or_else(|| {
            if gateway.is_some() {
                DEFAULT_GATEWAY_LISTEN
            } else {
                DEFAULT_LISTEN
            }
            .to_string()
        });
    let listen: SocketAddr = listen_s.parse().map_err(|_| {
        ConfigError(format!(
            "{}: '{listen_s}' is not an address:port; use e.g. 127.0.0.1:13389 or [::1]:13389",
            src("listen", args.listen.is_some())
        ))
    })?;
    let allow_remote = args.allow_remote || file.allow_remote.unwrap_or(false);
    if !listen.ip().is_loopback() && !allow_remote {
        return Err(ConfigError(format!(
            "refusing to listen on {listen}: it is not a loopback address, and anyone who can reach it could use rdptap to reach {target}; add --allow-remote if that is what you want"
        )));
    }
    let dur = |key: &str,
               cli: &Option<String>,
               f: &Option<String>|
     -> Result<Option<Duration>, ConfigError> {
        match cli.clone().or(f.clone()) {
            None => Ok(None),
            Some(s) => duration::parse(&s)
                .map(Some)
                .map_err(|e| ConfigError(format!("{}: {e}", src(key, cli.is_some())))),
        }
    };
    let linger = dur("linger", &args.linger, &file.linger)?.unwrap_or(Duration::from_secs(5));
    let connect_timeout = dur(
        "connect_timeout",
        &args.connect_timeout,
        &file.connect_timeout,
    )?
    .unwrap_or(Duration::from_secs(10));
    if connect_timeout.is_zero() {
        return Err(ConfigError(format!(
            "{}: the connect timeout must be more than 0",
            src("connect_timeout", args.connect_timeout.is_some())
        )));
    }
    let idle_timeout =
        dur("idle_timeout", &args.idle_timeout, &file.idle_timeout)?.filter(|d| !d.is_zero());
    let first_byte_timeout = dur(
        "first_byte_timeout",
        &args.first_byte_timeout,
        &file.first_byte_timeout,
    )?
    .unwrap_or(DEFAULT_FIRST_BYTE_TIMEOUT);
    let first_byte_timeout = (!first_byte_timeout.is_zero()).then_some(first_byte_timeout);
    let max_connections = args
        .max_connections
        .or(file.max_connections)
        .unwrap_or(DEFAULT_MAX_CONNECTIONS);
    if max_connections == 0 {
        return Err(ConfigError(format!(
            "{}: must be at least 1 (it is how many connections rdptap relays at once)",
            src("max_connections", args.max_connections.is_some())
        )));
    }
    let events = args.events.clone().or(file.events.clone()).map(|p| {
        if p.as_os_str() == "-" {
            Target::Stdout
        } else {
            Target::File {
                path: p,
                append: args.events_append || file.events_append.unwrap_or(false),
            }
        }
    });
    let flag = |cli: bool, f: Option<bool>| cli || f.unwrap_or(false);
    let intercept_flag = flag(args.intercept, file.intercept);
    if intercept_flag && gateway.is_some() {
        return Err(ConfigError(format!(
            "{}: gateway mode already terminates the gateway's TLS with the local CA (unless --gateway-passthrough); remove --intercept",
            src("intercept", args.intercept)
        )));
    }
    // Gateway mode terminates the outer TLS like --intercept does, with the same CA.
    let intercept_on = intercept_flag || gateway.is_some_and(|g| !g.passthrough);
    let nla = match args.nla.clone().or(file.nla.clone()).as_deref() {
        None | Some("passthrough") => NlaPolicy::Passthrough,
        Some("downgrade") => NlaPolicy::Downgrade,
        Some(other) => {
            return Err(ConfigError(format!(
                "{}: '{other}' is not an NLA policy; use \"passthrough\" (the default) or \"downgrade\" (lab only)",
                src("nla", args.nla.is_some())
            )))
        }
    };
    let strict_upstream = flag(args.strict_upstream, file.strict_upstream);
    let keylog = args.keylog.clone().or(file.keylog.clone());
    let needs_intercept = [
        ("nla", nla == NlaPolicy::Downgrade, args.nla.is_some()),
        ("strict_upstream", strict_upstream, args.strict_upstream),
        ("keylog", keylog.is_some(), args.keylog.is_some()),
    ];
    if !intercept_on {
        if let Some((key, _, cli)) = needs_intercept.iter().find(|(_, on, _)| *on) {
            return Err(ConfigError(format!(
                "{} only works together with --intercept or --gateway (rdptap has no TLS keys or certificate decisions of its own without it); add --intercept or remove it",
                src(key, *cli)
            )));
        }
    }
    let intercept = if intercept_on {
        let ca_dir = match args.ca_dir.clone().or(file.ca_dir.clone()) {
            Some(d) => d,
            None => crate::tls::ca::default_ca_dir().map_err(|e| {
                ConfigError(format!(
                    "--intercept and --gateway need the local CA: {e}; give --ca-dir DIR"
                ))
            })?,
        };
        Some(InterceptConfig {
            ca_dir,
            nla,
            strict_upstream,
            keylog,
        })
    } else {
        None
    };
    let mut trust = args.trust.clone();
    if trust.is_empty() {
        trust = file.trust.clone().unwrap_or_default();
    }
    let redact_users = flag(args.redact_users, file.redact_users);
    let mut capture = super::capture_config::resolve(
        args,
        super::capture_config::FromFile {
            pcap: file.pcap.clone(),
            pcap_split: file.pcap_split,
            pcap_keys: file.pcap_keys,
            no_redact: file.no_redact,
            capture_queue: file.capture_queue.clone(),
            capture_overflow: file.capture_overflow.clone(),
        },
        &src,
        intercept_on,
    )?;
    if let Some(c) = capture.as_mut() {
        c.redact_users = redact_users && c.redact;
    }
    let pin = match args.pin.clone().or(file.pin.clone()) {
        None => None,
        Some(p) => Some(
            crate::tls::rustls_cfg::parse_pin(&p)
                .map_err(|e| ConfigError(format!("{}: {e}", src("pin", args.pin.is_some()))))?,
        ),
    };
    Ok(ProxyConfig {
        target,
        dial,
        listen,
        linger,
        connect_timeout,
        idle_timeout,
        first_byte_timeout,
        events,
        once: args.once || file.once.unwrap_or(false),
        intercept,
        trust,
        pin,
        redact_users,
        gateway,
        capture,
        max_connections,
    })
}

fn load(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "cannot read the config file {}: {e}",
            path.display()
        ))
    })?;
    toml::from_str(&text).map_err(|e| {
        ConfigError(format!(
            "{}: {}; see config/rdptap.toml for the accepted keys",
            path.display(),
            e.to_string().trim_end()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(target: &str) -> ProxyArgs {
        ProxyArgs {
            target: Some(target.into()),
            ..Default::default()
        }
    }

    #[test]
    fn gateway_mode() {
        let a = ProxyArgs {
            gateway: Some("rdgw.example.com".into()),
            ca_dir: Some("/nonexistent-ca".into()),
            ..Default::default()
        };
        let c = resolve(&a).unwrap();
        assert_eq!(c.target.port, 443);
        assert_eq!(c.listen.to_string(), DEFAULT_GATEWAY_LISTEN);
        assert_eq!(c.gateway, Some(GatewayMode { passthrough: false }));
        assert!(
            c.intercept.is_some(),
            "the outer TLS is terminated with the CA"
        );
        let mut p = a.clone();
        p.gateway_passthrough = true;
        let c = resolve(&p).unwrap();
        assert!(c.intercept.is_none());
        let mut both = a.clone();
        both.target = Some("host".into());
        assert!(resolve(&both).unwrap_err().0.contains("keep one"));
        let mut i = a.clone();
        i.intercept = true;
        assert!(resolve(&i).unwrap_err().0.contains("remove --intercept"));
        let mut pt = args("host");
        pt.gateway_passthrough = true;
        assert!(resolve(&pt)
            .unwrap_err()
            .0
            .contains("--gateway-passthrough"));
    }

    #[test]
    fn defaults() {
        let c = resolve(&args("host")).unwrap();
        assert_eq!(c.target.port, 3389);
        assert_eq!(c.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(c.linger, Duration::from_secs(5));
        assert_eq!(c.dial, c.target);
        assert_eq!(c.first_byte_timeout, Some(Duration::from_secs(30)));
        let mut a = args("host");
        a.first_byte_timeout = Some("0".into());
        assert_eq!(resolve(&a).unwrap().first_byte_timeout, None);
        a.first_byte_timeout = Some("soon".into());
        let e = resolve(&a).unwrap_err();
        assert!(e.0.contains("--first-byte-timeout"), "{e}");
        assert_eq!(c.max_connections, 1024);
        let mut a = args("host");
        a.max_connections = Some(0);
        let e = resolve(&a).unwrap_err();
        assert!(e.0.contains("--max-connections"), "{e}");
    }

    #[test]
    fn remote_listen_needs_consent() {
        let mut a = args("host");
        a.listen = Some("0.0.0.0:13389".into());
        let e = resolve(&a).unwrap_err();
        assert!(e.0.contains("--allow-remote"), "{e}");
        a.allow_remote = true;
        assert!(resolve(&a).is_ok());
    }

    #[test]
    fn file_values_yield_to_flags_and_unknown_keys_are_named() {
        let dir = std::env::temp_dir().join(format!("rdptap-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("c.toml");
        std::fs::write(&p, "target = \"filehost:3390\"\nlinger = \"2s\"\n").unwrap();
        let mut a = ProxyArgs {
            config: Some(p.clone()),
            ..Default::default()
        };
        let c = resolve(&a).unwrap();
        assert_eq!(c.target.host, "filehost");
        assert_eq!(c.linger, Duration::from_secs(2));
        a.linger = Some("1s".into());
        assert_eq!(resolve(&a).unwrap().linger, Duration::from_secs(1));
        std::fs::write(&p, "tagret = \"x\"\n").unwrap();
        let e = resolve(&a).unwrap_err();
        assert!(e.0.contains("tagret") && e.0.contains("c.toml"), "{e}");
        std::fs::write(&p, "target = \"h\"\nlisten = \"nope\"\n").unwrap();
        let e = resolve(&ProxyArgs {
            config: Some(p),
            ..Default::default()
        })
        .unwrap_err();
        assert!(e.0.contains("key 'listen'"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn interception_options_need_intercept() {
        let mut a = args("host");
        a.keylog = Some("k.log".into());
        let e = resolve(&a).unwrap_err();
        assert!(
            e.0.contains("--keylog") && e.0.contains("--intercept"),
            "{e}"
        );
        a.intercept = true;
        a.ca_dir = Some("/tmp/ca".into());
        a.nla = Some("downgrade".into());
        let c = resolve(&a).unwrap();
        let i = c.intercept.unwrap();
        assert_eq!(i.nla, NlaPolicy::Downgrade);
        assert_eq!(i.ca_dir, PathBuf::from("/tmp/ca"));
        a.pin = Some("12".into());
        assert!(resolve(&a).unwrap_err().0.contains("--pin"));
    }

    #[test]
    fn connect_must_be_an_address() {
        let mut a = args("name.example");
        a.connect = Some("other.example".into());
        assert!(resolve(&a).unwrap_err().0.contains("not an IP address"));
        a.connect = Some("127.0.0.2".into());
        let c = resolve(&a).unwrap();
        assert_eq!(c.dial.host, "127.0.0.2");
        assert_eq!(c.target.host, "name.example");
    }
}
