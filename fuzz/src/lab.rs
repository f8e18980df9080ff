//! The lab gateway's parsers of what a client sends.

use rdptap::lab::auth::{AuthMode, ChannelAuth};
use rdptap::lab::http_io::{parse_head, ChunkDecoder};
use rdptap::lab::ntlm_challenge;
use rdptap::lab::packet_io::Inbound;

/// The first byte picks the parser; the rest is its input.
pub fn run(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    match pick % 5 {
        0 => head(rest, pick),
        1 => chunks(rest, pick),
        2 => ntlm(rest),
        3 => inbound(rest, false),
        _ => inbound(rest, true),
    }
}

/// A request head, then each way the lab may authenticate it.
fn head(data: &[u8], pick: u8) {
    let Ok(Some((req, used))) = parse_head(data) else {
        return;
    };
    assert!(used <= data.len());
    let _ = (req.content_length(), req.chunked(), req.wants_websocket());
    for mode in [AuthMode::None, AuthMode::Basic, AuthMode::NtlmAny] {
        let mut auth = ChannelAuth::new(mode, pick & 0x80 != 0);
        let _ = auth.step(&req, &mut |_| {});
        // A second round, as the NTLM handshake's AUTHENTICATE comes on the same channel.
        let _ = auth.step(&req, &mut |_| {});
    }
}

/// A chunked body, in pieces of the size the top bits of `pick` say.
fn chunks(data: &[u8], pick: u8) {
    let size = usize::from(pick >> 3) + 1;
    let mut dec = ChunkDecoder::new();
    let mut got = 0usize;
    for piece in data.chunks(size) {
        if dec.feed(piece, &mut |b: &[u8]| got += b.len()).is_err() {
            break;
        }
    }
    assert!(got <= data.len());
    let _ = dec.done();
}

/// An NTLM message, read as each of the lab's parsers reads one.
fn ntlm(data: &[u8]) {
    let _ = ntlm_challenge::message_type(data);
    let flags = ntlm_challenge::negotiate_flags(data);
    let _ = ntlm_challenge::challenge_flags(flags);
    let _ = ntlm_challenge::authenticate_names(data);
}

/// The packets a client sends on the IN channel (chunked) or over WebSocket.
fn inbound(data: &[u8], websocket: bool) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime builds");
    let (first, later) = data.split_at(data.len() / 3);
    let reader = Box::new(std::io::Cursor::new(later.to_vec()));
    let mut inbound = if websocket {
        Inbound::websocket(reader, first.to_vec())
    } else {
        Inbound::chunked(reader, first.to_vec())
    };
    rt.block_on(async {
        // Each packet is at least a header long, so this bounds the loop.
        for _ in 0..=data.len() {
            match inbound.next().await {
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    });
}
