//! Process limits: the open-file limit caps how many connections can be relayed.

/// Raise the soft RLIMIT_NOFILE to the hard limit and return the soft limit in force
/// afterwards (None where the platform has no such limit or it cannot be read).
///
/// Each relayed connection needs two descriptors; the common soft limit of 1024 would cap
/// rdptap at about 500 connections.
pub fn raise_open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        // SAFETY: getrlimit/setrlimit only read and write the struct passed to them.
        unsafe {
            let mut lim = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
                return None;
            }
            if lim.rlim_cur < lim.rlim_max {
                let want = libc::rlimit {
                    rlim_cur: lim.rlim_max,
                    rlim_max: lim.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &want) == 0 {
                    lim.rlim_cur = lim.rlim_max;
                }
            }
            // rlim_t is 32 bits wide on some targets.
            #[allow(clippy::unnecessary_cast)]
            Some(lim.rlim_cur as u64)
        }
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    #[test]
    #[cfg(unix)]
    fn limit_is_readable_and_not_lowered() {
        let first = super::raise_open_file_limit().unwrap();
        assert!(super::raise_open_file_limit().unwrap() >= first);
    }
}
