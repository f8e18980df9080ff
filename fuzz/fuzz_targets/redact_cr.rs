//! The redactor of a raw leg's X.224 Connection Request (the mstshash cookie). The first chunk's spare bits turn on `--redact-users`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rdptap::record::redact::FlowProto;

fuzz_target!(|data: &[u8]| {
    rdptap_fuzz::redact::run(FlowProto::Cr, data);
});
