//! The whole gateway pipeline on decrypted bytes: HTTP, then WebSocket frames or a
//! chunked or raw body, then MS-TSGU packets, then the inner RDP in DATA packets, then
//! the gateway session's diagnosis, as the gateway tracker runs it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::proxy::tunnels::Registry;
use rdptap::session::tracker::GatewayTracker;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let registry = Arc::new(Registry::new());
    let link = Box::new(registry.link(1, None));
    let mut t = GatewayTracker::new(rdptap_fuzz::drive::conn_info(), link, false);
    rdptap_fuzz::drive::tracker(&mut t, &rdptap_fuzz::script(data), true);
});
