//! Causes read from the RDP PDUs after MCS, when rdptap sees them (interception, or
//! standard RDP security without encryption): Set Error Info, licensing, and a server
//! that closes after logon without saying why.

use super::close::Close;
use super::seen::Seen;
use super::{Finding, Inputs};
use crate::session::mstsc;
use crate::session::{Cause, CloseKind, ClosedBy};

/// The cause from the decrypted phases, if they decide it.
pub(super) fn session_end(
    input: &Inputs<'_>,
    seen: &Seen,
    close: Option<&Close>,
) -> Option<Finding> {
    let r = &seen.rdp;
    let closing = close.map(closing_words).unwrap_or_default();
    if let Some((at, e)) = r.error_info {
        let licensing = e.is_licensing();
        let server_closed = close.is_some_and(|c| c.by == ClosedBy::Server);
        let code = if licensing {
            mstsc::licensing(Some(e.0))
        } else if server_closed {
            mstsc::after_error_info(e.0, e.meaning())
        } else {
            mstsc::MstscCode {
                disc_reason: mstsc::SOCKET_CLOSED,
                extended: Some(e.0),
                meaning: e.meaning().to_string(),
                inferred: true,
            }
        };
        return Some(
            Finding::new(
                if licensing {
                    Cause::LicensingFailed
                } else {
                    Cause::ServerErrorInfo
                },
                format!(
                    "the server sent Set Error Info {} (0x{:X}: {}){closing}",
                    e.name(),
                    e.0,
                    e.meaning()
                ),
                error_info_hint(e.0),
            )
            .evidence([at])
            .mstsc(Some(code)),
        );
    }
    if let Some((at, l)) = &r.license_failed {
        let what = match &l.error {
            Some(err) => format!("{} with state transition {}", err.code, err.transition),
            None => format!("{}", l.msg_type),
        };
        return Some(
            Finding::new(
                Cause::LicensingFailed,
                format!("Remote Desktop licensing failed: the server sent {what}{closing}"),
                "check the host's Remote Desktop licensing: a licensing server must be reachable and have CALs of the right type (per user/per device), or the grace period has ended",
            )
            .evidence([*at])
            .mstsc(Some(mstsc::licensing(None))),
        );
    }
    let close = close?;
    if let Some((at, target)) = &r.redirection {
        return Some(
            Finding::new(
                Cause::Ok,
                format!(
                    "the server redirected the client{} (Server Redirection PDU){closing}; the client reconnects there",
                    target.as_ref().map(|t| format!(" to {t}")).unwrap_or_default()
                ),
                "nothing to fix here; diagnose the connection to the redirection target, which starts anew",
            )
            .evidence([*at]),
        );
    }
    let logged_on = r.logon.or(r.demand_active);
    if close.by == ClosedBy::Server {
        let at = logged_on?;
        let after = if r.logon.is_some() {
            "after logon (Save Session Info)"
        } else if r.active.is_some() {
            "in the active session"
        } else {
            "after the capability exchange (Demand Active)"
        };
        let logon_error = r
            .logon_error
            .as_ref()
            .and_then(|(_, s)| s.logon_error.as_ref())
            .map(|e| {
                format!(
                    "; earlier the server reported the logon notice {}",
                    e.error_type
                )
            })
            .unwrap_or_default();
        let dpu = seen
            .dpu_from_server
            .as_ref()
            .map(|(_, reason)| format!(" after a Disconnect Provider Ultimatum ({reason})"))
            .unwrap_or_default();
        return Some(
            Finding::new(
                Cause::ServerClosedAfterLogon,
                format!(
                    "the server closed the session {after}{dpu} without sending Set Error Info, so it gave no reason{logon_error}{closing}"
                ),
                "a session that ends right after logon usually failed to start on the host: check the host's event log (TerminalServices-LocalSessionManager, Application) for a broken user profile, a failing logon script or shell, or session-creation errors",
            )
            .evidence([at])
            .mstsc(Some(mstsc::socket_closed())),
        );
    }
    if close.by == ClosedBy::Client && matches!(close.kind, CloseKind::Fin | CloseKind::TlsAlert) {
        let phase = seen.phase.unwrap_or(crate::session::Phase::TcpConnect);
        let how = if r.client_shutdown.is_some() {
            " after asking to end the session (Shutdown Request)"
        } else if r.client_dpu.is_some() {
            " with a Disconnect Provider Ultimatum"
        } else {
            ""
        };
        let plain = input.plain;
        return Some(Finding::new(
            Cause::Ok,
            format!(
                "the client ended the connection in an orderly way{how} in the {phase} phase; rdptap decrypted {} bytes from the client and {} from the server",
                plain[0].bytes, plain[1].bytes
            ),
            "nothing to fix on the path rdptap can see",
        ));
    }
    None
}

fn closing_words(c: &Close) -> String {
    match (c.by, c.kind) {
        (ClosedBy::Server, CloseKind::Rst) => "; then the server reset the connection".into(),
        (ClosedBy::Server, _) => "; then the server closed the connection".into(),
        (ClosedBy::Client, _) => "; then the client closed the connection".into(),
        _ => String::new(),
    }
}

fn error_info_hint(code: u32) -> &'static str {
    match code {
        0x1..=0x2 | 0xB => "an administrator (or a management tool) ended the session on the host",
        0x3 | 0x4 => "a session time limit on the host ended the session (Group Policy: Session Time Limits)",
        0x5 => "another connection took over this user's session",
        0x7 => "the host refused the connection after it started: check 'Allow log on through Remote Desktop Services', the Remote Desktop Users group, connection limits and the host's event log",
        0x9 => "the user lacks the right to log on remotely: add them to Remote Desktop Users",
        0xC => "the user logged off",
        0x100..=0x10B => "check the host's Remote Desktop licensing (licensing server reachable, CALs available)",
        0x400..=0x412 => "check the connection broker and the target session host it chose",
        _ => "look up the errorInfo name in MS-RDPBCGR and check the host's event log at this time",
    }
}
