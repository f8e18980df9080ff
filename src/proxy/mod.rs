//! `rdptap proxy`, the composition root of the live proxy: the server that accepts
//! clients, and the wiring of each connection from its sockets through the relay to its
//! tracker and the sinks.

pub mod admission;
pub mod announce;
pub mod config;
pub mod conn;
pub mod keys;
pub mod live;
pub mod server;
pub mod settings;
pub mod tunnels;

pub use server::{ProxyServer, StartError};
