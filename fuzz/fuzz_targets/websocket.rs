//! WebSocket frames one way, in pieces of a size the fuzzer picks; the first byte's top
//! bit picks the direction (a client's frames must be masked, a server's must not).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::decode::ws::WsDecoder;
use rdptap::vocab::Dir;

fuzz_target!(|data: &[u8]| {
    let dir = if data.first().is_some_and(|b| b & 0x80 != 0) {
        Dir::S2C
    } else {
        Dir::C2S
    };
    let (size, stream) = rdptap_fuzz::pieces(data);
    let mut dec = WsDecoder::new(dir);
    let mut events = Vec::new();
    let mut payload = 0usize;
    for piece in stream.chunks(size) {
        dec.feed(piece, &mut events, &mut |p: &[u8]| payload += p.len());
        events.clear();
    }
    // Payload is unmasked in place of the frame's bytes, never more of it.
    assert!(payload <= stream.len());
});
