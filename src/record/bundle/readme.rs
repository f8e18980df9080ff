//! The bundle's README.txt: what each file is and how to open it.

use std::fmt::Write as _;

/// What the README describes.
pub struct Facts<'a> {
    /// The connections in the bundle.
    pub conns: &'a [u64],
    /// The trace files' names.
    pub traces: &'a [String],
    /// keys.log is included.
    pub keys_file: bool,
    /// The traces embed their TLS keys.
    pub keys_embedded: bool,
    /// The decrypted flows were scrubbed of secrets.
    pub redacted: bool,
    /// The rdptap version that recorded the trace.
    pub recorded_with: Option<&'a str>,
}

/// The README's text (CRLF-free, wrapped for a plain editor).
pub fn text(f: &Facts<'_>) -> String {
    let mut s = String::new();
    let conns: Vec<String> = f.conns.iter().map(u64::to_string).collect();
    let _ = writeln!(s, "rdptap diagnostic bundle");
    let _ = writeln!(s, "========================\n");
    let _ = writeln!(
        s,
        "Made by rdptap {} (recorded with {}). Connections: {}.\n",
        env!("CARGO_PKG_VERSION"),
        f.recorded_with.unwrap_or("an unknown version"),
        if conns.is_empty() {
            "none".into()
        } else {
            conns.join(", ")
        }
    );
    s.push_str(
        "Files\n-----\n\
report.html   The verdict for each connection, a ladder diagram, phase timings,\n\
              certificates, negotiation tables and every event. Open it in any\n\
              browser; it loads nothing from the network.\n\
report.txt    The same, as plain text.\n\
events.jsonl  Every event rdptap decoded, one JSON object per line (its format is\n\
              documented in rdptap's docs/events.md).\n\
config.json   The rdptap version and the settings the trace was recorded with.\n",
    );
    for t in f.traces {
        let _ = writeln!(
            s,
            "{t:<13} The packet trace (pcapng). Open it with Wireshark 3.0 or later\n              (checked with Wireshark/tshark 4.0)."
        );
    }
    if f.keys_file {
        s.push_str("keys.log      The TLS key log (NSS format) of rdptap's own TLS legs.\n");
    }
    s.push_str(
        "\nReading the trace\n-----------------\n\
- Each connection is its own interface, named rdptap-conn-N. Filter one with\n\
  frame.interface_name == \"rdptap-conn-N\".\n\
- Per connection there are the two raw TCP legs exactly as relayed (client to\n\
  rdptap, rdptap to the host or gateway), with their real addresses and ports.\n\
  The IP and TCP headers are synthetic (rdptap relays streams, not packets).\n\
- Where rdptap terminated TLS, the decrypted bytes are a flow of their own: RD\n\
  Gateway HTTP on port 80, RDP on port 3389, so Wireshark's dissectors apply.\n\
  The RDP inside a gateway tunnel is also a flow on port 3389.\n\
- rdptap's findings are packet comments on the packet that caused them: show\n\
  them with the display filter frame.comment, or Statistics > Capture File\n\
  Properties.\n\
- Wireshark does not know the RD Gateway methods RDG_OUT_DATA and RDG_IN_DATA:\n\
  those requests show as TCP data on port 80, the gateway's answers as HTTP.\n\
- A raw leg on a port other than 3389: Analyze > Decode As, TCP port -> TLS, and\n\
  TLS port -> TPKT, to see the RDP inside it (once decrypted).\n",
    );
    s.push_str("\nTLS keys\n--------\n");
    if f.keys_embedded {
        s.push_str(
            "The trace embeds the TLS keys of rdptap's legs (a Decryption Secrets\n\
Block): Wireshark decrypts the raw legs on its own.\n",
        );
    }
    if f.keys_file {
        s.push_str(
            "To decrypt the raw legs with keys.log: Edit > Preferences > Protocols > TLS >\n\
(Pre)-Master-Secret log filename, choose keys.log. With tshark:\n\
  tshark -o tls.keylog_file:keys.log -r TRACE.pcapng\n",
        );
    }
    if !f.keys_embedded && !f.keys_file {
        s.push_str(
            "No keys are included: the raw legs stay encrypted; the decrypted flows\n\
already show what rdptap saw inside TLS.\n",
        );
    }
    s.push_str("\nSecrets\n-------\n");
    if f.redacted {
        s.push_str(
            "Secrets were scrubbed from the decrypted flows and the events: HTTP\n\
Authorization values (NTLM responses and session keys; Basic credentials),\n\
cookies and the PAA cookie, the Client Info password and auto-reconnect cookies,\n\
CredSSP credentials, keystrokes and clipboard contents. Each was replaced by as\n\
many X or zero bytes, so lengths and offsets are those of the real session.\n",
        );
        if f.keys_embedded || f.keys_file {
            s.push_str(
                "WARNING: the TLS keys in this bundle decrypt the raw legs, where nothing\n\
could be scrubbed: whoever holds this bundle can read those secrets. Remove the\n\
keys (and re-record without --pcap-keys) if that is not what you want.\n",
            );
        }
    } else {
        s.push_str(
            "WARNING: the trace was recorded with --no-redact: its decrypted flows hold\n\
passwords, authentication tokens, cookies, keystrokes and clipboard contents as\n\
they were sent.\n",
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readme_warns_when_keys_travel_with_the_trace() {
        let traces = vec!["trace.pcapng".to_string()];
        let f = Facts {
            conns: &[1, 2],
            traces: &traces,
            keys_file: false,
            keys_embedded: true,
            redacted: true,
            recorded_with: Some("0.1.0"),
        };
        let t = text(&f);
        assert!(t.contains("Connections: 1, 2"));
        assert!(t.contains("trace.pcapng"));
        assert!(t.contains("Decryption Secrets"));
        assert!(t.contains("WARNING: the TLS keys"));
        let f = Facts {
            keys_embedded: false,
            ..f
        };
        assert!(!text(&f).contains("WARNING"));
    }
}
