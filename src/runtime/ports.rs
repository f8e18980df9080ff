//! Suggesting a port to listen on when the one asked for is taken.

use std::net::{SocketAddr, TcpListener};

/// How many ports after the taken one are tried.
const TRIES: u16 = 64;

/// The first port after `taken`'s that can be bound on the same address right now (it
/// was free a moment ago; nothing holds it for the caller). Ports below 1024 are
/// skipped, since binding them needs privileges. None when none of the next ports is
/// free.
pub fn free_port_near(taken: SocketAddr) -> Option<SocketAddr> {
    let mut port = taken.port();
    for _ in 0..TRIES {
        port = match port.checked_add(1) {
            Some(p) if p >= 1024 => p,
            _ => 1024,
        };
        let candidate = SocketAddr::new(taken.ip(), port);
        if candidate != taken && TcpListener::bind(candidate).is_ok() {
            return Some(candidate);
        }
    }
    None
}

/// The error for an address that is already in use, with a free port to use instead
/// (given as `flag ADDR`) when one is near.
pub fn in_use_advice(taken: SocketAddr, flag: &str) -> String {
    match free_port_near(taken) {
        Some(free) => format!("choose another with {flag}, e.g. {flag} {free} (free just now)"),
        None => format!("choose another free port with {flag}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_suggestion_skips_taken_ports() {
        // Hold a port and the next one: the suggestion is neither, and can be bound.
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let taken = a.local_addr().unwrap();
        let next = SocketAddr::new(taken.ip(), taken.port().wrapping_add(1).max(1024));
        let _b = TcpListener::bind(next);
        let free = free_port_near(taken).expect("a free port near");
        assert_ne!(free, taken);
        assert_ne!(free, next);
        assert_eq!(free.ip(), taken.ip());
        drop(TcpListener::bind(free).expect("the suggested port binds"));
    }

    #[test]
    fn the_top_port_wraps_to_an_unprivileged_one() {
        let taken: SocketAddr = "127.0.0.1:65535".parse().unwrap();
        let free = free_port_near(taken).expect("a free port");
        assert!(free.port() >= 1024);
    }
}
