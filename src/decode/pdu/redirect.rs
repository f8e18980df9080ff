//! Server Redirection (MS-RDPBCGR 2.2.13): a connection broker or farm member tells
//! the client to reconnect elsewhere. The password field is a credential or a broker
//! cookie, so only its length is kept.

use super::names::{read_flags, Flags, LB_FLAGS};
use super::reader::{ansi_text, ParseError, Parsed, Reader};
use serde::{Deserialize, Serialize};

/// Most target addresses listed from LB_TARGET_NET_ADDRESSES.
const MAX_ADDRESSES: usize = 16;

const LB_TARGET_NET_ADDRESS: u32 = 0x0000_0001;
const LB_LOAD_BALANCE_INFO: u32 = 0x0000_0002;
const LB_USERNAME: u32 = 0x0000_0004;
const LB_DOMAIN: u32 = 0x0000_0008;
const LB_PASSWORD: u32 = 0x0000_0010;
const LB_NOREDIRECT: u32 = 0x0000_0080;
const LB_TARGET_FQDN: u32 = 0x0000_0100;
const LB_TARGET_NETBIOS_NAME: u32 = 0x0000_0200;
const LB_TARGET_NET_ADDRESSES: u32 = 0x0000_0800;
const LB_CLIENT_TSV_URL: u32 = 0x0000_1000;
const LB_REDIRECTION_GUID: u32 = 0x0000_8000;
const LB_TARGET_CERTIFICATE: u32 = 0x0001_0000;

/// What a Server Redirection PDU told the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redirection {
    /// The session id on the target server.
    pub session_id: u32,
    /// RedirFlags: which fields are present and how to use them.
    #[serde(deserialize_with = "read_flags::lb")]
    pub flags: Flags,
    /// LB_TARGET_NET_ADDRESS: the address to reconnect to.
    pub target_net_address: Option<String>,
    /// LB_LOAD_BALANCE_INFO: the routing token for the broker, as text.
    pub load_balance_info: Option<String>,
    /// LB_USERNAME: the user name to reconnect with.
    pub user: Option<String>,
    /// LB_DOMAIN: the domain to reconnect with.
    pub domain: Option<String>,
    /// LB_PASSWORD: the length of the password or broker cookie (never its content).
    pub password_len: Option<u32>,
    /// LB_TARGET_FQDN: the target's fully qualified name.
    pub target_fqdn: Option<String>,
    /// LB_TARGET_NETBIOS_NAME: the target's NetBIOS name.
    pub target_netbios_name: Option<String>,
    /// LB_CLIENT_TSV_URL: the tsv:// URL of the target.
    pub tsv_url: Option<String>,
    /// LB_TARGET_CERTIFICATE: the length of the target's certificate blob.
    pub certificate_len: Option<u32>,
    /// LB_TARGET_NET_ADDRESSES: every address of the target (at most 16 listed).
    pub target_net_addresses: Vec<String>,
}

impl Redirection {
    /// True when LB_NOREDIRECT is set: the PDU informs and the client stays put.
    pub fn no_redirect(&self) -> bool {
        self.flags.contains(LB_NOREDIRECT)
    }

    /// The best name for where the client is sent.
    pub fn target(&self) -> Option<&str> {
        self.target_fqdn
            .as_deref()
            .or(self.target_net_address.as_deref())
            .or(self.target_netbios_name.as_deref())
            .or(self.target_net_addresses.first().map(String::as_str))
    }
}

/// Decodes RDP_SERVER_REDIRECTION_PACKET, starting at its Flags field.
pub fn redirection(r: &mut Reader<'_>) -> Parsed<Redirection> {
    let _flags = r.u16()?;
    let _length = r.u16()?;
    let session_id = r.u32()?;
    let raw = r.u32()?;
    let mut red = Redirection {
        session_id,
        flags: Flags::new(raw, LB_FLAGS),
        target_net_address: None,
        load_balance_info: None,
        user: None,
        domain: None,
        password_len: None,
        target_fqdn: None,
        target_netbios_name: None,
        tsv_url: None,
        certificate_len: None,
        target_net_addresses: Vec::new(),
    };
    // The optional fields come in this fixed order, each as a u32 length and bytes.
    let has = |bit: u32| raw & bit != 0;
    if has(LB_TARGET_NET_ADDRESS) {
        red.target_net_address = Some(text_field(r, "TargetNetAddress")?);
    }
    if has(LB_LOAD_BALANCE_INFO) {
        red.load_balance_info = Some(ansi_text(blob(r, "LoadBalanceInfo")?));
    }
    if has(LB_USERNAME) {
        red.user = Some(text_field(r, "UserName")?);
    }
    if has(LB_DOMAIN) {
        red.domain = Some(text_field(r, "Domain")?);
    }
    if has(LB_PASSWORD) {
        red.password_len = Some(blob(r, "Password")?.len() as u32);
    }
    if has(LB_TARGET_FQDN) {
        red.target_fqdn = Some(text_field(r, "TargetFQDN")?);
    }
    if has(LB_TARGET_NETBIOS_NAME) {
        red.target_netbios_name = Some(text_field(r, "TargetNetBiosName")?);
    }
    if has(LB_CLIENT_TSV_URL) {
        red.tsv_url = Some(text_field(r, "TsvUrl")?);
    }
    if has(LB_REDIRECTION_GUID) {
        blob(r, "RedirectionGuid")?;
    }
    if has(LB_TARGET_CERTIFICATE) {
        red.certificate_len = Some(blob(r, "TargetCertificate")?.len() as u32);
    }
    if has(LB_TARGET_NET_ADDRESSES) {
        red.target_net_addresses = addresses(&mut Reader::new(blob(r, "TargetNetAddresses")?))?;
    }
    Ok(red)
}

/// A u32 length followed by that many bytes.
fn blob<'a>(r: &mut Reader<'a>, what: &str) -> Parsed<&'a [u8]> {
    let len = r.u32()?;
    r.take_len(len)
        .map_err(|e| ParseError::new(format!("{what}: {}", e.reason)))
}

/// A u32 length followed by that many bytes of UTF-16LE text.
fn text_field(r: &mut Reader<'_>, what: &str) -> Parsed<String> {
    let bytes = blob(r, what)?;
    Reader::new(bytes).utf16(bytes.len())
}

/// TARGET_NET_ADDRESSES: a count, then that many length-prefixed UTF-16 addresses.
fn addresses(r: &mut Reader<'_>) -> Parsed<Vec<String>> {
    let count = r.u32()?;
    let mut out = Vec::new();
    // Each address consumes at least its 4-byte length, so the data bounds the loop.
    for _ in 0..count {
        if r.remaining() == 0 || out.len() == MAX_ADDRESSES {
            break;
        }
        out.push(text_field(r, "TargetNetAddress")?);
    }
    Ok(out)
}
