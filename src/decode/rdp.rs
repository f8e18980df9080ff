//! The direct-RDP stream decoder: routes each direction's bytes through the layers in
//! the order RDP uses them (preconnection PDU, X.224, then TLS or MCS).
