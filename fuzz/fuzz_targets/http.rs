//! Gateway HTTP, both directions: heads, bodies of every framing, upgrades, and what a
//! direction ending cuts short.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::decode::http::{HttpConn, HttpEvent, HttpSink};
use rdptap::vocab::Dir;

/// Keeps the events and counts the body bytes.
#[derive(Default)]
struct Sink {
    events: Vec<HttpEvent>,
    body: [u64; 2],
}

impl HttpSink for Sink {
    fn event(&mut self, ev: HttpEvent) {
        self.events.push(ev);
    }
    fn body(&mut self, dir: Dir, bytes: &[u8]) {
        self.body[dir.idx()] += bytes.len() as u64;
    }
}

fuzz_target!(|data: &[u8]| {
    let mut conn = HttpConn::new();
    let mut sink = Sink::default();
    let mut fed = [0u64; 2];
    for c in rdptap_fuzz::script(data) {
        conn.feed(c.dir, c.data, &mut sink);
        fed[c.dir.idx()] += c.data.len() as u64;
        if c.end {
            conn.finish(c.dir, &mut sink);
        }
        sink.events.clear();
    }
    // Body bytes are a part of what was fed: the decoder never invents any.
    for d in [Dir::C2S, Dir::S2C] {
        assert!(sink.body[d.idx()] <= fed[d.idx()]);
    }
});
