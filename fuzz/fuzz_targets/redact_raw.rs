//! The redactor of a raw leg: its clear Connection Request (the mstshash cookie), then
//! RDP in the clear as under standard RDP security, until the leg turns to TLS. The first
//! chunk's spare bits turn on `--redact-users`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::record::redact::FlowProto;

fuzz_target!(|data: &[u8]| {
    rdptap_fuzz::redact::run(FlowProto::Raw, data);
});
