//! Verdicts when rdptap's certificate mirrors the host's problem: the client's reaction
//! decides. Accepted means `ok` with the finding as a warning; refused means the
//! finding is the cause.

use super::decrypted::leg;
use super::*;
use crate::decode::note::{LeafSigner, Mirrored, Note};
use crate::session::Severity;

fn expired() -> CertProblem {
    CertProblem::Expired {
        not_after: "2021-01-01T00:00:00Z".into(),
    }
}

impl T {
    /// rdptap's handshake with a host whose certificate has `problems`, then the leaf it
    /// presents, signed by `signer` and mirroring `mirrors`.
    fn presented(
        &mut self,
        problems: Vec<CertProblem>,
        signer: LeafSigner,
        mirrors: Vec<Mirrored>,
    ) -> &mut Self {
        self.negotiate(1, 1)
            .wait(1)
            .note(Note::UpstreamTls {
                tls: leg(),
                chain: vec![],
                resumed: false,
                pin_matched: None,
            })
            .push(Some(Dir::S2C), What::CertAssessed(problems))
            .note(Note::LeafPresented {
                leaf_for: "127.0.0.1".into(),
                signed_by: signer,
                mirrors,
                names: vec!["127.0.0.1".into()],
                not_before: "2020-01-01T00:00:00Z".into(),
                not_after: "2021-01-01T00:00:00Z".into(),
            })
    }

    /// The client completed its handshake with rdptap.
    fn client_tls(&mut self) -> &mut Self {
        self.wait(1)
            .note(Note::ClientTls {
                tls: leg(),
                leaf_for: "127.0.0.1".into(),
            })
            .phase(Phase::TlsSession)
    }
}

#[test]
fn an_accepted_mirrored_certificate_is_ok_with_the_finding_as_a_warning() {
    let mut t = T::new();
    t.presented(
        vec![CertProblem::SelfSigned],
        LeafSigner::UntrustedCa,
        vec![Mirrored::Untrusted],
    )
    .client_tls()
    .phase(Phase::Active)
    .wait(5000)
    .end(Dir::C2S, EndKind::Fin);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::Ok, "{v:#?}");
    assert_eq!(v.warnings.len(), 1, "{v:#?}");
    let w = &v.warnings[0];
    assert_eq!(
        (w.cause, w.severity),
        (Cause::CertSelfSigned, Severity::Warning)
    );
    assert_eq!(
        w.detail,
        "the certificate is self-signed (not issued by a trusted CA) (rdptap's certificate mirrored it to the client)"
    );
}

#[test]
fn a_mirrored_certificate_refused_with_an_alert_makes_the_finding_the_cause() {
    let mut t = T::new();
    t.presented(
        vec![
            expired(),
            CertProblem::Untrusted {
                reason: "it is self-signed (not issued by a trusted CA)".into(),
            },
            CertProblem::SelfSigned,
        ],
        LeafSigner::UntrustedCa,
        vec![Mirrored::Expired, Mirrored::Untrusted],
    )
    .wait(3)
    .note(Note::ClientTlsFailed {
        alert: Some(AlertDescription(48)),
        error: "the client sent the TLS alert unknown_ca".into(),
    })
    .end(Dir::C2S, EndKind::Fin)
    .end(Dir::S2C, EndKind::Aborted);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::CertExpired, "{v:#?}");
    assert!(!v.inferred, "the alert was read");
    assert_eq!(
        (v.closed_by, v.close_kind),
        (ClosedBy::Client, CloseKind::TlsAlert)
    );
    assert!(v.summary.contains("2021-01-01"), "{}", v.summary);
    assert!(
        v.summary
            .contains("signed by rdptap's per-run untrusted CA"),
        "{}",
        v.summary
    );
    assert!(v.hint.contains("renew"), "{}", v.hint);
    let w: Vec<Cause> = v.warnings.iter().map(|w| w.cause).collect();
    assert_eq!(w, vec![Cause::CertSelfSigned]);
}

#[test]
fn a_quick_silent_close_after_a_mirrored_name_is_the_name_mismatch() {
    let mut t = T::new();
    t.presented(
        vec![CertProblem::NameMismatch {
            expected: "127.0.0.1".into(),
            presented: vec!["other-host.example".into()],
        }],
        LeafSigner::LocalCa,
        vec![Mirrored::NameMismatch],
    )
    .client_tls()
    .wait(40)
    .end(Dir::C2S, EndKind::Fin);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::CertNameMismatch, "{v:#?}");
    assert!(v.inferred);
    assert!(
        v.summary.contains("signed by rdptap's local CA"),
        "{}",
        v.summary
    );
    assert!(v.summary.contains("closed 40 ms after"), "{}", v.summary);
}

#[test]
fn a_refused_clean_certificate_is_still_the_local_ca() {
    // The host's only problem is rdptap's own --pin check, which no certificate can
    // carry: the client refused rdptap's CA, not the host.
    let mut t = T::new();
    t.presented(
        vec![CertProblem::PinMismatch {
            presented: "ab".into(),
        }],
        LeafSigner::LocalCa,
        vec![],
    )
    .client_tls()
    .wait(40)
    .end(Dir::C2S, EndKind::Fin);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::ClientRejectedProxyCert, "{v:#?}");
    assert!(
        v.warnings
            .iter()
            .any(|w| w.cause == Cause::CertPinMismatch && w.detail.ends_with("sha256 ab)")),
        "{v:#?}"
    );
}

#[test]
fn without_mirroring_a_refusal_is_the_local_ca_and_findings_are_hidden() {
    let mut t = T::new();
    t.presented(vec![expired()], LeafSigner::LocalCa, vec![])
        .client_tls()
        .wait(40)
        .end(Dir::C2S, EndKind::Fin);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::ClientRejectedProxyCert, "{v:#?}");
    assert!(
        v.warnings[0]
            .detail
            .ends_with("(hidden from the client by interception)"),
        "{v:#?}"
    );
}

#[test]
fn a_ca_certificate_is_a_note_that_fails_nothing() {
    let mut t = T::new();
    t.presented(
        vec![CertProblem::CaCertificate],
        LeafSigner::LocalCa,
        vec![],
    )
    .client_tls()
    .phase(Phase::Active)
    .wait(5000)
    .end(Dir::C2S, EndKind::Fin);
    let v = t.verdict();
    assert_eq!(v.cause, Cause::Ok, "{v:#?}");
    assert_eq!(v.warnings.len(), 1);
    assert_eq!(
        (v.warnings[0].cause, v.warnings[0].severity),
        (Cause::CertIsCa, Severity::Note)
    );
    let json = serde_json::to_value(&v.warnings[0]).unwrap();
    assert_eq!(json["severity"], "note");
}

#[test]
fn in_passthrough_a_ca_certificate_is_never_the_cause() {
    let mut t = T::new();
    t.negotiate(1, 1).handshake();
    t.push(
        Some(Dir::S2C),
        What::CertAssessed(vec![CertProblem::CaCertificate]),
    );
    t.wait(300).end(Dir::C2S, EndKind::Fin);
    let v = t.verdict();
    // A quick close with only a note is not a certificate refusal: the orderly close
    // after the handshake stands.
    assert_eq!(v.cause, Cause::Ok, "{v:#?}");
    assert_eq!(v.warnings[0].severity, Severity::Note);
}

#[test]
fn warnings_written_without_a_severity_read_back_as_warnings() {
    let w: Warning =
        serde_json::from_value(serde_json::json!({"cause": "cert_expired", "detail": "x"}))
            .unwrap();
    assert_eq!(w.severity, Severity::Warning);
    let back = serde_json::to_value(&w).unwrap();
    assert!(back.get("severity").is_none(), "{back}");
}
