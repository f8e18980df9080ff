//! The phases of a connection, in the order they happen: through an RD Gateway the
//! gateway's own phases come first, then the inner RDP connection's.

use crate::vocab::closed_vocab;

closed_vocab! {
    /// How far a connection got.
    pub enum Phase {
        /// Accepting the client and dialling the host.
        TcpConnect = ("tcp_connect", "TCP connect"),
        /// The TLS handshake with the RD Gateway (gateway mode).
        GwTls = ("gw_tls", "gateway TLS handshake"),
        /// The gateway's HTTP requests and their authentication (401 rounds).
        GwHttpAuth = ("gw_http_auth", "gateway HTTP authentication"),
        /// MS-TSGU HANDSHAKE_REQUEST and its response.
        GwHandshake = ("gw_handshake", "gateway handshake"),
        /// MS-TSGU extended authentication (SSPI_NTLM or PAA), when used.
        GwExtAuth = ("gw_ext_auth", "gateway extended authentication"),
        /// MS-TSGU TUNNEL_CREATE and its response (RD CAP, PAA cookie).
        GwTunnelCreate = ("gw_tunnel_create", "gateway tunnel create"),
        /// MS-TSGU TUNNEL_AUTH and its response (client name, redirection, idle timeout).
        GwTunnelAuth = ("gw_tunnel_auth", "gateway tunnel authorization"),
        /// MS-TSGU CHANNEL_CREATE and its response (RD RAP, the gateway dials the host).
        GwChannelCreate = ("gw_channel_create", "gateway channel create"),
        /// MS-TSGU DATA: the tunnel carries the inner RDP connection.
        GwData = ("gw_data", "gateway data (tunnel open)"),
        /// X.224 negotiation of the security protocol.
        X224 = ("x224", "X.224 negotiation"),
        /// The TLS handshake.
        TlsHandshake = ("tls_handshake", "TLS handshake"),
        /// Encrypted TLS traffic (CredSSP, MCS and the rest, invisible in passthrough).
        TlsSession = ("tls_session", "TLS session"),
        /// MCS connect, seen in the clear under standard RDP security or when intercepting.
        Mcs = ("mcs", "MCS connect"),
        /// MCS Erect Domain, Attach User and the channel joins.
        ChannelJoin = ("channel_join", "channel join"),
        /// Security Exchange and the Client Info PDU (the logon credentials).
        SecureSettings = ("secure_settings", "secure settings exchange (Client Info)"),
        /// Remote Desktop licensing.
        Licensing = ("licensing", "licensing"),
        /// Demand Active and Confirm Active: the capability exchange.
        Capabilities = ("capabilities", "capability exchange"),
        /// Synchronize, Control and font PDUs that finish the connection.
        Finalization = ("finalization", "connection finalization"),
        /// The session is up: screen updates and input flow.
        Active = ("active", "active session"),
    }
}
