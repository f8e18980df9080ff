//! A scripted RD Gateway client: one TLS connection from a chosen loopback address,
//! requests written as given (secrets, odd headers and reused ids included), responses
//! read back. The tests use it where a real client cannot be told to send something.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// One TLS connection to rdptap (or any gateway) that trusts `ca_pem`.
pub struct GwClient {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
}

impl GwClient {
    /// Connects from `from` (any port) to `to`, and completes TLS for `localhost`.
    pub fn connect(from: IpAddr, to: SocketAddr, ca_pem: &Path) -> io::Result<GwClient> {
        let tcp = connect_from(from, to)?;
        tcp.set_read_timeout(Some(Duration::from_secs(10)))?;
        tcp.set_write_timeout(Some(Duration::from_secs(10)))?;
        let bad = |e: rustls::Error| io::Error::other(e.to_string());
        let mut roots = rustls::RootCertStore::empty();
        for c in
            CertificateDer::pem_file_iter(ca_pem).map_err(|e| io::Error::other(e.to_string()))?
        {
            roots
                .add(c.map_err(|e| io::Error::other(e.to_string()))?)
                .map_err(bad)?;
        }
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(bad)?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let name =
            ServerName::try_from("localhost").map_err(|e| io::Error::other(e.to_string()))?;
        let conn = rustls::ClientConnection::new(Arc::new(cfg), name).map_err(bad)?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        while tls.conn.is_handshaking() {
            tls.conn.complete_io(&mut tls.sock)?;
        }
        Ok(GwClient { tls })
    }

    /// Writes `bytes` as they are.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tls.write_all(bytes)?;
        self.tls.flush()
    }

    /// Reads one response head (up to its empty line).
    pub fn response_head(&mut self) -> io::Result<String> {
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            if self.tls.read(&mut b)? == 0 {
                break;
            }
            head.push(b[0]);
            if head.len() > 64 * 1024 {
                return Err(io::Error::other("response head over 64 KiB"));
            }
        }
        Ok(String::from_utf8_lossy(&head).into_owned())
    }

    /// Sends close_notify and closes the socket.
    pub fn close(mut self) {
        self.tls.conn.send_close_notify();
        let _ = self.tls.conn.complete_io(&mut self.tls.sock);
        let _ = self.tls.sock.shutdown(std::net::Shutdown::Both);
    }
}

/// A TCP connection from address `from` (the kernel picks the port) to `to`.
fn connect_from(from: IpAddr, to: SocketAddr) -> io::Result<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let tcp = rt.block_on(async {
        let s = match from {
            IpAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
            IpAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
        };
        s.bind(SocketAddr::new(from, 0))?;
        s.connect(to).await?.into_std()
    })?;
    tcp.set_nonblocking(false)?;
    Ok(tcp)
}
