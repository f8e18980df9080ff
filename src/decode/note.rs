//! What the transport itself did or learned, for the session's timeline. Decoders see
//! bytes; these notes cover what only the driver of a tracker knows: how the relay's own
//! TLS handshakes on each leg went and when it chose not to intercept, or, for a capture
//! that `analyze` reads, what the capture is missing and whether its TLS was decrypted.

use crate::decode::names::Protocols;
use crate::decode::tls::names::{AlertDescription, CipherSuite, TlsVersion};
use crate::decode::x509::CertInfo;
use crate::vocab::closed_vocab;
use crate::vocab::{Dir, FarEnd, Layer};
use serde::{Deserialize, Serialize};

closed_vocab! {
    /// Why a connection was relayed untouched although `--intercept` was on.
    pub enum NotIntercepted {
        /// The server selected CredSSP (HYBRID/HYBRID_EX), which binds the host's TLS key:
        /// terminating TLS would break NLA, so `--nla passthrough` leaves it alone.
        NlaPassthrough = ("nla_passthrough", "the host selected NLA (CredSSP), which binds the host's own TLS key; relaying TLS untouched (--nla passthrough)"),
        /// The server selected standard RDP security: there is no TLS to terminate.
        RdpSecurity = ("rdp_security", "the host selected standard RDP security; there is no TLS to intercept"),
        /// The server selected RDSTLS or RDSAAD, which rdptap does not terminate.
        OtherProtocol = ("other_protocol", "the host selected RDSTLS or RDSAAD, which rdptap relays untouched"),
        /// The server refused the negotiation (RDP_NEG_FAILURE).
        NegotiationFailed = ("negotiation_failed", "the host refused the security negotiation"),
        /// The client's first bytes were not a plain X.224 Connection Request (a
        /// preconnection PDU, or not RDP at all).
        UnusualStart = ("unusual_start", "the client did not start with a plain X.224 Connection Request"),
        /// The client offers only TLS versions or suites rdptap cannot speak.
        ClientTlsIncompatible = ("client_tls_incompatible", "the client offers only TLS versions or cipher suites rdptap cannot speak; relaying its TLS untouched"),
        /// The host's TLS could not be spoken by rdptap; the client's own TLS was relayed.
        UpstreamTlsIncompatible = ("upstream_tls_incompatible", "rdptap could not speak the host's TLS; relaying the client's own TLS untouched"),
    }
}

closed_vocab! {
    /// Which of rdptap's CAs signed the certificate it presented to the client.
    pub enum LeafSigner {
        /// The local CA, the one clients are told to trust (`rdptap ca show`).
        LocalCa = ("local_ca", "rdptap's local CA"),
        /// A CA made in memory for this run, which no client trusts: it signs only
        /// leaves for hosts whose own certificate is untrusted or self-signed.
        UntrustedCa = ("untrusted_ca", "rdptap's per-run untrusted CA"),
    }
}

closed_vocab! {
    /// A problem of the host's certificate that rdptap's certificate reproduces, so the
    /// client meets it as it would without rdptap.
    pub enum Mirrored {
        /// The leaf carries the host's notAfter, which is in the past.
        Expired = ("expired", "the host's expiry date"),
        /// The leaf carries the host's notBefore, which is in the future.
        NotYetValid = ("not_yet_valid", "the host's start date"),
        /// The leaf carries the host's own names, not the name the client asked for.
        NameMismatch = ("name_mismatch", "the host's own names"),
        /// The leaf carries the host's extended key usages.
        WrongUsage = ("wrong_usage", "the host's key usages"),
        /// The leaf is signed by a CA no client trusts, as the host's is.
        Untrusted = ("untrusted", "an issuer no client trusts"),
    }
}

/// One leg's completed TLS handshake, as rdptap negotiated it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LegTls {
    /// The negotiated version.
    pub version: Option<TlsVersion>,
    /// The negotiated cipher suite.
    pub cipher_suite: Option<CipherSuite>,
    /// The server name: sent as SNI upstream, or received from the client.
    pub sni: Option<String>,
    /// How long the handshake took, in milliseconds.
    pub handshake_ms: f64,
}

/// A fact from the relay about interception.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Note {
    /// The connection is relayed untouched.
    NotIntercepted {
        /// Why.
        reason: NotIntercepted,
    },
    /// `--nla downgrade` removed NLA from the client's Connection Request.
    NlaDowngraded {
        /// What the client asked for.
        requested: Protocols,
        /// What rdptap sent to the host instead.
        sent: Protocols,
    },
    /// `--nla downgrade` restored clientRequestedProtocols in the host's MCS Connect
    /// Response, so the client does not notice the downgrade.
    DowngradeHidden {
        /// The value the host wrote.
        from: Protocols,
        /// The client's original request, written in its place.
        to: Protocols,
    },
    /// rdptap completed its own TLS handshake with the host.
    UpstreamTls {
        /// Version, suite, SNI and timing.
        #[serde(flatten)]
        tls: LegTls,
        /// The host's chain, leaf first.
        chain: Vec<CertInfo>,
        /// True when the session was resumed (the chain comes from the resumed session).
        resumed: bool,
        /// Whether the leaf matched `--pin`, when a pin was given.
        pin_matched: Option<bool>,
    },
    /// rdptap's TLS handshake with the host failed.
    UpstreamTlsFailed {
        /// The host's alert, if it sent one.
        alert: Option<AlertDescription>,
        /// What went wrong, in plain English.
        error: String,
        /// True when rdptap fell back to relaying the client's own TLS.
        fallback: bool,
    },
    /// The fallback connection to the host was opened and the Connection Request replayed.
    FallbackReplayed {
        /// The protocol the host selected on the fresh connection.
        selected: Option<Protocols>,
    },
    /// The fallback connection to the host could not be opened.
    FallbackFailed {
        /// Why.
        error: String,
    },
    /// rdptap completed TLS with the client, presenting its own certificate.
    ClientTls {
        /// Version, suite, SNI and timing.
        #[serde(flatten)]
        tls: LegTls,
        /// The name the presented leaf certificate was minted for.
        leaf_for: String,
    },
    /// The certificate rdptap answers the client with: who signed it and which of the
    /// host's certificate problems it reproduces (mirroring; `--no-mirror` turns it off).
    LeafPresented {
        /// The name it was minted for (the client's SNI, or the target).
        leaf_for: String,
        /// Which of rdptap's CAs signed it.
        signed_by: LeafSigner,
        /// The host's problems it reproduces; empty when it reproduces none.
        mirrors: Vec<Mirrored>,
        /// The names it carries (subjectAltName).
        names: Vec<String>,
        /// Its notBefore, RFC 3339.
        not_before: String,
        /// Its notAfter, RFC 3339.
        not_after: String,
    },
    /// The client's TLS handshake with rdptap failed.
    ClientTlsFailed {
        /// The client's alert, if it sent one.
        alert: Option<AlertDescription>,
        /// What went wrong, in plain English.
        error: String,
    },
    /// `--strict-upstream` refused the host's certificate.
    StrictRefused {
        /// The certificate findings, in plain English.
        findings: Vec<String>,
    },
    /// rdptap could not mint its leaf certificate.
    MintFailed {
        /// Why.
        error: String,
    },
    /// Bytes of one direction are missing from the capture; that direction is not
    /// decoded past them.
    CaptureGap {
        /// The direction that lost bytes (not `dir`: the event line has its own).
        direction: Dir,
        /// Where in the direction's stream the missing bytes start.
        offset: u64,
        /// How many bytes are missing.
        missing: u64,
    },
    /// The capture starts after the connection did: its first packets were not
    /// captured, and decoding starts where the stream could be picked up.
    CaptureStartMissed {
        /// Bytes of each direction, [c2s, s2c], skipped before decoding could start.
        skipped: [u64; 2],
    },
    /// A retransmission carried other bytes than the first copy; the first was kept.
    CaptureConflict {
        /// The direction.
        direction: Dir,
        /// Where in the stream.
        offset: u64,
        /// How many bytes differ in span.
        len: u64,
    },
    /// The connection's plaintext is at hand: its TLS was decrypted offline with a key
    /// log, or the capture holds the decrypted stream itself (rdptap's own traces).
    Decrypted {
        /// The negotiated version (None: the capture holds plaintext).
        version: Option<TlsVersion>,
        /// The negotiated suite (None: the capture holds plaintext).
        cipher_suite: Option<CipherSuite>,
    },
    /// One direction of the TLS could not be decrypted (further).
    DecryptStopped {
        /// The direction.
        direction: Dir,
        /// Why, in plain English.
        reason: String,
    },
    /// The connection named the RDG-Connection-Id of an open gateway session that came
    /// from another client address: it does not join that session (its decoder, its
    /// verdict, its flow in the trace) but starts a session of its own.
    GatewayIdReused {
        /// The RDG-Connection-Id, as the client sent it.
        connection_id: String,
        /// The address of the client whose session already has that id.
        first_client: String,
        /// The key this connection's own session goes by.
        own_key: String,
    },
}

impl Note {
    /// The `kind` of every note, which no decoder event shares.
    pub const KINDS: [&'static str; 18] = [
        "not_intercepted",
        "nla_downgraded",
        "downgrade_hidden",
        "upstream_tls",
        "upstream_tls_failed",
        "fallback_replayed",
        "fallback_failed",
        "client_tls",
        "leaf_presented",
        "client_tls_failed",
        "strict_refused",
        "mint_failed",
        "capture_gap",
        "capture_start_missed",
        "capture_conflict",
        "decrypted",
        "decrypt_stopped",
        "gateway_id_reused",
    ];

    /// The note's `kind`, as the event file writes it.
    pub fn kind(&self) -> &'static str {
        match self {
            Note::NotIntercepted { .. } => "not_intercepted",
            Note::NlaDowngraded { .. } => "nla_downgraded",
            Note::DowngradeHidden { .. } => "downgrade_hidden",
            Note::UpstreamTls { .. } => "upstream_tls",
            Note::UpstreamTlsFailed { .. } => "upstream_tls_failed",
            Note::FallbackReplayed { .. } => "fallback_replayed",
            Note::FallbackFailed { .. } => "fallback_failed",
            Note::ClientTls { .. } => "client_tls",
            Note::LeafPresented { .. } => "leaf_presented",
            Note::ClientTlsFailed { .. } => "client_tls_failed",
            Note::StrictRefused { .. } => "strict_refused",
            Note::MintFailed { .. } => "mint_failed",
            Note::CaptureGap { .. } => "capture_gap",
            Note::CaptureStartMissed { .. } => "capture_start_missed",
            Note::CaptureConflict { .. } => "capture_conflict",
            Note::Decrypted { .. } => "decrypted",
            Note::DecryptStopped { .. } => "decrypt_stopped",
            Note::GatewayIdReused { .. } => "gateway_id_reused",
        }
    }

    /// True when `kind` is a note's.
    pub fn is_note_kind(kind: &str) -> bool {
        Self::KINDS.contains(&kind)
    }

    /// Reads back one note object of an event file, written at `layer`.
    ///
    /// Ok(None) when the object is not a note (its `kind` is none of [`Note::KINDS`]),
    /// so a reader can try the decoder events next; an Err when it is a note's kind
    /// but not a valid note, or written at another layer than the note's. The writer's
    /// fields around the note (`ts`, `conn`, `dir`, `layer`, `seq`) are ignored.
    pub fn from_json(layer: Layer, v: &serde_json::Value) -> Result<Option<Note>, String> {
        let Some(kind) = v.get("kind").and_then(serde_json::Value::as_str) else {
            return Ok(None);
        };
        if !Self::is_note_kind(kind) {
            return Ok(None);
        }
        let note = Note::deserialize(v).map_err(|e| format!("note '{kind}': {e}"))?;
        if note.layer() != layer {
            return Err(format!(
                "note '{kind}' belongs to layer {}, not {layer}",
                note.layer()
            ));
        }
        Ok(Some(note))
    }

    /// The protocol layer the note is about.
    pub fn layer(&self) -> Layer {
        match self {
            Note::NotIntercepted { .. } | Note::GatewayIdReused { .. } => Layer::Session,
            Note::NlaDowngraded { .. } => Layer::X224,
            Note::DowngradeHidden { .. } => Layer::Mcs,
            Note::CaptureGap { .. }
            | Note::CaptureStartMissed { .. }
            | Note::CaptureConflict { .. } => Layer::Capture,
            _ => Layer::Tls,
        }
    }

    /// One line in plain English, for a connection to the host.
    pub fn describe(&self) -> String {
        self.describe_for(FarEnd::Host)
    }

    /// One line in plain English, naming what rdptap relays to as `far` (the gateway's
    /// TLS leg is not "the host's").
    pub fn describe_for(&self, far: FarEnd) -> String {
        let far = far.name();
        match self {
            Note::NotIntercepted { reason } => format!("not intercepted: {reason}"),
            Note::NlaDowngraded { requested, sent } => format!(
                "NLA DOWNGRADE (lab option): the client asked for {requested}, rdptap asked the host for {sent}"
            ),
            Note::DowngradeHidden { from, to } => format!(
                "NLA downgrade hidden: clientRequestedProtocols in the host's MCS Connect Response rewritten from {from} to {to}"
            ),
            Note::UpstreamTls { tls, resumed, .. } => format!(
                "rdptap's TLS to the {far}: {}{}{}",
                leg(tls),
                if *resumed { ", resumed" } else { "" },
                tls.sni
                    .as_ref()
                    .map(|s| format!(", SNI {s}"))
                    .unwrap_or_default()
            ),
            Note::UpstreamTlsFailed {
                error, fallback, ..
            } => {
                if *fallback {
                    format!("rdptap's TLS to the {far} failed ({error}); relaying the client's own TLS instead")
                } else {
                    format!("rdptap's TLS to the {far} failed: {error}")
                }
            }
            Note::FallbackReplayed { selected } => format!(
                "fresh connection to the {far}: Connection Request replayed, {far} selected {}",
                selected.map(|p| p.to_string()).unwrap_or_else(|| "nothing".into())
            ),
            Note::FallbackFailed { error } => {
                format!("the fresh connection to the {far} failed: {error}")
            }
            Note::ClientTls { tls, leaf_for } => format!(
                "client accepted rdptap's TLS: {} (certificate minted for {leaf_for})",
                leg(tls)
            ),
            Note::LeafPresented {
                leaf_for,
                signed_by,
                mirrors,
                ..
            } => {
                if mirrors.is_empty() {
                    format!("rdptap presents a certificate for {leaf_for} signed by {signed_by}")
                } else {
                    let m: Vec<&str> = mirrors.iter().map(|m| m.text()).collect();
                    format!(
                        "rdptap presents a certificate for {leaf_for} signed by {signed_by}, mirroring the host's certificate: {}",
                        m.join(", ")
                    )
                }
            }
            Note::ClientTlsFailed { error, .. } => {
                format!("the client's TLS handshake with rdptap failed: {error}")
            }
            Note::StrictRefused { findings } => format!(
                "--strict-upstream: refusing the {far}'s certificate: {}",
                findings.join("; ")
            ),
            Note::MintFailed { error } => format!("cannot mint a certificate: {error}"),
            Note::CaptureGap {
                direction: dir,
                offset,
                missing,
            } => format!(
                "the capture is missing {} bytes from the {} at offset {}; decoding stopped there",
                thousands(*missing),
                dir.sender(),
                thousands(*offset)
            ),
            Note::CaptureStartMissed { skipped } => format!(
                "the capture starts after the connection began (its start was not captured); decoding started where the stream could be picked up, after {} bytes from the client and {} from the server",
                thousands(skipped[0]),
                thousands(skipped[1])
            ),
            Note::CaptureConflict {
                direction: dir,
                offset,
                len,
            } => format!(
                "a retransmission from the {} carried other bytes than the first copy at offset {} ({} bytes); the first copy was kept",
                dir.sender(),
                thousands(*offset),
                thousands(*len)
            ),
            Note::Decrypted {
                version: Some(v),
                cipher_suite: Some(c),
            } => format!("TLS decrypted with the key log: {v} {c}"),
            Note::Decrypted { .. } => {
                "the capture holds this connection's decrypted stream (an rdptap trace)".into()
            }
            Note::DecryptStopped {
                direction: dir,
                reason,
            } => {
                format!("the {}'s TLS is not decrypted: {reason}", dir.sender())
            }
            Note::GatewayIdReused {
                connection_id,
                first_client,
                own_key,
            } => format!(
                "RDG-Connection-Id {connection_id} belongs to an open gateway session from {first_client}, another client address: this connection does not join it and starts its own session, {own_key}"
            ),
        }
    }
}

/// A count with thousands separators, as the verdict's byte counts are written
/// ("1,448 bytes").
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn leg(t: &LegTls) -> String {
    let v = t
        .version
        .map(|v| v.to_string())
        .unwrap_or_else(|| "TLS".into());
    let c = t.cipher_suite.map(|c| format!(" {c}")).unwrap_or_default();
    format!("{v}{c} in {:.1} ms", t.handshake_ms)
}
