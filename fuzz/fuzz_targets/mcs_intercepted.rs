//! MCS and the RDP PDUs in the plaintext of an intercepted TLS connection (CredSSP
//! first, when the client sends it), through the direct decoder's intercepted path.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::decode::rdp::RdpDecoder;

fuzz_target!(|data: &[u8]| {
    let mut dec = RdpDecoder::new();
    dec.tls_intercepted();
    let mut out = Vec::new();
    for c in rdptap_fuzz::script(data) {
        dec.feed_plain(c.dir, c.data, &mut out);
        out.clear();
    }
    let _ = (dec.plain_stats(), dec.io_protection());
});
