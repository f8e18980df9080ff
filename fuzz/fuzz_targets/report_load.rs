//! The report's event loader, then the text and HTML reports it renders, on any lines.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::record::report;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(r) = report::from_lines("fuzz.jsonl", text.lines()) {
        let _ = report::render_text(&r);
        let _ = report::render_html(&r);
        let _ = r.notices();
    }
});
