//! The TLS record and handshake decoder, both directions.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::decode::tls::TlsDecoder;

fuzz_target!(|data: &[u8]| {
    let mut dec = TlsDecoder::new();
    let mut out = Vec::new();
    for c in rdptap_fuzz::script(data) {
        let _ = dec.feed(c.dir, c.data, &mut out);
        out.clear();
    }
});
