//! A direct connection's tracker on wire bytes: every decoder of the direct path, then
//! the rule chain that gives the verdict, and the events read back from JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::session::tracker::DirectTracker;

fuzz_target!(|data: &[u8]| {
    let mut t = DirectTracker::new(rdptap_fuzz::drive::conn_info());
    rdptap_fuzz::drive::tracker(&mut t, &rdptap_fuzz::script(data), false);
});
