//! Bulk throughput: one connection per run pushes the payload to the sink, through
//! each path in turn.

use crate::env::Env;
use crate::peers::start_relays;
use crate::script::{bulk_chunk, Script};
use crate::upstream::{connect, Role, Upstream};
use crate::{Opts, Res, PATHS};
use std::io::{Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// GB/s per path, one sample per run.
pub(crate) struct Throughput {
    pub(crate) bytes: u64,
    pub(crate) gbps: [Vec<f64>; 4],
}

pub(crate) fn throughput(
    env: &Env,
    opts: &Opts,
    script: &Arc<Script>,
    rdp: bool,
) -> Res<Throughput> {
    let kind = if rdp { "rdp" } else { "raw" };
    let up = Upstream::start(Role::Sink { rdp }, script)?;
    let relays = start_relays(env, up.port)?;
    let ports: Vec<u16> = std::iter::once(up.port)
        .chain(relays.iter().map(|r| r.port))
        .collect();
    let chunk = bulk_chunk(rdp);
    // Warm every path (page cache for the relay binaries, socket buffer autotuning,
    // haproxy's pools) so the first timed run is not an outlier.
    for &p in &ports {
        push(p, script, rdp, &chunk, opts.mib.min(64), &up)?;
    }
    let mut gbps: [Vec<f64>; 4] = Default::default();
    let mut bytes = 0;
    for rep in 0..opts.reps {
        // Interleaved, so drift on a noisy machine hits every path alike.
        for (i, &p) in ports.iter().enumerate() {
            let (n, secs) = push(p, script, rdp, &chunk, opts.mib, &up)?;
            bytes = n;
            let g = n as f64 / secs / 1e9;
            eprintln!(
                "  {kind} run {}/{} {:<8} {g:6.2} GB/s",
                rep + 1,
                opts.reps,
                PATHS[i]
            );
            gbps[i].push(g);
        }
    }
    drop(relays);
    Ok(Throughput { bytes, gbps })
}

/// Sends `chunks` × `chunk` after the opening; returns the bytes and seconds from
/// the first bulk write to the sink seeing EOF.
pub(crate) fn push(
    port: u16,
    script: &Script,
    rdp: bool,
    chunk: &[u8],
    chunks: u64,
    up: &Upstream,
) -> Res<(u64, f64)> {
    let mut s = connect(port)?;
    if rdp {
        script.client_handshake(&mut s)?;
    }
    let start = Instant::now();
    for _ in 0..chunks {
        s.write_all(chunk)?;
    }
    s.shutdown(Shutdown::Write)?;
    let (got, end) = up
        .reports
        .recv_timeout(Duration::from_secs(120))
        .map_err(|_| "sink never reported")??;
    let sent = chunk.len() as u64 * chunks;
    if got != sent {
        return Err(format!("sink got {got} bytes, {sent} were sent").into());
    }
    // Wait for the whole path to close, so no connection overlaps the next run.
    let mut rest = Vec::new();
    s.read_to_end(&mut rest)?;
    Ok((sent, end.duration_since(start).as_secs_f64()))
}
