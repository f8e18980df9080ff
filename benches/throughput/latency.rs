//! Round-trip latency of small messages, one connection per path, paths taken in turn,
//! optionally with everything pinned to one CPU.

use crate::env::Env;
use crate::peers::start_relays;
use crate::report::lat_stats;
use crate::script::{ping_record, Script, PING};
use crate::upstream::{connect, Role, Upstream};
use crate::{Opts, Res, PATHS};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Instant;

/// Restricts the calling thread, and every thread and process it starts from now
/// on, to one CPU; the old mask comes back on drop (threads already started keep it).
struct Pin {
    old: libc::cpu_set_t,
    cpu: usize,
}

impl Pin {
    fn first_cpu() -> Res<Pin> {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: cpu_set_t is plain data; the calls read and write only the sets passed.
        unsafe {
            let mut old: libc::cpu_set_t = std::mem::zeroed();
            if libc::sched_getaffinity(0, size, &mut old) != 0 {
                return Err(io::Error::last_os_error().into());
            }
            let cpu = (0..libc::CPU_SETSIZE as usize)
                .find(|&c| libc::CPU_ISSET(c, &old))
                .ok_or("empty CPU mask")?;
            let mut one: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut one);
            if libc::sched_setaffinity(0, size, &one) != 0 {
                return Err(io::Error::last_os_error().into());
            }
            Ok(Pin { old, cpu })
        }
    }
}

impl Drop for Pin {
    fn drop(&mut self) {
        let size = std::mem::size_of::<libc::cpu_set_t>();
        // SAFETY: as in first_cpu.
        unsafe { libc::sched_setaffinity(0, size, &self.old) };
    }
}

/// Round-trip times of one latency pass.
pub(crate) struct Lat {
    /// The CPU everything ran on, or None when the scheduler placed it.
    pub(crate) cpu: Option<usize>,
    /// Nanoseconds, per path.
    pub(crate) samples: [Vec<u64>; 4],
}

/// Round trips on one connection per path, taken in turn (one round trip per
/// path, then the next), so every path sees the same moments of the run.
///
/// With `pin`, the client, the echo server and the relays all share one CPU. On a
/// small VM a wake-up across vCPUs costs tens of µs and the scheduler flips between
/// same-CPU and cross-CPU placement, which makes unpinned medians bimodal; on one
/// CPU what remains is the cost of the extra hop itself.
pub(crate) fn latency(env: &Env, opts: &Opts, script: &Arc<Script>, pin: bool) -> Res<Lat> {
    let pin = if pin { Some(Pin::first_cpu()?) } else { None };
    let up = Upstream::start(Role::Echo, script)?;
    let relays = start_relays(env, up.port)?;
    let ports: Vec<u16> = std::iter::once(up.port)
        .chain(relays.iter().map(|r| r.port))
        .collect();
    let mut conns = Vec::new();
    for &p in &ports {
        let mut s = connect(p)?;
        script.client_handshake(&mut s)?;
        conns.push(s);
    }
    let msg = ping_record();
    let mut buf = [0u8; PING];
    let mut rtt = |s: &mut TcpStream| -> Res<u64> {
        let t = Instant::now();
        s.write_all(&msg)?;
        s.read_exact(&mut buf)?;
        let ns = t.elapsed().as_nanos() as u64;
        if buf != msg {
            return Err("echo differs from the ping".into());
        }
        Ok(ns)
    };
    let mut samples: [Vec<u64>; 4] = Default::default();
    for n in 0..opts.warmup + opts.rtts {
        for (i, s) in conns.iter_mut().enumerate() {
            let ns = rtt(s)?;
            if n >= opts.warmup {
                samples[i].push(ns);
            }
        }
    }
    let cpu = pin.as_ref().map(|p| p.cpu);
    eprintln!(
        "  latency ({}): p50 {}",
        cpu.map_or("unpinned".to_string(), |c| format!("all on CPU {c}")),
        lat_stats(&samples)
            .iter()
            .zip(PATHS)
            .map(|(l, n)| format!("{n} {:.1}", l.p50))
            .collect::<Vec<_>>()
            .join(", ")
    );
    drop(conns);
    drop(relays);
    drop(up);
    drop(pin);
    Ok(Lat { cpu, samples })
}
