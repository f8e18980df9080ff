//! The pcapng reader rdptap uses on its own traces (the bundle's filtering and the
//! tests): blocks, options, packets, interfaces, secrets, TCP segments, and the
//! rewrite that keeps some interfaces.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::record::pcapng::read;

fuzz_target!(|data: &[u8]| {
    for b in read::blocks(data) {
        let Ok(b) = b else { break };
        let _ = read::options(b.body, 0).count();
        if let Some(p) = read::packet(&b) {
            let _ = read::segment(p.data);
        }
        let _ = read::interface(&b);
        let _ = read::secrets(&b);
    }
    let out = read::rewrite(data, |name| name.len() % 2 == 0);
    // Keeping some interfaces never grows the file beyond its input.
    assert!(out.len() <= data.len() + 64);
});
