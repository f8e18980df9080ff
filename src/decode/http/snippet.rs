//! A short, sanitised text excerpt of an error response body (IIS and gateway error
//! pages say why a request failed), captured with a hard cap.

/// Most body bytes captured for a snippet.
pub const CAPTURE_LIMIT: usize = 4096;
/// Longest snippet rendered, in characters.
pub const SNIPPET_MAX_CHARS: usize = 200;

/// True when a response's body is worth a snippet: an error or redirect with a text body.
pub(super) fn wants_snippet(status: u16, content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else {
        return false;
    };
    let ct = ct.trim().to_ascii_lowercase();
    status >= 300 && (ct.starts_with("text/html") || ct.starts_with("text/plain"))
}

/// The first [`CAPTURE_LIMIT`] bytes of a body.
#[derive(Debug, Default)]
pub(super) struct SnippetCapture {
    buf: Vec<u8>,
}

impl SnippetCapture {
    /// Keeps as much of `bytes` as still fits under the cap; the rest is dropped.
    pub(super) fn push(&mut self, bytes: &[u8]) {
        let room = CAPTURE_LIMIT.saturating_sub(self.buf.len());
        self.buf
            .extend_from_slice(bytes.get(..room.min(bytes.len())).unwrap_or(&[]));
    }

    /// The sanitised snippet, or None when nothing readable was captured.
    pub(super) fn finish(&self) -> Option<String> {
        let s = sanitise(&self.buf);
        (!s.is_empty()).then_some(s)
    }
}

/// Markup removed, a few entities decoded, whitespace collapsed, control characters
/// dropped, cut to [`SNIPPET_MAX_CHARS`].
pub fn sanitise(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    // ASCII lowercasing keeps byte offsets, so tag searches can use this copy.
    let lower = text.to_ascii_lowercase();
    let mut plain = String::with_capacity(text.len());
    let mut i = 0;
    while let Some(c) = text.get(i..).and_then(|s| s.chars().next()) {
        match c {
            '<' => {
                let Some(close) = text.get(i..).and_then(|s| s.find('>')) else {
                    break; // a cut-off tag: nothing readable follows
                };
                let tag = lower.get(i + 1..i + close).unwrap_or("");
                let name: String = tag
                    .trim_start()
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .collect();
                i += close + 1;
                if name == "style" || name == "script" {
                    // Their content is code, not words: skip to the closing tag.
                    let end_tag = format!("</{name}");
                    let Some(end) = lower.get(i..).and_then(|s| s.find(&end_tag)) else {
                        break;
                    };
                    i += end;
                    continue;
                }
                plain.push(' ');
            }
            '&' => {
                let rest = text.get(i..).unwrap_or("");
                let entity = rest
                    .get(..rest.len().min(10))
                    .and_then(|s| s.find(';'))
                    .and_then(|semi| rest.get(1..semi))
                    .and_then(entity_char);
                match entity {
                    Some((ch, len)) => {
                        plain.push(ch);
                        i += len + 2;
                    }
                    None => {
                        plain.push('&');
                        i += 1;
                    }
                }
            }
            c => {
                plain.push(if c.is_control() { ' ' } else { c });
                i += c.len_utf8();
            }
        }
    }
    let collapsed = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out: String = collapsed.chars().take(SNIPPET_MAX_CHARS).collect();
    if collapsed.chars().nth(SNIPPET_MAX_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// The character for an entity name (without `&` and `;`) and the name's length.
fn entity_char(name: &str) -> Option<(char, usize)> {
    let ch = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" | "#39" => '\'',
        "nbsp" => ' ',
        _ => return None,
    };
    Some((ch, name.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iis_error_page_reads_as_text() {
        let page = b"<!DOCTYPE html><html><head><title>401 - Unauthorized: Access is denied due to invalid credentials.</title>\r\n<style type=\"text/css\">body{margin:0;font-size:.7em;}</style></head>\r\n<body><h1>Server Error</h1><h2>You do not have permission &amp; so on.</h2></body></html>";
        assert_eq!(
            sanitise(page),
            "401 - Unauthorized: Access is denied due to invalid credentials. Server Error You do not have permission & so on."
        );
    }

    #[test]
    fn snippet_is_bounded() {
        let mut c = SnippetCapture::default();
        for _ in 0..100 {
            c.push(&[b'a'; 100]);
        }
        assert_eq!(c.buf.len(), CAPTURE_LIMIT);
        let s = c.finish().unwrap_or_default();
        assert_eq!(s.chars().count(), SNIPPET_MAX_CHARS + 1);
        assert!(s.ends_with('…'));
    }

    #[test]
    fn odd_input_is_safe() {
        for input in [
            &b"<"[..],
            b"&",
            b"&amp",
            b"<style>x",
            b"\xff\xfe<a>\x01",
            b"&#39;",
        ] {
            let _ = sanitise(input);
        }
        assert_eq!(sanitise(b"&#39;x&bogus;"), "'x&bogus;");
        assert!(!wants_snippet(200, Some("text/html")));
        assert!(wants_snippet(401, Some("Text/HTML; charset=utf-8")));
        assert!(!wants_snippet(401, Some("application/octet-stream")));
        assert!(!wants_snippet(500, None));
    }
}
