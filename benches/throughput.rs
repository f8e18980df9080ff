//! Compares rdptap's relay with no relay, socat and haproxy on loopback, in one run:
//! bulk throughput (raw bytes and an RDP-shaped stream that keeps rdptap's decoders
//! busy), added round-trip latency of small messages, and memory per idle connection.
//!
//! It prints ratios against the direct path measured in the same run, because the
//! absolute numbers depend on the machine. Run it with `benches/run.sh`, or
//! `cargo build --release && cargo bench --bench throughput`. Options go after `--`:
//! `--mib N` (bulk size per run, default 1024), `--reps N` (runs per path, default 3),
//! `--rtts N` (timed round trips per path, default 20000), `--conns N` (idle
//! connections, default 2000).

fn main() {
    // `cargo test --all-targets` also runs harness = false benches, but without
    // `--bench`; only `cargo bench` passes it. Anything else must return at once so
    // the test suite never pushes gigabytes or spawns relays.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    #[cfg(target_os = "linux")]
    if let Err(e) = bench::run() {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
    #[cfg(not(target_os = "linux"))]
    eprintln!("this benchmark needs Linux (/proc, socat, haproxy); skipped");
}

#[cfg(target_os = "linux")]
mod bench {
    use std::fs::{self, File};
    use std::io::{self, Read, Write};
    use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
    use std::os::unix::process::CommandExt;
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{mpsc, Arc, Mutex};
    use std::thread::{self, JoinHandle};
    use std::time::{Duration, Instant};

    type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

    /// A real xrdp / xfreerdp TLS 1.2 connection, one file per direction.
    const FIXTURE_C2S: &[u8] = include_bytes!("../tests/data/xrdp-tls12-ok.c2s.bin");
    const FIXTURE_S2C: &[u8] = include_bytes!("../tests/data/xrdp-tls12-ok.s2c.bin");
    /// Application-data payload per bulk record: the TLS maximum, as RDP bulk
    /// (bitmaps, file copies) fills records.
    const RECORD_PAYLOAD: usize = 16 * 1024;
    /// Size of one small ping-pong message, TLS record header included.
    const PING: usize = 64;
    const PATHS: [&str; 4] = ["direct", "rdptap", "socat", "haproxy"];
    const LAT_TARGET_US: f64 = 25.0;
    const RSS_TARGET_KIB: f64 = 32.0;
    /// Bounds every blocking socket call, so a stuck relay fails the run instead of
    /// hanging it.
    const IO_TIMEOUT: Duration = Duration::from_secs(60);

    struct Opts {
        mib: u64,
        reps: usize,
        rtts: usize,
        warmup: usize,
        conns: usize,
        extra: Vec<String>,
    }

    fn parse_opts() -> Res<Opts> {
        let mut o = Opts {
            mib: 1024,
            reps: 3,
            rtts: 20_000,
            warmup: 2_000,
            conns: 2_000,
            extra: Vec::new(),
        };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            let mut num = |name: &str| -> Res<u64> {
                let v = args.next().ok_or(format!("{name} needs a number"))?;
                o.extra.push(format!("{name} {v}"));
                Ok(v.parse::<u64>().map_err(|e| format!("{name} {v}: {e}"))?)
            };
            match a.as_str() {
                "--bench" => {}
                "--mib" => o.mib = num("--mib")?.max(1),
                "--reps" => o.reps = num("--reps")?.max(1) as usize,
                "--rtts" => o.rtts = num("--rtts")?.max(4) as usize,
                "--conns" => o.conns = num("--conns")?.max(1) as usize,
                // cargo passes a name filter through as a bare word; there is only one
                // benchmark here, so it is ignored.
                s if !s.starts_with('-') => {}
                s => {
                    return Err(format!(
                        "unknown option {s} (known: --mib, --reps, --rtts, --conns)"
                    )
                    .into())
                }
            }
        }
        Ok(o)
    }

    pub fn run() -> Res<()> {
        let opts = parse_opts()?;
        // 2,000 idle connections need 4,000 descriptors here (client ends plus the
        // holding server's).
        let nofile = rdptap::cli::limits::raise_open_file_limit().unwrap_or(1024);
        let env = Env::new()?;
        let script = Arc::new(Script::from_fixture()?);
        print_header(&opts, &env, nofile);

        let raw = throughput(&env, &opts, &script, false)?;
        let rdp = throughput(&env, &opts, &script, true)?;
        let lat = [
            latency(&env, &opts, &script, true)?,
            latency(&env, &opts, &script, false)?,
        ];
        let conns = opts.conns.min((nofile.saturating_sub(64) / 2) as usize);
        if conns < opts.conns {
            println!(
                "note: the open-file limit ({nofile}) allows only {conns} idle connections, not {}; raise it with ulimit -n",
                opts.conns
            );
        }
        let rss = idle_rss(&env, &script, conns)?;

        println!();
        print_throughput(&opts, "raw bytes", &raw);
        print_throughput(
            &opts,
            "RDP-shaped: X.224 CR/CC, TLS 1.2 handshake, then 16 KiB application-data records",
            &rdp,
        );
        for l in &lat {
            print_latency(&opts, l);
        }
        print_rss(&rss);
        print_targets(&raw, &rdp, &lat, &rss);
        Ok(())
    }

    // ---------------------------------------------------------------- environment

    /// The relay binaries and a scratch directory for configs and logs, removed at the end.
    struct Env {
        rdptap: PathBuf,
        tmp: PathBuf,
    }

    impl Env {
        fn new() -> Res<Env> {
            // The binary cargo built for this benchmark: with the bench profile it is
            // target/release/rdptap, the same file `cargo build --release` makes.
            let rdptap = match std::env::var_os("RDPTAP_BIN") {
                Some(p) => PathBuf::from(p),
                None => PathBuf::from(env!("CARGO_BIN_EXE_rdptap")),
            };
            if !rdptap.exists() {
                return Err(
                    format!("{} is missing; run cargo build --release", rdptap.display()).into(),
                );
            }
            for tool in ["socat", "haproxy"] {
                if Command::new(tool)
                    .arg(if tool == "socat" { "-V" } else { "-v" })
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_err()
                {
                    return Err(format!("{tool} is not installed (apt-get install {tool})").into());
                }
            }
            let tmp = std::env::temp_dir().join(format!("rdptap-bench-{}", std::process::id()));
            fs::create_dir_all(&tmp)?;
            Ok(Env { rdptap, tmp })
        }
    }

    impl Drop for Env {
        fn drop(&mut self) {
            // RDPTAP_BENCH_KEEP=1 keeps the relays' logs (rdptap's verdicts among them).
            if std::env::var_os("RDPTAP_BENCH_KEEP").is_some() {
                eprintln!("relay logs kept in {}", self.tmp.display());
            } else {
                let _ = fs::remove_dir_all(&self.tmp);
            }
        }
    }

    /// The version line of `cmd arg`: the one naming a version, else the first.
    fn first_line(cmd: &str, arg: &str) -> String {
        Command::new(cmd)
            .arg(arg)
            .output()
            .ok()
            .map(|o| {
                let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
                s.push_str(&String::from_utf8_lossy(&o.stderr));
                s.lines()
                    .find(|l| l.to_lowercase().contains("version"))
                    .or_else(|| s.lines().next())
                    .unwrap_or("")
                    .trim()
                    .to_string()
            })
            .unwrap_or_default()
    }

    fn print_header(opts: &Opts, env: &Env, nofile: u64) {
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|c| {
                c.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split(':').nth(1))
                    .map(|s| s.trim().to_string())
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let cores = thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0);
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let mut cmd = "cargo bench --bench throughput".to_string();
        if !opts.extra.is_empty() {
            cmd.push_str(" -- ");
            cmd.push_str(&opts.extra.join(" "));
        }
        println!("rdptap relay benchmark");
        println!("command:  {cmd}");
        println!(
            "machine:  {cores} cores ({cpu}), Linux {}, loopback 127.0.0.1 only",
            kernel.trim()
        );
        println!(
            "relays:   {} ({}); socat -b 65536 ({}); haproxy mode tcp, nbthread 2 ({})",
            first_line(env.rdptap.to_str().unwrap_or("rdptap"), "--version"),
            env.rdptap.display(),
            first_line("socat", "-V"),
            first_line("haproxy", "-v"),
        );
        println!(
            "plan:     {} MiB of payload per run, {} runs per path interleaved (median shown); {} round trips per path; {} idle connections; open-file limit {nofile}",
            opts.mib, opts.reps, opts.rtts, opts.conns
        );
    }

    // ---------------------------------------------------------------- the RDP script

    /// The RDP-shaped opening, cut from the fixture: X.224 CR/CC, then the TLS 1.2
    /// handshake as two flights per side.
    struct Script {
        cr: Vec<u8>,
        cc: Vec<u8>,
        /// ClientHello; then ClientKeyExchange, ChangeCipherSpec, Finished.
        client: [Vec<u8>; 2],
        /// ServerHello … ServerHelloDone; then NewSessionTicket, ChangeCipherSpec, Finished.
        server: [Vec<u8>; 2],
    }

    impl Script {
        fn from_fixture() -> Res<Script> {
            let (cr, c) = handshake(FIXTURE_C2S)?;
            let (cc, s) = handshake(FIXTURE_S2C)?;
            // The CC must select PROTOCOL_SSL, or rdptap would not expect TLS next.
            let selected = cc
                .get(15..19)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
            if cc.len() != 19 || cc[11] != 0x02 || selected != Some(1) {
                return Err("fixture CC does not select PROTOCOL_SSL".into());
            }
            if c[0][0] != 22 || c[0][5] != 1 {
                return Err("fixture c2s does not start its TLS with a ClientHello".into());
            }
            // The server's first flight ends with ServerHelloDone (handshake type 14);
            // the client answers only after it.
            let done = s
                .iter()
                .position(|r| r[0] == 22 && r.get(5) == Some(&14))
                .ok_or("no ServerHelloDone in fixture s2c")?;
            Ok(Script {
                cr,
                cc,
                client: [c[..1].concat(), c[1..].concat()],
                server: [s[..=done].concat(), s[done + 1..].concat()],
            })
        }

        fn client_handshake(&self, s: &mut TcpStream) -> io::Result<()> {
            s.write_all(&self.cr)?;
            expect(s, &self.cc)?;
            s.write_all(&self.client[0])?;
            expect(s, &self.server[0])?;
            s.write_all(&self.client[1])?;
            expect(s, &self.server[1])
        }

        fn server_handshake(&self, s: &mut TcpStream) -> io::Result<()> {
            expect(s, &self.cr)?;
            s.write_all(&self.cc)?;
            expect(s, &self.client[0])?;
            s.write_all(&self.server[0])?;
            expect(s, &self.client[1])?;
            s.write_all(&self.server[1])
        }
    }

    /// One side's opening TPKT frame, and its TLS records up to and including the
    /// first record after its ChangeCipherSpec (the Finished).
    fn handshake(d: &[u8]) -> Res<(Vec<u8>, Vec<&[u8]>)> {
        let tpkt = d
            .get(2..4)
            .map(|b| u16::from_be_bytes([b[0], b[1]]) as usize);
        let tpkt = tpkt
            .filter(|&n| n >= 4 && n <= d.len())
            .ok_or("bad TPKT in fixture")?;
        let mut recs = Vec::new();
        let mut i = tpkt;
        let mut after_ccs = false;
        while i + 5 <= d.len() {
            let end = i + 5 + u16::from_be_bytes([d[i + 3], d[i + 4]]) as usize;
            let rec = d.get(i..end).ok_or("truncated TLS record in fixture")?;
            recs.push(rec);
            if after_ccs {
                return Ok((d[..tpkt].to_vec(), recs));
            }
            after_ccs = rec[0] == 20;
            i = end;
        }
        Err("fixture has no ChangeCipherSpec followed by a record".into())
    }

    fn expect(s: &mut TcpStream, want: &[u8]) -> io::Result<()> {
        let mut got = vec![0u8; want.len()];
        s.read_exact(&mut got)?;
        if got != want {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "relayed bytes differ from those sent",
            ));
        }
        Ok(())
    }

    /// 1 MiB of payload per write: raw bytes, or 64 application-data records.
    fn bulk_chunk(rdp: bool) -> Vec<u8> {
        let fill = |n: usize| (0..n).map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8);
        if !rdp {
            return fill(1 << 20).collect();
        }
        let mut v = Vec::with_capacity(64 * (5 + RECORD_PAYLOAD));
        for _ in 0..64 {
            v.extend_from_slice(&[0x17, 0x03, 0x03]);
            v.extend_from_slice(&(RECORD_PAYLOAD as u16).to_be_bytes());
            v.extend(fill(RECORD_PAYLOAD));
        }
        v
    }

    fn ping_record() -> [u8; PING] {
        let mut m = [0x5au8; PING];
        m[..5].copy_from_slice(&[0x17, 0x03, 0x03, 0x00, (PING - 5) as u8]);
        m
    }

    // ---------------------------------------------------------------- upstream servers

    #[derive(Clone, Copy)]
    enum Role {
        /// Counts bytes until EOF (after the RDP opening when `rdp`).
        Sink { rdp: bool },
        /// RDP opening, then echoes PING-sized messages.
        Echo,
        /// Answers the CR with the CC, then holds the connection open, idle.
        Hold,
    }

    /// What a sink saw: bytes after the opening, and when the sender's EOF arrived.
    type SinkReport = Result<(u64, Instant), String>;

    /// The server every path ends at, on its own loopback port.
    struct Upstream {
        port: u16,
        stop: Arc<AtomicBool>,
        reports: mpsc::Receiver<SinkReport>,
        held: Arc<Mutex<Vec<TcpStream>>>,
        thread: Option<JoinHandle<()>>,
    }

    impl Upstream {
        fn start(role: Role, script: &Arc<Script>) -> Res<Upstream> {
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let port = listener.local_addr()?.port();
            let stop = Arc::new(AtomicBool::new(false));
            let held = Arc::new(Mutex::new(Vec::new()));
            let (tx, reports) = mpsc::channel();
            let (stop2, held2, script) = (stop.clone(), held.clone(), script.clone());
            let thread = thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop2.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(s) = conn else {
                        // Out of descriptors: back off rather than spin.
                        thread::sleep(Duration::from_millis(10));
                        continue;
                    };
                    let _ = s.set_read_timeout(Some(IO_TIMEOUT));
                    let _ = s.set_write_timeout(Some(IO_TIMEOUT));
                    let _ = s.set_nodelay(true);
                    let script = script.clone();
                    match role {
                        // One at a time on this thread: 2,000 threads would cost more
                        // than the connections being measured, and the client opens
                        // them one at a time anyway.
                        Role::Hold => {
                            if let Ok(s) = hold(s, &script) {
                                held2.lock().unwrap().push(s);
                            }
                        }
                        Role::Sink { rdp } => {
                            let tx = tx.clone();
                            thread::spawn(move || {
                                if let Some(r) = sink(s, &script, rdp) {
                                    let _ = tx.send(r);
                                }
                            });
                        }
                        Role::Echo => {
                            thread::spawn(move || echo(s, &script));
                        }
                    }
                }
            });
            Ok(Upstream {
                port,
                stop,
                reports,
                held,
                thread: Some(thread),
            })
        }
    }

    impl Drop for Upstream {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::SeqCst);
            // Wake the accept loop so it sees the flag.
            let _ = TcpStream::connect(("127.0.0.1", self.port));
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
            self.held.lock().unwrap().clear();
        }
    }

    /// True when the peer closed without sending anything: the readiness probes the
    /// relays' ports get, which are not part of any measurement.
    fn is_probe(s: &TcpStream) -> bool {
        !matches!(s.peek(&mut [0u8; 1]), Ok(n) if n > 0)
    }

    fn sink(mut s: TcpStream, script: &Script, rdp: bool) -> Option<SinkReport> {
        if is_probe(&s) {
            return None;
        }
        let mut run = || -> io::Result<(u64, Instant)> {
            if rdp {
                script.server_handshake(&mut s)?;
            }
            let mut buf = vec![0u8; 256 * 1024];
            let mut got = 0u64;
            loop {
                match s.read(&mut buf)? {
                    0 => return Ok((got, Instant::now())),
                    n => got += n as u64,
                }
            }
        };
        Some(run().map_err(|e| format!("sink: {e}")))
    }

    fn echo(mut s: TcpStream, script: &Script) {
        if is_probe(&s) || script.server_handshake(&mut s).is_err() {
            return;
        }
        let mut buf = [0u8; PING];
        while s.read_exact(&mut buf).is_ok() {
            if s.write_all(&buf).is_err() {
                return;
            }
        }
    }

    fn hold(mut s: TcpStream, script: &Script) -> io::Result<TcpStream> {
        if is_probe(&s) {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        expect(&mut s, &script.cr)?;
        s.write_all(&script.cc)?;
        Ok(s)
    }

    fn connect(port: u16) -> Res<TcpStream> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        // As RDP clients do; it also keeps the small ping-pongs free of Nagle delays.
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        Ok(s)
    }

    fn free_port() -> Res<u16> {
        Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
    }

    // ---------------------------------------------------------------- relay processes

    /// A relay child process, ended (with anything it forked) when dropped, so no
    /// relay outlives the benchmark, also on errors and panics.
    struct Relay {
        name: &'static str,
        port: u16,
        child: Child,
        log: PathBuf,
    }

    impl Relay {
        fn spawn(name: &'static str, mut cmd: Command, port: u16, env: &Env) -> Res<Relay> {
            let log = env.tmp.join(format!("{name}-{port}.log"));
            let f = File::create(&log)?;
            cmd.stdin(Stdio::null()).stdout(f.try_clone()?).stderr(f);
            // SAFETY: prctl is async-signal-safe and touches only the child's own state.
            // If the benchmark is killed outright, the kernel ends the relay too.
            unsafe {
                cmd.pre_exec(|| {
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                    Ok(())
                });
            }
            let child = cmd
                .spawn()
                .map_err(|e| format!("cannot start {name}: {e}"))?;
            let mut r = Relay {
                name,
                port,
                child,
                log,
            };
            r.wait_ready()?;
            Ok(r)
        }

        fn wait_ready(&mut self) -> Res<()> {
            let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Some(st) = self.child.try_wait()? {
                    return Err(format!(
                        "{} exited ({st}) before listening:\n{}",
                        self.name,
                        tail(&self.log)
                    )
                    .into());
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    // Let the probe's own connection finish before measuring.
                    thread::sleep(Duration::from_millis(150));
                    return Ok(());
                }
                if Instant::now() > deadline {
                    return Err(format!(
                        "{} is not listening on {addr} after 10 s:\n{}",
                        self.name,
                        tail(&self.log)
                    )
                    .into());
                }
                thread::sleep(Duration::from_millis(20));
            }
        }

        fn pid(&self) -> i32 {
            self.child.id() as i32
        }
    }

    impl Drop for Relay {
        fn drop(&mut self) {
            let pid = self.pid();
            // socat forks one process per connection; end those, by pid, first.
            for c in children_of(pid) {
                // SAFETY: plain kill(2) on a pid we just read as our relay's child.
                unsafe { libc::kill(c, libc::SIGKILL) };
            }
            // SAFETY: kill(2) on our own child, which has not been reaped yet.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    fn children_of(pid: i32) -> Vec<i32> {
        let Ok(dir) = fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
            .filter(|p| {
                // /proc/P/stat: "pid (comm) state ppid …"; comm may contain spaces.
                fs::read_to_string(format!("/proc/{p}/stat"))
                    .ok()
                    .and_then(|s| {
                        s.rsplit_once(')')
                            .map(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_string))
                    })
                    .flatten()
                    .and_then(|pp| pp.parse::<i32>().ok())
                    == Some(pid)
            })
            .collect()
    }

    fn tail(log: &Path) -> String {
        let s = fs::read_to_string(log).unwrap_or_default();
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    fn start_rdptap(env: &Env, up: u16) -> Res<Relay> {
        let port = free_port()?;
        let mut cmd = Command::new(&env.rdptap);
        cmd.args([
            "proxy",
            "--target",
            &format!("127.0.0.1:{up}"),
            "--listen",
            &format!("127.0.0.1:{port}"),
            "-q",
        ]);
        Relay::spawn("rdptap", cmd, port, env)
    }

    fn start_socat(env: &Env, up: u16) -> Res<Relay> {
        let port = free_port()?;
        let mut cmd = Command::new("socat");
        cmd.args([
            "-b",
            "65536",
            &format!("TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork"),
            &format!("TCP:127.0.0.1:{up}"),
        ]);
        Relay::spawn("socat", cmd, port, env)
    }

    fn start_haproxy(env: &Env, up: u16) -> Res<Relay> {
        let port = free_port()?;
        let cfg = env.tmp.join(format!("haproxy-{port}.cfg"));
        fs::write(
            &cfg,
            format!(
                "global\n    nbthread 2\n    maxconn 8192\n\
                 defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 120s\n    timeout server 120s\n\
                 frontend bench\n    bind 127.0.0.1:{port}\n    default_backend upstream\n\
                 backend upstream\n    server sink 127.0.0.1:{up}\n"
            ),
        )?;
        let mut cmd = Command::new("haproxy");
        // -db: stay in the foreground, so it is our child and ends with us.
        cmd.arg("-db").arg("-f").arg(&cfg);
        Relay::spawn("haproxy", cmd, port, env)
    }

    /// The three relays in front of `up`, in PATHS order after "direct".
    fn start_relays(env: &Env, up: u16) -> Res<Vec<Relay>> {
        Ok(vec![
            start_rdptap(env, up)?,
            start_socat(env, up)?,
            start_haproxy(env, up)?,
        ])
    }

    // ---------------------------------------------------------------- measurements

    /// GB/s per path, one sample per run.
    struct Throughput {
        bytes: u64,
        gbps: [Vec<f64>; 4],
    }

    fn throughput(env: &Env, opts: &Opts, script: &Arc<Script>, rdp: bool) -> Res<Throughput> {
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
    fn push(
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
    struct Lat {
        /// The CPU everything ran on, or None when the scheduler placed it.
        cpu: Option<usize>,
        /// Nanoseconds, per path.
        samples: [Vec<u64>; 4],
    }

    /// Round trips on one connection per path, taken in turn (one round trip per
    /// path, then the next), so every path sees the same moments of the run.
    ///
    /// With `pin`, the client, the echo server and the relays all share one CPU. On a
    /// small VM a wake-up across vCPUs costs tens of µs and the scheduler flips between
    /// same-CPU and cross-CPU placement, which makes unpinned medians bimodal; on one
    /// CPU what remains is the cost of the extra hop itself.
    fn latency(env: &Env, opts: &Opts, script: &Arc<Script>, pin: bool) -> Res<Lat> {
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

    struct Rss {
        conns: usize,
        before_kib: u64,
        after_kib: u64,
    }

    fn vm_rss_kib(pid: i32) -> Res<u64> {
        let s = fs::read_to_string(format!("/proc/{pid}/status"))?;
        let line = s
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .ok_or("no VmRSS")?;
        Ok(line.split_whitespace().nth(1).ok_or("bad VmRSS")?.parse()?)
    }

    fn idle_rss(env: &Env, script: &Arc<Script>, conns: usize) -> Res<Rss> {
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

    // ---------------------------------------------------------------- report

    fn median(v: &[f64]) -> f64 {
        let mut s = v.to_vec();
        s.sort_by(|a, b| a.total_cmp(b));
        s[s.len() / 2]
    }

    fn pct(sorted: &[u64], p: usize) -> f64 {
        sorted[(sorted.len() * p / 100).min(sorted.len() - 1)] as f64 / 1e3
    }

    fn print_throughput(opts: &Opts, title: &str, t: &Throughput) {
        println!("Throughput, {title}");
        println!(
            "  {:.3} GB per run ({} MiB of payload), GB/s (10^9 bytes/s), median of {}",
            t.bytes as f64 / 1e9,
            opts.mib,
            opts.reps
        );
        println!("  {:<8} {:>7} {:>10}   runs", "path", "GB/s", "vs direct");
        let direct = median(&t.gbps[0]);
        for (i, name) in PATHS.iter().enumerate() {
            let m = median(&t.gbps[i]);
            let runs: Vec<String> = t.gbps[i].iter().map(|g| format!("{g:.2}")).collect();
            println!(
                "  {name:<8} {m:>7.2} {:>9.2}×   {}",
                m / direct,
                runs.join(" ")
            );
        }
        println!();
    }

    struct Pcts {
        p50: f64,
        p99: f64,
    }

    fn lat_stats(samples: &[Vec<u64>; 4]) -> Vec<Pcts> {
        samples
            .iter()
            .map(|v| {
                let mut s = v.clone();
                s.sort_unstable();
                Pcts {
                    p50: pct(&s, 50),
                    p99: pct(&s, 99),
                }
            })
            .collect()
    }

    fn placement(l: &Lat) -> String {
        match l.cpu {
            Some(c) => format!("client, echo server and relay all pinned to CPU {c}"),
            None => "placed by the scheduler (unpinned)".to_string(),
        }
    }

    fn print_latency(opts: &Opts, l: &Lat) {
        let st = lat_stats(&l.samples);
        println!(
            "Round trip, {PING}-byte TLS record echoed after the RDP opening, {}",
            placement(l)
        );
        println!(
            "  {} round trips per path after {} warm-up, paths taken in turn; µs",
            l.samples[0].len(),
            opts.warmup
        );
        println!(
            "  {:<8} {:>8} {:>8} {:>10} {:>10}",
            "path", "p50", "p99", "added p50", "added p99"
        );
        for (i, name) in PATHS.iter().enumerate() {
            let (a50, a99) = if i == 0 {
                ("-".to_string(), "-".to_string())
            } else {
                (
                    format!("{:+.1}", st[i].p50 - st[0].p50),
                    format!("{:+.1}", st[i].p99 - st[0].p99),
                )
            };
            println!(
                "  {name:<8} {:>8.1} {:>8.1} {a50:>10} {a99:>10}",
                st[i].p50, st[i].p99
            );
        }
        println!();
    }

    fn per_conn_kib(r: &Rss) -> f64 {
        (r.after_kib as f64 - r.before_kib as f64) / r.conns as f64
    }

    fn print_rss(r: &Rss) {
        println!(
            "Memory, {} idle connections through rdptap (CR/CC relayed once, then idle)",
            r.conns
        );
        println!(
            "  VmRSS {:.1} MiB before, {:.1} MiB after: {:.1} KiB per connection (both legs)",
            r.before_kib as f64 / 1024.0,
            r.after_kib as f64 / 1024.0,
            per_conn_kib(r)
        );
        println!();
    }

    fn verdict(ok: bool) -> &'static str {
        if ok {
            "PASS"
        } else {
            "MISS"
        }
    }

    fn print_targets(raw: &Throughput, rdp: &Throughput, lat: &[Lat], rss: &Rss) {
        println!("Targets");
        for (kind, t) in [("raw", raw), ("RDP-shaped", rdp)] {
            let (socat, haproxy) = (median(&t.gbps[2]), median(&t.gbps[3]));
            let (best, name) = if socat >= haproxy {
                (socat, "socat")
            } else {
                (haproxy, "haproxy")
            };
            let ratio = median(&t.gbps[1]) / best;
            println!(
                "  {}  throughput {kind}: rdptap {ratio:.2}× {name} (the faster), target ≥ 1.00× (margin {:+.0}%)",
                verdict(ratio >= 1.0),
                (ratio - 1.0) * 100.0
            );
        }
        for l in lat {
            let st = lat_stats(&l.samples);
            let added = st[1].p50 - st[0].p50;
            println!(
                "  {}  added latency p50 ({}): rdptap {added:+.1} µs, target ≤ {LAT_TARGET_US:.0} µs (margin {:+.1} µs)",
                verdict(added <= LAT_TARGET_US),
                if l.cpu.is_some() { "one CPU" } else { "unpinned" },
                LAT_TARGET_US - added
            );
        }
        let kib = per_conn_kib(rss);
        println!(
            "  {}  memory per idle connection: rdptap {kib:.1} KiB, target ≤ {RSS_TARGET_KIB:.0} KiB (margin {:+.1} KiB)",
            verdict(kib <= RSS_TARGET_KIB),
            RSS_TARGET_KIB - kib
        );
    }
}
