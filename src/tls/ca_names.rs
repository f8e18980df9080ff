//! Names the CA can be limited to and leaves can be minted for: DNS names and single IP
//! addresses, checked once on the way in so that everything downstream can trust them.

use super::error::{CaError, NameProblem};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A DNS name (lower-case, no trailing dot) or one IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum CaName {
    /// A DNS name; as a constraint it also covers every name under it.
    Dns(String),
    /// One IPv4 or IPv6 address.
    Ip(IpAddr),
}

impl fmt::Display for CaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaName::Dns(name) => f.write_str(name),
            CaName::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl CaName {
    /// The loopback names every constrained CA keeps and every leaf carries, so that a
    /// client pointed at the proxy on this machine can check the certificate against the
    /// address it dialled.
    pub fn loopback() -> [CaName; 3] {
        [
            CaName::Dns("localhost".to_string()),
            CaName::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            CaName::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
        ]
    }

    /// Parses what a user typed: an IP address (IPv6 optionally in brackets) or a DNS name.
    pub fn parse(input: &str) -> Result<CaName, CaError> {
        let invalid = |problem| CaError::InvalidName {
            name: input.to_string(),
            problem,
        };
        let s = input.trim();
        if s.is_empty() {
            return Err(invalid(NameProblem::Empty));
        }
        let unbracketed = s
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .unwrap_or(s);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(CaName::Ip(ip));
        }
        // The common mistakes get their own message before the character-by-character check,
        // which would only say "'/' cannot appear".
        if s.contains('*') {
            return Err(invalid(NameProblem::Wildcard));
        }
        if s.contains('/') {
            return Err(invalid(NameProblem::Subnet));
        }
        if s.starts_with('.') {
            return Err(invalid(NameProblem::LeadingDot));
        }
        if let Some((_, port)) = s.rsplit_once(':') {
            if !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()) {
                return Err(invalid(NameProblem::Port));
            }
        }
        // One trailing dot is the DNS root, which certificates never carry.
        let s = s.strip_suffix('.').unwrap_or(s).to_ascii_lowercase();
        if s.len() > 253 {
            return Err(invalid(NameProblem::TooLong));
        }
        for label in s.split('.') {
            if label.is_empty() {
                return Err(invalid(NameProblem::EmptyLabel));
            }
            if label.len() > 63 {
                return Err(invalid(NameProblem::LabelTooLong));
            }
            if let Some(c) = label
                .chars()
                .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
            {
                return Err(invalid(NameProblem::BadChar(c)));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(invalid(NameProblem::HyphenAtEdge));
            }
        }
        let last = s.rsplit('.').next().unwrap_or_default();
        if last.chars().all(|c| c.is_ascii_digit()) {
            return Err(invalid(NameProblem::NumericTld));
        }
        Ok(CaName::Dns(s))
    }

    /// Whether this name, used as a constraint, covers `name`: an address only itself, a
    /// DNS name itself and every name below it (`example.com` covers `a.example.com`, not
    /// `badexample.com`).
    pub fn covers(&self, name: &CaName) -> bool {
        match (self, name) {
            (CaName::Ip(a), CaName::Ip(b)) => a == b,
            (CaName::Dns(base), CaName::Dns(n)) => {
                n == base
                    || (n.len() > base.len()
                        && n.ends_with(base.as_str())
                        && n.as_bytes()[n.len() - base.len() - 1] == b'.')
            }
            _ => false,
        }
    }
}

/// Parses the `--constrain` list and adds the loopback names, keeping the user's order and
/// dropping repeats. An empty list stays empty: no constraints at all.
pub fn parse_constraints(items: &[String]) -> Result<Vec<CaName>, CaError> {
    if items.is_empty() {
        return Ok(Vec::new());
    }
    let mut out: Vec<CaName> = Vec::new();
    let parsed = items
        .iter()
        .map(|s| CaName::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    for name in parsed.into_iter().chain(CaName::loopback()) {
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

/// Joins names with ", " for messages.
pub fn join(names: &[CaName]) -> String {
    names
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dns(s: &str) -> CaName {
        CaName::Dns(s.to_string())
    }

    fn problem(s: &str) -> NameProblem {
        match CaName::parse(s) {
            Err(CaError::InvalidName { problem, .. }) => problem,
            other => panic!("{s:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn parses_names_and_addresses() {
        assert_eq!(
            CaName::parse(" Host.Example.COM. ").unwrap(),
            dns("host.example.com")
        );
        assert_eq!(
            CaName::parse("10.0.0.5").unwrap(),
            CaName::Ip("10.0.0.5".parse().unwrap())
        );
        assert_eq!(
            CaName::parse("[fe80::1]").unwrap(),
            CaName::Ip("fe80::1".parse().unwrap())
        );
        assert_eq!(CaName::parse("_rdp.corp").unwrap(), dns("_rdp.corp"));
        assert_eq!(CaName::parse("rdp-host").unwrap(), dns("rdp-host"));
    }

    #[test]
    fn rejects_bad_names_with_a_reason() {
        assert_eq!(problem(""), NameProblem::Empty);
        assert_eq!(problem("  "), NameProblem::Empty);
        assert_eq!(problem("*.example.com"), NameProblem::Wildcard);
        assert_eq!(problem("a*.example.com"), NameProblem::Wildcard);
        assert_eq!(problem(".example.com"), NameProblem::LeadingDot);
        assert_eq!(problem("host:3389"), NameProblem::Port);
        assert_eq!(problem("10.0.0.0/24"), NameProblem::Subnet);
        assert_eq!(problem("a..b"), NameProblem::EmptyLabel);
        assert_eq!(problem("-a.b"), NameProblem::HyphenAtEdge);
        assert_eq!(problem("a b"), NameProblem::BadChar(' '));
        assert_eq!(problem("10.0.0"), NameProblem::NumericTld);
        assert_eq!(problem(&"a".repeat(64)), NameProblem::LabelTooLong);
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(problem(&long), NameProblem::TooLong);
    }

    #[test]
    fn dns_constraint_covers_itself_and_names_below() {
        let c = dns("example.com");
        assert!(c.covers(&dns("example.com")));
        assert!(c.covers(&dns("host.example.com")));
        assert!(c.covers(&dns("a.b.example.com")));
        assert!(!c.covers(&dns("badexample.com")));
        assert!(!c.covers(&dns("example.com.evil")));
        assert!(!c.covers(&dns("com")));
        assert!(!c.covers(&CaName::Ip("10.0.0.1".parse().unwrap())));
    }

    #[test]
    fn ip_constraint_covers_only_that_address() {
        let c = CaName::Ip("10.0.0.5".parse().unwrap());
        assert!(c.covers(&CaName::Ip("10.0.0.5".parse().unwrap())));
        assert!(!c.covers(&CaName::Ip("10.0.0.6".parse().unwrap())));
        assert!(!c.covers(&dns("10-0-0-5.example")));
    }

    #[test]
    fn constraint_list_adds_loopback_once() {
        let items = ["rdp.example.com", "LOCALHOST", "::1", "rdp.example.com"].map(String::from);
        let list = parse_constraints(&items).unwrap();
        assert_eq!(
            join(&list),
            "rdp.example.com, localhost, ::1, 127.0.0.1",
            "user order first, repeats dropped, missing loopback names appended"
        );
        assert!(parse_constraints(&[]).unwrap().is_empty());
        assert!(parse_constraints(&["ok.example".into(), "".into()]).is_err());
    }
}
