//! The documentation keeps up with the code's closed vocabularies: every cause and
//! every phase a verdict can name is explained in docs/events.md.

use rdptap::session::{Cause, Phase};

fn events_md() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/events.md")).unwrap()
}

#[test]
fn every_cause_is_documented() {
    let doc = events_md();
    let missing: Vec<&str> = Cause::ALL
        .iter()
        .map(|c| c.id())
        .filter(|id| !doc.contains(&format!("`{id}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/events.md does not explain these causes: {missing:?}"
    );
}

#[test]
fn every_phase_is_documented() {
    let doc = events_md();
    let missing: Vec<&str> = Phase::ALL
        .iter()
        .map(|p| p.id())
        .filter(|id| !doc.contains(&format!("`{id}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/events.md does not explain these phases: {missing:?}"
    );
}
