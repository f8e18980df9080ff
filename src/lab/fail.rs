//! Cutting the OUT stream short on purpose (`--fail close=…`).

/// The part of a response head `close=out-headers` sends: the status line and the first
/// header line, without the blank line that would end the head.
pub fn partial_head(head: &[u8]) -> &[u8] {
    let mut lines_seen = 0;
    for (i, pair) in head.windows(2).enumerate() {
        if pair == b"\r\n" {
            lines_seen += 1;
            if lines_seen == 2 {
                return &head[..i + 2];
            }
        }
    }
    head
}

/// How many bytes of the OUT body may still go out before `close=out-body:N` cuts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    left: Option<u64>,
}

impl Budget {
    /// No limit.
    pub fn unlimited() -> Budget {
        Budget { left: None }
    }

    /// At most `n` bytes.
    pub fn bytes(n: u64) -> Budget {
        Budget { left: Some(n) }
    }

    /// How much of a `len`-byte write may go out, and whether the stream must close
    /// after it.
    pub fn take(&mut self, len: usize) -> (usize, bool) {
        match &mut self.left {
            None => (len, false),
            Some(left) => {
                let n = usize::try_from(*left).unwrap_or(usize::MAX).min(len);
                *left -= n as u64;
                (n, n < len || *left == 0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_head_is_status_line_and_one_header() {
        let head = b"HTTP/1.1 200 OK\r\nServer: x\r\nCache-Control: no-cache\r\n\r\n";
        assert_eq!(partial_head(head), b"HTTP/1.1 200 OK\r\nServer: x\r\n");
    }

    #[test]
    fn budget_cuts_at_n() {
        let mut b = Budget::bytes(12);
        assert_eq!(b.take(10), (10, false));
        assert_eq!(b.take(10), (2, true));
        assert_eq!(b.take(10), (0, true));
        let mut u = Budget::unlimited();
        assert_eq!(u.take(1 << 20), (1 << 20, false));
        let mut exact = Budget::bytes(4);
        assert_eq!(exact.take(4), (4, true));
    }
}
