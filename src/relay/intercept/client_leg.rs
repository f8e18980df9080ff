//! The client's side of an intercepted TLS connection: its ClientHello, a leaf for the
//! name it asked for, and rdptap's answer. The answer is computed while rdptap's own
//! handshake with the host runs, but held back until that has succeeded (see
//! [`super::held`]), so a host rdptap cannot speak to still gets the client's own TLS.

use super::frames::{read_first, Expect, Read};
use super::held::{Gate, Held};
use super::prefixed::Prefixed;
use super::upstream::{hello_of, AsTcp, Handshake};
use super::wire::Wire;
use super::InterceptCtx;
use crate::relay::Observer;
use crate::vocab::Dir;
use crate::vocab::Leg;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

/// The client's socket as the TLS acceptor uses it.
pub type ClientIo = Prefixed<Held<Wire<TcpStream>>>;

/// The client's leg once its handshake is done.
pub type ClientTls = tokio_rustls::server::TlsStream<ClientIo>;

/// How the client's side ended up.
pub enum ClientSide {
    /// No ClientHello came: what was read instead, and the socket.
    NoHello {
        /// What was read.
        read: Read,
        /// The client's socket.
        client: TcpStream,
    },
    /// The ClientHello offers nothing rustls can answer.
    Unspeakable {
        /// The client's socket.
        client: TcpStream,
    },
    /// No certificate could be minted for the name.
    MintFailed {
        /// Why.
        error: String,
        /// The client's socket.
        client: TcpStream,
    },
    /// rdptap is stopping; the socket is closed.
    Stopped,
    /// The client's handshake took too long; the socket is closed.
    TimedOut,
    /// The acceptor ran to its end.
    Accepted {
        /// The leg, or the error and the socket untouched beyond the ClientHello when
        /// the gate was shut.
        result: Result<Box<ClientTls>, (io::Error, Box<ClientIo>)>,
        /// The name the leaf was minted for.
        leaf_for: String,
        /// When the acceptor started.
        started: Instant,
    },
}

/// Everything the client's side needs besides the socket.
pub struct ClientCtx<'a> {
    /// Shared interception settings.
    pub ctx: &'a InterceptCtx,
    /// Sees the ClientHello and the leg's raw bytes.
    pub obs: Arc<dyn Observer>,
    /// Idle limit while waiting for the ClientHello.
    pub wait: Option<Duration>,
    /// The client's first-byte deadline, when it has sent nothing yet.
    pub first_by: Option<Instant>,
    /// rdptap is stopping.
    pub shutdown: watch::Receiver<bool>,
    /// Opened by the host's side when the client may be answered.
    pub gate: Gate,
}

/// Reads the ClientHello (filling in `hs`) and, when it can be intercepted, runs the
/// acceptor up to the gate and, once the gate opens, to the end of the handshake.
pub async fn answer(mut c: ClientCtx<'_>, mut client: TcpStream, hs: &mut Handshake) -> ClientSide {
    let ch = match read_first(
        &mut client,
        Expect::ClientHello,
        c.wait,
        c.first_by,
        &mut c.shutdown,
    )
    .await
    {
        Read::Whole { msg, rest } if rest.is_empty() => msg,
        read => return ClientSide::NoHello { read, client },
    };
    // Decoded now; on the client's leg of the trace it appears once the answer is
    // under way, or when the fallback relays it.
    c.obs.on_decode_only(Dir::C2S, &ch);
    hs.hello = hello_of(&ch);
    hs.ch_len = ch.len() as u64;
    hs.ch = ch.clone();
    if !crate::tls::rustls_cfg::client_offer_is_speakable(&hs.hello.versions, &hs.hello.suites) {
        return ClientSide::Unspeakable { client };
    }
    let leaf_for = hs
        .hello
        .sni
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| hs.target_name.clone());
    let scfg = match c.ctx.server_config(&leaf_for).await {
        Ok(cfg) => cfg,
        Err(error) => return ClientSide::MintFailed { error, client },
    };
    c.obs.on_wire(Leg::Client, Dir::C2S, &ch);
    hs.ch_on_wire = true;
    let held = Held::new(Wire::new(client, c.obs.clone(), Leg::Client), c.gate);
    let started = Instant::now();
    let accept = TlsAcceptor::from(scfg)
        .accept(Prefixed::new(ch, held))
        .into_fallible();
    // The host's handshake has its own limit; the client then gets a full one too.
    let limit = c.ctx.handshake_timeout * 2;
    tokio::select! {
        biased;
        _ = c.shutdown.changed() => ClientSide::Stopped,
        r = tokio::time::timeout(limit, accept) => match r {
            Ok(result) => ClientSide::Accepted {
                result: result.map(Box::new).map_err(|(e, io)| (e, Box::new(io))),
                leaf_for,
                started,
            },
            Err(_) => ClientSide::TimedOut,
        },
    }
}

/// The client's socket, out of the acceptor's wrappers.
pub fn into_tcp(io: ClientIo) -> TcpStream {
    io.into_inner().into_inner().into_inner()
}

impl<T: AsTcp> AsTcp for Held<T> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().tcp()
    }
}
