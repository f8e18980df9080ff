//! TPKT/X.224 and everything a direct connection's decoder reads after it: the
//! Connection Request and Confirm, then TLS records or clear MCS.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::decode::rdp::RdpDecoder;

fuzz_target!(|data: &[u8]| {
    let mut dec = RdpDecoder::new();
    let mut out = Vec::new();
    for c in rdptap_fuzz::script(data) {
        dec.feed(c.dir, c.data, &mut out);
        out.clear();
    }
    let _ = (
        dec.finished(),
        dec.in_tls(),
        dec.plain_stats(),
        dec.io_protection(),
    );
});
