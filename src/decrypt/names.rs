//! Alerts and handshake message types. Alert levels and descriptions are named by
//! decode's tables (`crate::decode::tls::names`); handshake types are named here, as decode
//! reports none by name.

use crate::decode::tls::{AlertDescription, AlertLevel};
use std::fmt;

/// An alert: its level and description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Alert {
    /// The level.
    pub level: AlertLevel,
    /// The description (close_notify, handshake_failure, unknown_ca, ...).
    pub description: AlertDescription,
}

impl Alert {
    /// The RFC name of the description, if known.
    pub fn name(self) -> Option<&'static str> {
        self.description.name()
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The code follows the name because tools and RFCs cite alerts by either.
        let (level, code) = (self.level, self.description.0);
        match self.name() {
            Some(name) => write!(f, "{level} alert {name} ({code})"),
            None => write!(f, "{level} alert with unknown code {code}"),
        }
    }
}

/// A handshake message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HandshakeType(pub u8);

impl HandshakeType {
    pub(super) const HELLO_REQUEST: u8 = 0;
    pub(super) const CLIENT_HELLO: u8 = 1;
    pub(super) const SERVER_HELLO: u8 = 2;
    pub(super) const SERVER_HELLO_DONE: u8 = 14;
    pub(super) const FINISHED: u8 = 20;
    pub(super) const KEY_UPDATE: u8 = 24;

    /// The RFC name, if known.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "hello_request",
            1 => "client_hello",
            2 => "server_hello",
            3 => "hello_verify_request",
            4 => "new_session_ticket",
            5 => "end_of_early_data",
            8 => "encrypted_extensions",
            11 => "certificate",
            12 => "server_key_exchange",
            13 => "certificate_request",
            14 => "server_hello_done",
            15 => "certificate_verify",
            16 => "client_key_exchange",
            20 => "finished",
            21 => "certificate_url",
            22 => "certificate_status",
            23 => "supplemental_data",
            24 => "key_update",
            25 => "compressed_certificate",
            254 => "message_hash",
            _ => return None,
        })
    }
}

impl fmt::Display for HandshakeType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "handshake message type {}", self.0),
        }
    }
}
