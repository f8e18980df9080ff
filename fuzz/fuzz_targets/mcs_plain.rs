//! MCS and the RDP PDUs in the clear, as standard RDP security carries them (from the
//! MCS Connect-Initial on).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::decode::plain::{PlainDecoder, Security};

fuzz_target!(|data: &[u8]| {
    let mut dec = PlainDecoder::new(Security::Standard);
    let mut out = Vec::new();
    for c in rdptap_fuzz::script(data) {
        dec.feed(c.dir, c.data, &mut out);
        out.clear();
    }
    let _ = (dec.stats(), dec.protection());
});
