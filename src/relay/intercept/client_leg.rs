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
use crate::tls::ca::CaName;
use crate::tls::leaf::{Leaf, Shown, Spec};
use crate::tls::mirror::Mirror;
use crate::vocab::Dir;
use crate::vocab::Leg;
use bytes::Bytes;
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;
use tokio_rustls::{FallibleAccept, TlsAcceptor};

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
    /// rdptap's own handshake with the host failed or was refused before the client's
    /// leaf could be chosen; the socket is untouched beyond the ClientHello.
    Unanswered {
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
        /// What the leaf says: who signed it, what it mirrors.
        shown: Shown,
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
    /// What the leaf must mirror of the host's certificate, once rdptap's own handshake
    /// has judged it; None when the client may not be answered.
    pub decision: oneshot::Receiver<Option<Mirror>>,
}

/// Reads the ClientHello (filling in `hs`) and, when it can be intercepted, runs the
/// acceptor up to the gate and, once the gate opens, to the end of the handshake.
///
/// With mirroring, the leaf depends on the host's certificate, which rdptap's own
/// handshake is still judging. The answer is computed meanwhile with a guess (what the
/// last connection to this host mirrored, or nothing), behind a gate of its own: the
/// host side's decision then lets it go, or drops it unsent and starts again from the
/// same ClientHello with the right leaf.
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
    let minter = &c.ctx.minter;
    let leaf_for = minter.leaf_name(hs.hello.sni.as_deref(), &hs.target_name);
    let name = match CaName::parse(&leaf_for) {
        Ok(n) => n,
        Err(e) => {
            return ClientSide::MintFailed {
                error: e.to_string(),
                client,
            }
        }
    };
    let mirroring = minter.mirroring();
    let guess = if mirroring {
        c.ctx.guess(&hs.target_name)
    } else {
        Mirror::default()
    };
    let leaf = match c.ctx.leaf(Spec::new(name.clone(), guess.clone())).await {
        Ok(leaf) => leaf,
        Err(error) => return ClientSide::MintFailed { error, client },
    };
    c.obs.on_wire(Leg::Client, Dir::C2S, &ch);
    hs.ch_on_wire = true;
    // Without mirroring the leaf is known: the host side's gate holds the answer back.
    let gate = if mirroring {
        Gate::new()
    } else {
        c.gate.clone()
    };
    let started = Instant::now();
    let first = accept(&c, &leaf, &ch, client, gate.clone());
    if !mirroring {
        return finish(&mut c, first, leaf_for, leaf.shown.clone(), started).await;
    }
    let mut first = Box::pin(first);
    let decided = tokio::select! {
        biased;
        _ = c.shutdown.changed() => return ClientSide::Stopped,
        d = &mut c.decision => d.ok().flatten(),
        // Only a ClientHello rustls rejects ends the acceptor before the gate opens.
        r = &mut first => return accepted(r, leaf_for, leaf.shown.clone(), started),
    };
    if decided.as_ref() == Some(&guess) {
        gate.open();
        return finish(&mut c, first, leaf_for, leaf.shown.clone(), started).await;
    }
    // A wrong guess: nothing was sent, and nothing read past the ClientHello.
    gate.shut();
    let client = match first.await {
        Err((_, io)) => into_tcp(io),
        // The gate never opened, so the handshake cannot have completed.
        r @ Ok(_) => return accepted(r, leaf_for, leaf.shown.clone(), started),
    };
    let Some(mirror) = decided else {
        return ClientSide::Unanswered { client };
    };
    let leaf = match c.ctx.leaf(Spec::new(name, mirror)).await {
        Ok(leaf) => leaf,
        Err(error) => return ClientSide::MintFailed { error, client },
    };
    let started = Instant::now();
    // The host side opened its gate with this decision.
    let again = accept(&c, &leaf, &ch, client, c.gate.clone());
    finish(&mut c, again, leaf_for, leaf.shown.clone(), started).await
}

/// The acceptor for the client's leg presenting `leaf`, fed the ClientHello already
/// read, behind `gate`.
fn accept(
    c: &ClientCtx<'_>,
    leaf: &Leaf,
    ch: &Bytes,
    client: TcpStream,
    gate: Gate,
) -> FallibleAccept<ClientIo> {
    let held = Held::new(Wire::new(client, c.obs.clone(), Leg::Client), gate);
    TlsAcceptor::from(Arc::clone(&leaf.config))
        .accept(Prefixed::new(ch.clone(), held))
        .into_fallible()
}

/// Runs the acceptor to its end, within the handshake's time limit.
async fn finish<F>(
    c: &mut ClientCtx<'_>,
    accept: F,
    leaf_for: String,
    shown: Shown,
    started: Instant,
) -> ClientSide
where
    F: std::future::Future<Output = AcceptResult>,
{
    // The host's handshake has its own limit; the client then gets a full one too.
    let limit = c.ctx.handshake_timeout * 2;
    tokio::select! {
        biased;
        _ = c.shutdown.changed() => ClientSide::Stopped,
        r = tokio::time::timeout(limit, accept) => match r {
            Ok(result) => accepted(result, leaf_for, shown, started),
            Err(_) => ClientSide::TimedOut,
        },
    }
}

/// What a finished acceptor returns.
type AcceptResult = Result<ClientTls, (io::Error, ClientIo)>;

fn accepted(result: AcceptResult, leaf_for: String, shown: Shown, started: Instant) -> ClientSide {
    ClientSide::Accepted {
        result: result.map(Box::new).map_err(|(e, io)| (e, Box::new(io))),
        leaf_for,
        shown,
        started,
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
