//! pcapng traces without a pcap library: a block encoder, synthetic TCP/IP flows and a
//! small reader. Everything here is sans-IO; the caller owns the buffers and the file.
//!
//! # Layout of the files we write
//!
//! - **One section** (SHB, `shb_userappl` = `"rdptap <version>"`), little-endian.
//! - **`LINKTYPE_RAW` (101)**: packets start at the IPv4 or IPv6 header. rdptap never sees
//!   link-layer frames, and inventing Ethernet addresses would add bytes and no meaning.
//! - **One interface (IDB) per connection**, named `rdptap-conn-<N>`, with microsecond
//!   timestamps (`if_tsresol` = 6). Every flow of a connection (both raw legs, and any
//!   decrypted or inner flow) uses its interface, so Wireshark's "interface" column and
//!   filters like `frame.interface_name == "rdptap-conn-7"` select one connection, and a
//!   bundle can cut one connection out of a shared file by interface alone
//!   ([`read::rewrite`]).
//! - **Enhanced Packet Blocks** carry IP + TCP headers + payload, captured whole, with one
//!   `opt_comment` per event the packet triggered.
//! - **Decryption Secrets Blocks** embed the NSS key log, commented with the `if_name` of
//!   the connection the keys belong to.
//! - **Segments carry at most [`tcp::MAX_SEGMENT`] = 65,495 payload bytes**: the IPv4 total
//!   length field is 16 bits, so 65,535 minus 20 bytes of IP header and 20 of TCP header is
//!   the most one IPv4 packet can hold. IPv6 flows use the same limit so that one rule
//!   splits every flow the same way.
//!
//! Each block is appended whole to a buffer, so a writer that only ever writes whole
//! buffers leaves a file that every reader can open, at worst with one torn final block
//! (tshark then reads every whole block and warns that the file was "cut short").
//!
//! # What Wireshark expects (checked against Debian 12's tshark 4.0)
//!
//! - **Keys before the handshake.** Wireshark uses a DSB's keys only for TLS handshakes it
//!   reaches after reading that DSB, even with two-pass dissection. A DSB written after a
//!   TLS 1.3 ServerHello leaves that session encrypted. [`read::rewrite`] therefore moves
//!   DSBs to the start of their section.
//! - **`RDG_OUT_DATA` is not HTTP to Wireshark.** Its HTTP dissector accepts only methods
//!   it knows (`RPC_OUT_DATA` yes, `RDG_OUT_DATA`/`RDG_IN_DATA` no), so a gateway's
//!   HTTP-transport request stays TCP payload; the responses and any later request with
//!   a standard method (such as a WebSocket `GET`) are dissected as HTTP.
//! - Comments are the field `frame.comment`; the interface is `frame.interface_name`;
//!   X.224 is the protocol `cotp`.

pub mod block;
pub mod checksum;
pub mod read;
pub mod tcp;

pub use block::{interface, packet, secrets, section_header};
pub use read::{blocks, rewrite, Block, ReadError};
pub use tcp::{Close, TcpFlow, MAX_SEGMENT};
