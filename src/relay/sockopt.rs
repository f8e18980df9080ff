//! The socket option rdptap sets on both legs of every connection.

use std::time::Duration;
use tokio::net::TcpStream;

/// How long sent bytes may stay unacknowledged, or unsent behind a peer's zero window,
/// before the kernel gives up on the connection (TCP_USER_TIMEOUT, Linux). Without it a
/// peer that vanished keeps a connection for the kernel's ~15 minutes of retransmissions.
pub const USER_TIMEOUT: Duration = Duration::from_secs(60);

/// Bounds how long the kernel holds on to unacknowledged bytes on `s` (where the
/// platform allows it; elsewhere the relay's own timers are the bound).
pub fn bound_unacked(s: &TcpStream) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let ms = USER_TIMEOUT.as_millis() as libc::c_uint;
        // SAFETY: setsockopt reads `size_of::<c_uint>()` bytes from a pointer to a local
        // that outlives the call, on a descriptor `s` keeps open.
        let r = unsafe {
            libc::setsockopt(
                s.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_USER_TIMEOUT,
                (&ms as *const libc::c_uint).cast(),
                std::mem::size_of::<libc::c_uint>() as libc::socklen_t,
            )
        };
        if r != 0 {
            tracing::debug!(
                "TCP_USER_TIMEOUT not set: {}",
                std::io::Error::last_os_error()
            );
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = s;
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[tokio::test]
    async fn both_legs_get_the_user_timeout() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let c = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        bound_unacked(&c);
        let mut ms: libc::c_uint = 0;
        let mut len = std::mem::size_of::<libc::c_uint>() as libc::socklen_t;
        // SAFETY: getsockopt writes at most `len` bytes into the local `ms`.
        let r = unsafe {
            libc::getsockopt(
                c.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_USER_TIMEOUT,
                (&mut ms as *mut libc::c_uint).cast(),
                &mut len,
            )
        };
        assert_eq!(r, 0);
        assert_eq!(u128::from(ms), USER_TIMEOUT.as_millis());
    }
}
