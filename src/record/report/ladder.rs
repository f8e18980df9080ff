//! The ladder diagram: one inline SVG per connection, with a column for the client,
//! rdptap, the gateway (gateway mode only) and the host, and an arrow per decoded message.

use super::event::Event;
use super::html::escape;
use super::labels::label;
use super::model::Connection;
use crate::decode::gateway::{GwEvent, Inner};
use crate::decode::mcs::McsEvent;
use crate::decode::note::Note;
use crate::decode::tls::TlsEvent;
use crate::decode::tsgu::order::GwStage;
use crate::decode::DecodeEvent;
use crate::session::event::Body;
use crate::session::{TcpEvent, What};
use crate::vocab::{Dir, Layer};
use std::fmt::Write as _;

/// Most rows one ladder draws. A longer connection shows its first and last rows, with a
/// marker between them; the event table keeps every event.
pub const MAX_ROWS: usize = 400;
/// Rows kept from the end of a capped ladder: the failure is usually there.
const TAIL_ROWS: usize = 100;

const WIDTH: f64 = 980.0;
/// The time gutter on the left.
const GUTTER: f64 = 86.0;
const HEADER: f64 = 60.0;
const ROW: f64 = 24.0;
/// Rough width of one character of the 11 px label font, to keep labels inside the page.
const CHAR_W: f64 = 6.4;
const MAX_LABEL: usize = 96;

/// A column of the diagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lane {
    Client,
    Proxy,
    Gateway,
    Host,
}

/// What a row draws.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// A message from one column to another (`both`: a handshake between the two).
    Arrow { from: Lane, to: Lane, both: bool },
    /// A fact that belongs to one column (a check, a decision, a decoder stop).
    Note(Lane),
    /// The connection entered a phase.
    Phase,
    /// Rows left out of a capped ladder.
    Gap,
}

#[derive(Debug, Clone)]
struct Row {
    shape: Shape,
    label: String,
    at_ms: Option<f64>,
    seqs: Vec<usize>,
    /// The layer id, for the arrow's colour.
    layer: String,
    failing: bool,
    /// The event table row it links to.
    line: Option<usize>,
}

/// A rendered ladder.
#[derive(Debug, Clone, PartialEq)]
pub struct Ladder {
    /// The `<svg>` element.
    pub svg: String,
    /// Rows the connection has.
    pub rows: usize,
    /// Rows drawn (fewer than `rows` when capped).
    pub drawn: usize,
}

/// The columns a row joins.
#[derive(Debug, Clone, Copy)]
struct Lanes {
    /// The server's column: the gateway in gateway mode, else the host.
    server: Lane,
    /// True when rdptap terminates the client's TLS.
    intercepted: bool,
}

fn arrow(from: Lane, to: Lane) -> Option<Shape> {
    Some(Shape::Arrow {
        from,
        to,
        both: false,
    })
}

fn both(from: Lane, to: Lane) -> Option<Shape> {
    Some(Shape::Arrow {
        from,
        to,
        both: true,
    })
}

/// A message that crosses rdptap: from the client to the server, or back.
fn across(dir: Option<Dir>, l: Lanes) -> Option<Shape> {
    match dir {
        Some(Dir::C2S) => arrow(Lane::Client, l.server),
        Some(Dir::S2C) => arrow(l.server, Lane::Client),
        None => Some(Shape::Note(Lane::Proxy)),
    }
}

/// Where an event goes in the diagram, or None when it draws nothing.
fn route(e: &Event, gateway: bool, intercepted: bool) -> Option<Shape> {
    let server = if gateway { Lane::Gateway } else { Lane::Host };
    let l = Lanes {
        server,
        intercepted,
    };
    let proxy_note = Some(Shape::Note(Lane::Proxy));
    match e.body() {
        Body::Entry(w) => entry_route(w, e.dir(), l),
        Body::Verdict(_) | Body::ProxyStarted { .. } => None,
        Body::AnalyzeStarted { .. }
        | Body::CaptureDropped { .. }
        | Body::CaptureFailed { .. }
        | Body::EventsCounted { .. }
        | Body::EventsDropped { .. }
        | Body::ConnectionsRefused { .. } => proxy_note,
        Body::Unknown { .. } if e.phase().is_some() => Some(Shape::Phase),
        // An event this rdptap cannot read goes where its layer's events go.
        Body::Unknown { .. } => match e.layer() {
            Some(Layer::Session | Layer::Decoder | Layer::Capture) => proxy_note,
            Some(Layer::Tls) if intercepted => tls_to_proxy(e.dir()),
            _ => across(e.dir(), l),
        },
    }
}

/// The client's TLS ends at rdptap when rdptap intercepts it.
fn tls_to_proxy(dir: Option<Dir>) -> Option<Shape> {
    match dir {
        Some(Dir::S2C) => arrow(Lane::Proxy, Lane::Client),
        _ => arrow(Lane::Client, Lane::Proxy),
    }
}

fn entry_route(w: &What, dir: Option<Dir>, l: Lanes) -> Option<Shape> {
    let proxy_note = Some(Shape::Note(Lane::Proxy));
    match w {
        What::Phase(_) => Some(Shape::Phase),
        What::CertAssessed(_) => proxy_note,
        What::Tcp(TcpEvent::Accepted { .. }) => arrow(Lane::Client, Lane::Proxy),
        What::Tcp(TcpEvent::UpstreamConnected { .. } | TcpEvent::UpstreamFailed { .. }) => {
            arrow(Lane::Proxy, l.server)
        }
        What::Tcp(TcpEvent::StreamEnded { .. }) => match dir {
            Some(Dir::S2C) => arrow(l.server, Lane::Proxy),
            _ => arrow(Lane::Client, Lane::Proxy),
        },
        What::Note(n) => match n {
            Note::UpstreamTls { .. } => both(Lane::Proxy, l.server),
            Note::UpstreamTlsFailed { .. }
            | Note::FallbackReplayed { .. }
            | Note::FallbackFailed { .. } => arrow(Lane::Proxy, l.server),
            Note::ClientTls { .. } => both(Lane::Client, Lane::Proxy),
            Note::ClientTlsFailed { .. } => arrow(Lane::Client, Lane::Proxy),
            Note::NotIntercepted { .. }
            | Note::NlaDowngraded { .. }
            | Note::DowngradeHidden { .. }
            | Note::StrictRefused { .. }
            | Note::MintFailed { .. }
            | Note::CaptureGap { .. }
            | Note::CaptureStartMissed { .. }
            | Note::CaptureConflict { .. }
            | Note::Decrypted { .. }
            | Note::DecryptStopped { .. } => proxy_note,
        },
        What::Decoded(d) => decoded_route(d, dir, l),
    }
}

fn decoded_route(d: &DecodeEvent, dir: Option<Dir>, l: Lanes) -> Option<Shape> {
    match d {
        // The connection inside the tunnel runs between the gateway and the host.
        DecodeEvent::Inner(Inner(_)) => match dir {
            Some(Dir::C2S) => arrow(Lane::Gateway, Lane::Host),
            Some(Dir::S2C) => arrow(Lane::Host, Lane::Gateway),
            None => Some(Shape::Note(Lane::Gateway)),
        },
        DecodeEvent::Error(_) | DecodeEvent::Mcs(McsEvent::ChannelsJoined { .. }) => {
            Some(Shape::Note(Lane::Proxy))
        }
        DecodeEvent::Gw(GwEvent::TsguStage { stage }) => {
            (*stage == GwStage::Closed).then_some(Shape::Note(Lane::Gateway))
        }
        // rdptap terminates the client's TLS: its handshake messages end at rdptap.
        DecodeEvent::Tls(_) if l.intercepted => tls_to_proxy(dir),
        _ => across(dir, l),
    }
}

/// True for an encrypted record, which the ladder folds into runs.
pub(super) fn is_record(e: &Event) -> bool {
    matches!(
        e.decoded(),
        Some(DecodeEvent::Tls(TlsEvent::AppRecord { .. }))
    )
}

/// The rows of a connection, with runs of encrypted records folded into one row.
fn rows(c: &Connection) -> Vec<Row> {
    let gateway = c.is_gateway();
    let intercepted = c.events.iter().any(|e| {
        matches!(
            e.note(),
            Some(Note::ClientTls { .. } | Note::UpstreamTls { .. })
        )
    });
    let failing = c.failing_seqs();
    let mut out: Vec<Row> = Vec::new();
    // Counts of the run of application-data records being folded: [c2s, s2c].
    let mut run: Option<[u64; 2]> = None;
    for e in &c.events {
        let Some(shape) = route(e, gateway, intercepted) else {
            continue;
        };
        let at_ms = c.rel_ms(e);
        if is_record(e) {
            if let (Some(counts), Some(last)) = (run.as_mut(), out.last_mut()) {
                counts[usize::from(e.dir() == Some(Dir::S2C))] += 1;
                last.label = records_label(*counts);
                last.seqs.extend(e.seq());
                last.shape = fold_shape(last.shape, shape);
                continue;
            }
            let mut counts = [0, 0];
            counts[usize::from(e.dir() == Some(Dir::S2C))] += 1;
            run = Some(counts);
        } else {
            run = None;
        }
        out.push(Row {
            shape,
            label: if is_record(e) {
                records_label(run.unwrap_or_default())
            } else {
                label(e)
            },
            at_ms,
            seqs: e.seq().into_iter().collect(),
            layer: e.layer_id().to_string(),
            failing: false,
            line: Some(e.line),
        });
    }
    let mut marked = false;
    for r in &mut out {
        if r.seqs.iter().any(|s| failing.contains(s)) {
            r.failing = true;
            marked = true;
        }
    }
    // A verdict that is not ok but cites nothing drawn: the last message is the step.
    let bad = c.verdict().is_some_and(|v| !super::verdict::is_ok(v));
    if bad && !marked {
        if let Some(r) = out
            .iter_mut()
            .rev()
            .find(|r| matches!(r.shape, Shape::Arrow { .. }))
        {
            r.failing = true;
        }
    }
    out
}

/// Two directions of folded records make a two-way arrow between the same columns.
fn fold_shape(have: Shape, next: Shape) -> Shape {
    match (have, next) {
        (Shape::Arrow { from, to, .. }, Shape::Arrow { from: f2, .. }) if f2 != from => {
            Shape::Arrow {
                from,
                to,
                both: true,
            }
        }
        _ => have,
    }
}

fn records_label(n: [u64; 2]) -> String {
    match n {
        [c, 0] => format!("{c} encrypted record{} (client)", super::model::plural(c)),
        [0, s] => format!("{s} encrypted record{} (server)", super::model::plural(s)),
        [c, s] => format!("encrypted records: {c} from the client, {s} from the server"),
    }
}

/// Keeps the first and last rows of a long ladder, with a gap row between.
fn cap(mut rows: Vec<Row>) -> Vec<Row> {
    if rows.len() <= MAX_ROWS {
        return rows;
    }
    let head = MAX_ROWS - TAIL_ROWS - 1;
    let left_out = rows.len() - head - TAIL_ROWS;
    let tail = rows.split_off(rows.len() - TAIL_ROWS);
    rows.truncate(head);
    rows.push(Row {
        shape: Shape::Gap,
        label: format!("… {left_out} rows not drawn: the event table below has them all …"),
        at_ms: None,
        seqs: Vec::new(),
        layer: String::new(),
        failing: false,
        line: None,
    });
    rows.extend(tail);
    rows
}

fn lane_name(l: Lane) -> &'static str {
    match l {
        Lane::Client => "client",
        Lane::Proxy => "rdptap",
        Lane::Gateway => "gateway",
        Lane::Host => "host",
    }
}

/// The arrow colour of a layer.
fn colour(layer: &str) -> &'static str {
    match layer {
        "tcp" => "#607d8b",
        "x224" => "#7b1fa2",
        "tls" => "#00897b",
        "mcs" => "#1565c0",
        "rdp" => "#3949ab",
        "http" => "#ef6c00",
        "ws" => "#8d6e63",
        "tsgu" => "#6d4c41",
        _ => "#546e7a",
    }
}

const RED: &str = "#c62828";
const PALETTE: [&str; 10] = [
    "#607d8b", "#7b1fa2", "#00897b", "#1565c0", "#3949ab", "#ef6c00", "#8d6e63", "#6d4c41",
    "#546e7a", RED,
];

/// `+12.3 ms` / `+1.160 s` for the time gutter.
fn gutter_time(ms: f64) -> String {
    if ms < 10_000.0 {
        format!("+{ms:.1} ms")
    } else {
        format!("+{:.3} s", ms / 1000.0)
    }
}

/// Shortens a label to `max` characters.
fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Draws a connection's ladder. Its marker ids derive from the connection's anchor, so
/// several ladders can share a page.
pub fn render_ladder(c: &Connection) -> Ladder {
    let all = rows(c);
    let total = all.len();
    let rows = cap(all);
    let lanes: Vec<Lane> = if c.is_gateway() {
        vec![Lane::Client, Lane::Proxy, Lane::Gateway, Lane::Host]
    } else {
        vec![Lane::Client, Lane::Proxy, Lane::Host]
    };
    let span = (WIDTH - GUTTER) / lanes.len() as f64;
    let x_of = |l: Lane| {
        let i = lanes.iter().position(|x| *x == l).unwrap_or(0);
        GUTTER + span * (i as f64 + 0.5)
    };
    let height = HEADER + 12.0 + ROW * rows.len() as f64 + 12.0;
    let id = format!("lad-{}", c.anchor);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="ladder" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="{WIDTH}" height="{height}" role="img" aria-label="message ladder of {}"><defs>"#,
        escape(&c.label)
    );
    for (i, col) in PALETTE.iter().enumerate() {
        let _ = write!(
            s,
            r#"<marker id="{id}-m{i}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="{col}"/></marker>"#
        );
    }
    s.push_str("</defs>");
    // Columns: a heading box and a dashed lifeline each.
    let sub = |l: Lane| match l {
        Lane::Client => c.client_addr().map(String::from),
        Lane::Gateway => c.upstream_addr().map(String::from),
        Lane::Host if !c.is_gateway() => c.upstream_addr().map(String::from),
        _ => None,
    };
    for &l in &lanes {
        let x = x_of(l);
        let _ = write!(
            s,
            r#"<line class="life" x1="{x}" y1="{HEADER}" x2="{x}" y2="{height}"/><rect class="lane" x="{}" y="6" width="136" height="{}" rx="6"/><text class="lane-name" x="{x}" y="24">{}</text>"#,
            x - 68.0,
            HEADER - 14.0,
            lane_name(l)
        );
        if let Some(a) = sub(l) {
            let _ = write!(
                s,
                r#"<text class="lane-addr" x="{x}" y="39">{}</text>"#,
                escape(&clip(&a, 22))
            );
        }
    }
    for (i, r) in rows.iter().enumerate() {
        let y = HEADER + 12.0 + ROW * i as f64;
        draw_row(&mut s, r, y, &x_of, &id);
    }
    s.push_str("</svg>");
    Ladder {
        svg: s,
        rows: total,
        drawn: rows.iter().filter(|r| r.shape != Shape::Gap).count(),
    }
}

fn draw_row(s: &mut String, r: &Row, y: f64, x_of: &dyn Fn(Lane) -> f64, id: &str) {
    let full = &r.label;
    let text = clip(full, MAX_LABEL);
    let col = if r.failing { RED } else { colour(&r.layer) };
    let marker = PALETTE.iter().position(|p| *p == col).unwrap_or(8);
    let class = if r.failing { "row fail" } else { "row" };
    if let Some(line) = r.line {
        let _ = write!(s, r##"<a href="#ev-L{line}"><g class="{class}">"##);
    } else {
        let _ = write!(s, r#"<g class="{class}">"#);
    }
    let _ = write!(s, "<title>{}</title>", escape(full));
    if r.failing {
        let _ = write!(
            s,
            r#"<rect class="fail-bg" x="2" y="{}" width="{}" height="{ROW}" rx="3"/>"#,
            y,
            WIDTH - 4.0
        );
    }
    if let Some(ms) = r.at_ms {
        let _ = write!(
            s,
            r#"<text class="t" x="{}" y="{}">{}</text>"#,
            GUTTER - 10.0,
            y + 16.0,
            gutter_time(ms)
        );
    }
    match r.shape {
        Shape::Phase => {
            let _ = write!(
                s,
                r#"<rect class="phase" x="{GUTTER}" y="{}" width="{}" height="{}" rx="3"/><text class="phase-t" x="{}" y="{}">{}</text>"#,
                y + 3.0,
                WIDTH - GUTTER - 4.0,
                ROW - 6.0,
                GUTTER + 8.0,
                y + 16.0,
                escape(&text)
            );
        }
        Shape::Gap => {
            let _ = write!(
                s,
                r#"<text class="gap" x="{}" y="{}">{}</text>"#,
                (GUTTER + WIDTH) / 2.0,
                y + 16.0,
                escape(&text)
            );
        }
        Shape::Note(l) => {
            let w = (text.chars().count() as f64 * CHAR_W + 16.0).min(WIDTH - GUTTER - 8.0);
            let x = (x_of(l) - w / 2.0).clamp(GUTTER, WIDTH - w - 4.0);
            let _ = write!(
                s,
                r#"<rect class="note" x="{x:.1}" y="{}" width="{w:.1}" height="{}" rx="4"/><text class="note-t" x="{:.1}" y="{}">{}</text>"#,
                y + 3.0,
                ROW - 6.0,
                x + w / 2.0,
                y + 16.0,
                escape(&text)
            );
        }
        Shape::Arrow { from, to, both } => {
            let (x1, x2) = (x_of(from), x_of(to));
            let dx = if x2 >= x1 { 1.0 } else { -1.0 };
            let ly = y + 18.0;
            let start = if both {
                format!(r#" marker-start="url(#{id}-m{marker})""#)
            } else {
                String::new()
            };
            let _ = write!(
                s,
                r#"<line class="arrow" x1="{:.1}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{col}"{start} marker-end="url(#{id}-m{marker})"/>"#,
                x1 + dx * 2.0,
                x2 - dx * 2.0
            );
            // A dot where the message passes through rdptap.
            let px = x_of(Lane::Proxy);
            if (x1 - px) * (x2 - px) < 0.0 {
                let _ = write!(s, r#"<circle cx="{px}" cy="{ly}" r="2.6" fill="{col}"/>"#);
            }
            // The label sits over the arrow's middle, kept inside the drawing.
            let w = text.chars().count() as f64 * CHAR_W;
            let mid = (x1 + x2) / 2.0;
            let (tx, anchor) = if mid - w / 2.0 < GUTTER + 4.0 {
                (GUTTER + 4.0, "start")
            } else if mid + w / 2.0 > WIDTH - 4.0 {
                (WIDTH - 4.0, "end")
            } else {
                (mid, "middle")
            };
            let _ = write!(
                s,
                r#"<text class="lbl" x="{tx:.1}" y="{}" text-anchor="{anchor}">{}</text>"#,
                y + 13.0,
                escape(&text)
            );
        }
    }
    s.push_str("</g>");
    if r.line.is_some() {
        s.push_str("</a>");
    }
}

#[cfg(test)]
#[path = "ladder_tests.rs"]
mod tests;
