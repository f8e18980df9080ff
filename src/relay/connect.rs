//! Dialling the upstream host: name resolution (injectable, so tests never touch real
//! DNS) and a bounded connect that tells refusal, timeout and DNS failure apart.

use crate::vocab::ConnectError;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;
use tokio::net::TcpStream;

/// Turns a host name into addresses.
pub trait Resolver: Send + Sync {
    /// Resolve `host:port`.
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>>;
}

/// The operating system's resolver.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(
        &'a self,
        host: &'a str,
        port: u16,
    ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
            Ok(addrs)
        })
    }
}

/// Where to dial: a host name or address literal, and a port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Host name or IP literal (IPv6 without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Endpoint {
    /// Parse `HOST`, `HOST:PORT`, `[V6]:PORT` or a bare IPv6 literal.
    pub fn parse(s: &str, default_port: u16) -> Result<Endpoint, String> {
        let s = s.trim();
        if s.is_empty() {
            return Err("the address is empty".into());
        }
        if let Ok(sa) = s.parse::<SocketAddr>() {
            return Ok(Endpoint {
                host: sa.ip().to_string(),
                port: sa.port(),
            });
        }
        if let Ok(ip) = s.parse::<std::net::IpAddr>() {
            return Ok(Endpoint {
                host: ip.to_string(),
                port: default_port,
            });
        }
        if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            return Endpoint::parse(inner, default_port);
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("'{p}' is not a port number (1-65535)"))?;
                (h, port)
            }
            None => (s, default_port),
        };
        if port == 0 {
            return Err("port 0 is not a valid target port".into());
        }
        let valid = !host.is_empty()
            && host.len() <= 253
            && host
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
        if !valid {
            return Err(format!("'{host}' is not a valid host name"));
        }
        Ok(Endpoint {
            host: host.to_string(),
            port,
        })
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// Resolve and connect, trying each address in turn within one overall timeout.
pub async fn dial(
    target: &Endpoint,
    resolver: &dyn Resolver,
    timeout: Duration,
) -> Result<TcpStream, ConnectError> {
    let addrs =
        match tokio::time::timeout(timeout, resolver.resolve(&target.host, target.port)).await {
            Ok(Ok(a)) if !a.is_empty() => a,
            Ok(Ok(_)) => {
                return Err(ConnectError::Dns {
                    host: target.host.clone(),
                    error: "no addresses".into(),
                })
            }
            Ok(Err(e)) => {
                return Err(ConnectError::Dns {
                    host: target.host.clone(),
                    error: e.to_string(),
                })
            }
            Err(_) => {
                return Err(ConnectError::Dns {
                    host: target.host.clone(),
                    error: format!("no answer within {} ms", timeout.as_millis()),
                })
            }
        };
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last = None;
    for addr in &addrs {
        match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                super::sockopt::bound_unacked(&s);
                return Ok(s);
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
                last = Some(ConnectError::Refused {
                    addr: addr.to_string(),
                })
            }
            // A reset during connect means the handshake completed: the host was reached.
            Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => {
                last = Some(ConnectError::Reset {
                    addr: addr.to_string(),
                });
                break;
            }
            Ok(Err(e)) => {
                last = Some(ConnectError::Other {
                    addr: addr.to_string(),
                    error: e.to_string(),
                })
            }
            Err(_) => {
                last = Some(ConnectError::Timeout {
                    addr: addr.to_string(),
                    timeout_ms: timeout.as_millis() as u64,
                });
                break;
            }
        }
    }
    Err(last.unwrap_or(ConnectError::Other {
        addr: target.to_string(),
        error: "no address could be tried".into(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resolver that knows no names, so tests never make a real DNS lookup.
    struct NoNames;
    impl Resolver for NoNames {
        fn resolve<'a>(
            &'a self,
            host: &'a str,
            _port: u16,
        ) -> Pin<Box<dyn Future<Output = io::Result<Vec<SocketAddr>>> + Send + 'a>> {
            Box::pin(async move {
                Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{host}: name not known"),
                ))
            })
        }
    }

    #[tokio::test]
    async fn dns_failure_is_reported_as_dns() {
        let t = Endpoint::parse("rdp.invalid:3389", 3389).unwrap();
        let e = dial(&t, &NoNames, Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(e, ConnectError::Dns { .. }), "{e:?}");
    }

    #[tokio::test]
    async fn refused_is_reported_as_refused() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let t = Endpoint::parse(&format!("127.0.0.1:{port}"), 3389).unwrap();
        let e = dial(&t, &SystemResolver, Duration::from_secs(2))
            .await
            .unwrap_err();
        assert!(matches!(e, ConnectError::Refused { .. }), "{e:?}");
    }

    #[test]
    fn endpoints_parse() {
        assert_eq!(Endpoint::parse("host", 3389).unwrap().port, 3389);
        assert_eq!(Endpoint::parse("host:3390", 3389).unwrap().port, 3390);
        assert_eq!(Endpoint::parse("::1", 3389).unwrap().host, "::1");
        assert_eq!(Endpoint::parse("[::1]:5", 3389).unwrap().port, 5);
        assert!(Endpoint::parse("host:99999", 3389).is_err());
        assert!(Endpoint::parse("bad host", 3389).is_err());
    }
}
