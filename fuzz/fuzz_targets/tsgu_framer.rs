//! The MS-TSGU framer, fed in pieces, with each whole packet decoded and put through the
//! order checker as a client (odd pieces) or gateway (even pieces) packet.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::decode::tsgu::{OrderChecker, Packet, TsguFramer};
use rdptap::vocab::Dir;

fuzz_target!(|data: &[u8]| {
    let (size, stream) = rdptap_fuzz::pieces(data);
    let mut framer = TsguFramer::new();
    let mut order = OrderChecker::new();
    let mut framed = 0usize;
    for (i, piece) in stream.chunks(size).enumerate() {
        let dir = if i % 2 == 0 { Dir::S2C } else { Dir::C2S };
        framer.push(piece, &mut |frame: &[u8]| {
            framed += frame.len();
            if let Ok(p) = Packet::decode(frame) {
                let _ = order.check(dir, &p);
                let _ = p.packet_type().to_string();
            }
        });
    }
    assert!(framed + framer.pending() <= stream.len());
    let _ = (
        framer.error(),
        framer.expected(),
        framer.offset(),
        order.refusal(),
    );
});
