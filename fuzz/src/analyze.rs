//! `rdptap analyze` on a capture held in memory, with its output kept in memory.

use rdptap::analyze::engine::{self, Settings};
use rdptap::analyze::output::Output;
use rdptap::capfile::CaptureReader;
use rdptap::decrypt::KeyLog;
use rdptap::session::event::EventLine;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// Analyses `data` as a capture; checks that every event line it wrote reads back.
pub fn run(data: &[u8]) {
    let reader = CaptureReader::new("fuzz.pcap", std::io::Cursor::new(data));
    let mut out = Output::new(None, true).expect("an in-memory output opens");
    out.console = false;
    let settings = Settings {
        target: None,
        roots: Arc::new(rustls::RootCertStore::empty()),
        linger: Duration::from_secs(5),
    };
    let stop = AtomicBool::new(false);
    let _ = engine::run(reader, KeyLog::new(), &settings, &mut out, &stop);
    for line in out.lines.iter().flatten() {
        if let Err(e) = EventLine::from_json(line) {
            panic!("an event analyze wrote does not read back: {e}\n{line}");
        }
    }
}
