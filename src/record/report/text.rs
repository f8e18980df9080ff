//! The plain-text report, for e-mail and terminals: verdicts, phases with durations, the
//! negotiated parameters, certificate findings and a compact event list.

use super::certs::certificates;
use super::facts::{negotiation, FactValue};
use super::labels::label;
use super::model::{fmt_ms, plural, Connection};
use super::verdict::{closed, code};
use super::Report;
use crate::runtime::console::is_hostile;
use crate::session::event::{Body, VerdictRecord};
use crate::vocab::Dir;
use std::fmt::Write as _;

/// Lines are wrapped at this width.
const WIDTH: usize = 100;

/// Makes a string from the event file safe for a terminal: control characters (escape
/// sequences in particular) and bidirectional overrides become `?`, and line breaks
/// become spaces.
pub fn clean(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' | '\u{2028}' | '\u{2029}' => ' ',
            c if is_hostile(c) => '?',
            c => c,
        })
        .collect()
}

/// Appends `text` wrapped at [`WIDTH`], each line starting with `indent` (the first with
/// `first` instead).
fn wrap(out: &mut String, first: &str, indent: &str, text: &str) {
    let mut line = first.to_string();
    let mut empty = true;
    for word in clean(text).split(' ').filter(|w| !w.is_empty()) {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = indent.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

/// Renders the report as plain text.
pub fn render_text(r: &Report) -> String {
    let mut o = String::new();
    let n = r.conns.len();
    let _ = writeln!(o, "rdptap report: {}", clean(&r.source));
    let _ = write!(
        o,
        "{n} connection{}, {} events",
        plural(n as u64),
        r.event_count()
    );
    if let Some(v) = r.version() {
        let _ = write!(o, ", recorded by rdptap {}", clean(v));
    }
    o.push('\n');
    let notices = r.notices();
    if !notices.is_empty() {
        o.push_str("\nNOTICES\n");
        for nt in notices {
            wrap(&mut o, "  ! ", "    ", &nt.to_string());
        }
    }
    o.push_str("\nVERDICTS\n");
    if r.conns.is_empty() {
        o.push_str("  (no connections)\n");
    }
    for (_, v, members) in r.gateway_sessions() {
        let names: Vec<String> = members.iter().map(|m| m.label.clone()).collect();
        let title = format!(
            "gateway session {} ({})",
            v.gw_connection_id.as_deref().unwrap_or(""),
            names.join(", ")
        );
        verdict(&mut o, &title, Some(v));
    }
    for c in r.conns.iter().filter(|c| !super::html::same_as_session(c)) {
        verdict(&mut o, &conn_title(c), c.verdict());
    }
    for c in &r.conns {
        connection(&mut o, c);
    }
    o
}

fn conn_title(c: &Connection) -> String {
    let mut t = c.label.clone();
    if let Some(a) = c.client_addr() {
        let _ = write!(t, " ({a} -> rdptap -> {}", c.upstream_addr().unwrap_or("?"));
        if c.is_gateway() {
            let _ = write!(t, ", {}", c.channel().unwrap_or("gateway mode"));
        }
        t.push(')');
    }
    t
}

fn verdict(o: &mut String, title: &str, record: Option<&VerdictRecord>) {
    o.push('\n');
    let Some(record) = record else {
        wrap(
            o,
            "  ",
            "    ",
            &format!("{title}: no verdict (the file ends before the connection did)"),
        );
        return;
    };
    let v = &record.verdict;
    wrap(
        o,
        "  ",
        "    ",
        &format!("{title}: {} - {}", v.cause.id(), v.cause),
    );
    wrap(o, "    ", "    ", &v.summary);
    if !v.hint.is_empty() {
        wrap(o, "    What to check: ", "      ", &v.hint);
    }
    let mut meta = format!(
        "phase reached: {}; closed by {}; {}",
        v.phase,
        closed(record),
        fmt_ms(v.duration_ms)
    );
    if let Some(m) = &v.mstsc {
        let _ = write!(meta, "; mstsc shows {}", code(m.disc_reason));
        if let Some(e) = m.extended {
            let _ = write!(meta, " / extended {}", code(e));
        }
    }
    if v.inferred {
        meta.push_str("; inferred");
    }
    wrap(o, "    ", "    ", &meta);
    for w in &v.warnings {
        wrap(
            o,
            &format!("    {}: ", w.severity.id()),
            "      ",
            &format!("{} ({})", w.detail, w.cause.id()),
        );
    }
}

fn connection(o: &mut String, c: &Connection) {
    let title = clean(&conn_title(c));
    let _ = writeln!(
        o,
        "\n{title}\n{}",
        "=".repeat(title.chars().count().min(WIDTH))
    );
    let spans = c.phases();
    if !spans.is_empty() {
        o.push_str("  Phases\n");
        for (i, p) in spans.iter().enumerate() {
            let last = if i + 1 == spans.len() {
                " (to the end)"
            } else {
                ""
            };
            let _ = writeln!(
                o,
                "    {:>12}  {:<40} {}{last}",
                format!("+{}", fmt_ms(p.start_ms)),
                clean(&p.phase.to_string()),
                fmt_ms(p.duration_ms)
            );
        }
    }
    let facts = negotiation(c);
    if !facts.is_empty() {
        o.push_str("  Negotiation\n");
        let mut group = String::new();
        for f in &facts {
            if f.group != group {
                group = f.group.clone();
                let _ = writeln!(o, "    {}", clean(&group));
            }
            let value = match &f.value {
                FactValue::Pair(a, b) => format!(
                    "client: {}; server: {}",
                    a.as_deref().unwrap_or("-"),
                    b.as_deref().unwrap_or("-")
                ),
                FactValue::Single(v) => v.clone(),
            };
            wrap(o, &format!("      {:<26}", f.name), &" ".repeat(32), &value);
        }
    }
    let certs = certificates(c);
    if !certs.is_empty() {
        o.push_str("  Certificates\n");
        for v in certs {
            wrap(o, "    ", "      ", &v.role);
            if let Some(leaf) = v.chain.first() {
                wrap(o, "      subject: ", "        ", &leaf.subject);
                wrap(o, "      issuer:  ", "        ", &leaf.issuer);
                wrap(
                    o,
                    "      valid:   ",
                    "        ",
                    &format!("{} -> {}", leaf.not_before, leaf.not_after),
                );
                if !leaf.sans.is_empty() {
                    wrap(o, "      names:   ", "        ", &leaf.sans.join(", "));
                }
            }
            if !v.findings.is_empty() {
                wrap(o, "      findings: ", "        ", &v.findings.join("; "));
            } else if v.assessed {
                o.push_str("      findings: none (the checks passed)\n");
            }
        }
    }
    events(o, c);
}

/// One line per event; runs of encrypted records fold into one line.
fn events(o: &mut String, c: &Connection) {
    o.push_str("  Events (!! marks the events the verdict rests on)\n");
    let failing = c.failing_seqs();
    let mut folded: Option<(String, [u64; 2])> = None;
    let flush = |o: &mut String, f: &mut Option<(String, [u64; 2])>| {
        if let Some((at, [a, b])) = f.take() {
            let _ = writeln!(
                o,
                "      {at}  <>  TLS        {} encrypted records: {a} from the client, {b} from the server",
                a + b
            );
        }
    };
    for e in &c.events {
        if matches!(e.body(), Body::Verdict(_)) {
            continue;
        }
        let at = c
            .rel_ms(e)
            .map(|ms| format!("{:>14}", format!("+{ms:.3} ms")))
            .unwrap_or_else(|| " ".repeat(14));
        if super::ladder::is_record(e) {
            let side = usize::from(e.dir() == Some(Dir::S2C));
            match folded.as_mut() {
                Some((_, n)) => n[side] += 1,
                None => {
                    let mut n = [0, 0];
                    n[side] = 1;
                    folded = Some((at, n));
                }
            }
            continue;
        }
        flush(o, &mut folded);
        let dir = match e.dir() {
            Some(Dir::C2S) => "->",
            Some(Dir::S2C) => "<-",
            None => "  ",
        };
        let mark = if e.seq().is_some_and(|s| failing.contains(&s)) {
            "!!"
        } else {
            "  "
        };
        let inner = if e.inner() { " (inner)" } else { "" };
        let line = format!(
            "    {mark}{at}  {dir}  {:<9}  {}{inner}",
            clean(&e.layer_text()),
            clean(&label(e))
        );
        let _ = writeln!(o, "{}", line.trim_end());
    }
    flush(o, &mut folded);
}
