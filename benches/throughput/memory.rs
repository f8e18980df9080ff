//! Memory per idle connection: the growth of rdptap's VmRSS over many held connections.

use crate::env::Env;
use crate::peers::start_rdptap;
use crate::script::{expect, Script};
use crate::upstream::{connect, Role, Upstream};
use crate::Res;
use std::fs;
use std::io::Write;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

pub(crate) struct Rss {
    pub(crate) conns: usize,
    pub(crate) before_kib: u64,
    pub(crate) after_kib: u64,
}

/// VmRSS of process `pid`, KiB.
pub(crate) fn vm_rss_kib(pid: i32) -> Res<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    Ok(line.split_whitespace().nth(1).ok_or("bad VmRSS")?.parse()?)
}

pub(crate) fn idle_rss(env: &Env, script: &Arc<Script>, conns: usize) -> Res<Rss> {
    let up = Upstream::start(Role::Hold, script)?;
    let relay = start_rdptap(env, up.port)?;
    let pid = relay.pid();
    thread::sleep(Duration::from_millis(300));
    let before_kib = vm_rss_kib(pid)?;
    let mut clients = Vec::with_capacity(conns);
    for i in 0..conns {
        // The CR goes up and the CC comes back, so both legs exist and both
        // directions have relayed bytes once; then the connection stays idle.
        let mut s = connect(relay.port).map_err(|e| format!("connection {i}: {e}"))?;
        s.write_all(&script.cr)?;
        expect(&mut s, &script.cc).map_err(|e| format!("connection {i}: {e}"))?;
        clients.push(s);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while up.held.lock().unwrap().len() < conns {
        if Instant::now() > deadline {
            return Err("the holding server did not get every connection".into());
        }
        thread::sleep(Duration::from_millis(10));
    }
    thread::sleep(Duration::from_millis(500));
    let after_kib = vm_rss_kib(pid)?;
    eprintln!("  {conns} idle connections: VmRSS {before_kib} → {after_kib} KiB");
    drop(clients);
    drop(relay);
    Ok(Rss {
        conns,
        before_kib,
        after_kib,
    })
}
