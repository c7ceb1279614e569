//! cstream side by side with bollard and the docker CLI, on the real engines.
//!
//! ```text
//! cstream-bench [all] [--quick] [--items 1,2,3,4] [--docker unix:///var/run/docker.sock]
//!               [--podman unix:///run/podman/podman.sock | --no-podman] [--image cstream-test:latest]
//! cstream-bench stream --client cstream|bollard|docker-cli --engine unix:///... --bytes N
//!               [--log-driver none] [--stall-every BYTES --stall-ms MS]
//!               [--flavor multi|current] [--consumer main|task]
//! cstream-bench decoder-summary DIR     (criterion's output folder)
//! cstream-bench phases [--runs 20] [--engine unix:///...]   (where a run of `true` spends its time)
//! ```
//!
//! `all` runs the items in turn, the three clients interleaved (their order
//! rotated every round), and prints medians with [min–max] and cstream's
//! ratios, then the targets. Runs and rounds per item are in [`Plan`].
//! `stream` is one client streaming in a process of its own, so that its CPU
//! time and peak RSS are the client's alone; it prints one JSON line.

mod clients;
mod stats;
mod sys;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clients::{Client, Consumer, Job, Res, Timings};
use stats::{Row, Samples, Unit};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("stream") => stream_main(&args[1..]),
        Some("decoder-summary") => decoder_summary(&args[1..]),
        Some("phases") => phases_main(&args[1..]),
        Some("all") => all_main(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{}", USAGE);
            Ok(())
        }
        _ => all_main(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cstream-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage:
  cstream-bench [all] [--quick] [--items 1,2,3,4] [--docker unix:///var/run/docker.sock]
                [--podman unix:///run/podman/podman.sock | --no-podman] [--image cstream-test:latest]
  cstream-bench stream --client cstream|bollard|docker-cli --engine unix:///PATH --bytes N
                [--log-driver none] [--stall-every BYTES --stall-ms MS] [--image IMAGE]
                [--flavor multi|current] [--consumer main|task]
  cstream-bench decoder-summary CRITERION_DIR
  cstream-bench phases [--runs 20] [--engine unix:///var/run/docker.sock] [--image IMAGE]";

/// `--name value` options and bare flags.
struct Args<'a>(&'a [String]);

impl Args<'_> {
    fn value(&self, name: &str) -> Option<&str> {
        self.0.iter().position(|a| a == name).and_then(|i| self.0.get(i + 1)).map(String::as_str)
    }

    fn flag(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }

    fn num(&self, name: &str, default: u64) -> Res<u64> {
        match self.value(name) {
            Some(v) => v.parse().map_err(|_| format!("{name} wants a number, not {v:?}")),
            None => Ok(default),
        }
    }
}

fn runtime() -> Res<tokio::runtime::Runtime> {
    runtime_of("multi")
}

/// `multi`: what `#[tokio::main]` gives, the multi-threaded runtime with one
/// worker per core; `current`: `#[tokio::main(flavor = "current_thread")]`.
fn runtime_of(flavor: &str) -> Res<tokio::runtime::Runtime> {
    let mut b = match flavor {
        "multi" => tokio::runtime::Builder::new_multi_thread(),
        "current" => tokio::runtime::Builder::new_current_thread(),
        other => return Err(format!("--flavor is multi or current, not {other:?}")),
    };
    b.enable_all().build().map_err(|e| format!("tokio runtime: {e}"))
}

fn secs(d: Option<Duration>) -> serde_json::Value {
    d.map_or(serde_json::Value::Null, |d| d.as_secs_f64().into())
}

// ---- one client streaming, in a process of its own ------------------------------

fn stream_main(args: &[String]) -> Res<()> {
    let a = Args(args);
    let client = Client::parse(a.value("--client").ok_or("--client is required")?)?;
    let endpoint = a.value("--engine").unwrap_or("unix:///var/run/docker.sock").to_string();
    let bytes = a.num("--bytes", 256 * MIB)?;
    let job = Job {
        image: a.value("--image").unwrap_or("cstream-test:latest").to_string(),
        argv: vec!["head".into(), "-c".into(), bytes.to_string(), "/dev/zero".into()],
        log_driver: a.value("--log-driver").filter(|d| *d != "default").map(String::from),
    };
    let stall = Duration::from_millis(a.num("--stall-ms", 1000)?);
    let stall_every = a.num("--stall-every", 0)?;
    let (timings, usage) = match client {
        Client::Docker => {
            let mut consumer = Consumer::new(Instant::now(), stall_every, stall);
            let t = clients::docker_cli(&endpoint, &job, &mut consumer)?;
            // The CLI is this process's only child: this is its CPU time. Its
            // peak RSS is what /proc said while it ran (see `sys::vm_hwm_kib`).
            let mut usage = sys::Usage::waited_children();
            usage.maxrss_kib = t.child_hwm_kib.unwrap_or(usage.maxrss_kib);
            (t, usage)
        }
        Client::Ours | Client::Bollard => {
            let rt = runtime_of(a.value("--flavor").unwrap_or("multi"))?;
            let work = async move {
                if client == Client::Ours {
                    let engine = cstream_engine::connect(&endpoint, cstream_engine::Remote::Refuse)
                        .await
                        .map_err(|e| format!("connect: {e}"))?;
                    let mut consumer = Consumer::new(Instant::now(), stall_every, stall);
                    clients::ours(&engine, &job, &mut consumer).await
                } else {
                    let docker = clients::bollard_client(&endpoint).await?;
                    let mut consumer = Consumer::new(Instant::now(), stall_every, stall);
                    clients::bollard(&docker, &job, &mut consumer).await
                }
            };
            // `main` (the default): the consumer is `main`'s own future, as in
            // `#[tokio::main] async fn main`; `task`: a spawned task on a worker.
            let t = match a.value("--consumer").unwrap_or("main") {
                "main" => rt.block_on(work)?,
                "task" => rt.block_on(rt.spawn(work)).map_err(|e| format!("consumer task: {e}"))??,
                other => return Err(format!("--consumer is main or task, not {other:?}")),
            };
            drop(rt);
            let mut usage = sys::Usage::this_process();
            usage.maxrss_kib = sys::vm_hwm_kib("self").unwrap_or(usage.maxrss_kib);
            (t, usage)
        }
    };
    if timings.bytes != bytes {
        return Err(format!("{}: received {} bytes, expected {bytes}", client.name(), timings.bytes));
    }
    let line = serde_json::json!({
        "client": client.name(),
        "bytes": timings.bytes,
        "first_byte": secs(timings.first_byte),
        "last_byte": secs(timings.last_byte),
        "end": secs(timings.end),
        "removed": timings.removed.as_secs_f64(),
        "user": usage.user,
        "sys": usage.sys,
        "maxrss_kib": usage.maxrss_kib,
    });
    println!("{line}");
    Ok(())
}

/// What a `stream` child reported.
struct StreamResult {
    bytes: f64,
    first_byte: f64,
    last_byte: f64,
    removed: f64,
    cpu: f64,
    maxrss_mib: f64,
}

/// Tries a measurement up to three times: other people's tests on this
/// machine restart the engines now and then. A failed try is reported on
/// stderr and never counted.
fn retrying<T>(what: &str, mut f: impl FnMut() -> Res<T>) -> Res<T> {
    let mut tries = 0;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if tries < 2 => {
                tries += 1;
                eprintln!("cstream-bench: {what} failed ({e}); trying again in 3 s");
                std::thread::sleep(Duration::from_secs(3));
            }
            Err(e) => return Err(e),
        }
    }
}

async fn retrying_async<T, F: std::future::Future<Output = Res<T>>>(what: &str, mut f: impl FnMut() -> F) -> Res<T> {
    let mut tries = 0;
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(e) if tries < 2 => {
                tries += 1;
                eprintln!("cstream-bench: {what} failed ({e}); trying again in 3 s");
                tokio::time::sleep(Duration::from_secs(3)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

fn run_stream_child(
    client: Client,
    endpoint: &str,
    image: &str,
    bytes: u64,
    driver: &str,
    stall_every: u64,
    flavor: &str,
) -> Res<StreamResult> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let out = std::process::Command::new(exe)
        .args(["stream", "--client", client.name(), "--engine", endpoint, "--image", image, "--flavor", flavor])
        .args(["--bytes", &bytes.to_string(), "--log-driver", driver, "--stall-every", &stall_every.to_string()])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("spawning the stream child: {e}"))?;
    if !out.status.success() {
        return Err(format!("the {} stream child failed ({})", client.name(), out.status));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("the stream child's answer: {e}"))?;
    let f = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).unwrap_or(f64::NAN);
    Ok(StreamResult {
        bytes: f("bytes"),
        first_byte: f("first_byte"),
        last_byte: f("last_byte"),
        removed: f("removed"),
        cpu: f("user") + f("sys"),
        maxrss_mib: f("maxrss_kib") / 1024.0,
    })
}

// ---- everything, interleaved ---------------------------------------------------

/// How much of each item to run.
struct Plan {
    latency_runs: usize,
    burst_rounds: usize,
    burst_size: usize,
    stream_bytes: u64,
    stream_rounds_default: usize,
    stream_rounds_none: usize,
    rss_bytes: u64,
    rss_rounds: usize,
    stall_bytes: u64,
    stall_rounds: usize,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            latency_runs: 20,
            burst_rounds: 3,
            burst_size: 32,
            stream_bytes: 256 * MIB,
            stream_rounds_default: 3,
            stream_rounds_none: 5,
            rss_bytes: GIB,
            rss_rounds: 2,
            stall_bytes: 256 * MIB,
            stall_rounds: 1,
        }
    }

    fn quick() -> Plan {
        Plan {
            latency_runs: 5,
            burst_rounds: 1,
            burst_size: 32,
            stream_bytes: 64 * MIB,
            stream_rounds_default: 1,
            stream_rounds_none: 2,
            rss_bytes: 256 * MIB,
            rss_rounds: 1,
            stall_bytes: 64 * MIB,
            stall_rounds: 1,
        }
    }
}

/// The three clients in round `round`'s order: rotated, so none is always first.
fn rotated(round: usize) -> [(usize, Client); 3] {
    let mut v = [(0, Client::Ours), (1, Client::Bollard), (2, Client::Docker)];
    v.rotate_left(round % 3);
    v
}

struct Targets {
    lines: Vec<String>,
}

impl Targets {
    fn check(&mut self, what: &str, value: Option<f64>, limit: f64, shown: impl Fn(f64) -> String) {
        let line = match value {
            Some(v) if v <= limit => {
                format!(
                    "MET     {what}: {} (target ≤ {}, {:.0}% under)",
                    shown(v),
                    shown(limit),
                    (1.0 - v / limit) * 100.0
                )
            }
            Some(v) => format!(
                "MISSED  {what}: {} (target ≤ {}, {:.0}% over)",
                shown(v),
                shown(limit),
                (v / limit - 1.0) * 100.0
            ),
            None => format!("n/a     {what}: not measured"),
        };
        self.lines.push(line);
    }

    fn at_least(&mut self, what: &str, value: Option<f64>, floor: f64, shown: impl Fn(f64) -> String) {
        let line = match value {
            Some(v) if v >= floor => {
                format!(
                    "MET     {what}: {} (target ≥ {}, {:.0}% above)",
                    shown(v),
                    shown(floor),
                    (v / floor - 1.0) * 100.0
                )
            }
            Some(v) => {
                format!(
                    "MISSED  {what}: {} (target ≥ {}, {:.0}% short)",
                    shown(v),
                    shown(floor),
                    (1.0 - v / floor) * 100.0
                )
            }
            None => format!("n/a     {what}: not measured"),
        };
        self.lines.push(line);
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b?)
}

fn all_main(args: &[String]) -> Res<()> {
    let a = Args(args);
    let quick = a.flag("--quick");
    let plan = if quick { Plan::quick() } else { Plan::full() };
    let docker = a.value("--docker").unwrap_or("unix:///var/run/docker.sock").to_string();
    let podman = match a.flag("--no-podman") {
        true => None,
        false => Some(a.value("--podman").unwrap_or("unix:///run/podman/podman.sock").to_string()),
    };
    let image = a.value("--image").unwrap_or("cstream-test:latest").to_string();
    let items: Vec<u32> = a.value("--items").unwrap_or("1,2,3,4").split(',').filter_map(|s| s.parse().ok()).collect();
    let rt = runtime()?;

    println!("# cstream-bench{}", if quick { " --quick" } else { "" });
    println!("\nmachine: {}", sys::machine());
    let versions = rt.block_on(engine_versions(&docker, podman.as_deref()));
    println!("engines: {versions}");
    println!("load average at start: {}", sys::loadavg());
    let began = Instant::now();
    let mut targets = Targets { lines: Vec::new() };

    if items.contains(&1) {
        let mut engines = vec![("Docker", docker.clone())];
        engines.extend(podman.clone().map(|p| ("Podman", p)));
        for (name, endpoint) in engines {
            let rows = rt.block_on(latency(&endpoint, &image, plan.latency_runs))?;
            let title = format!("1. Run latency, `true`, {} sequential runs each, {name}", plan.latency_runs);
            stats::print_table(&title, &rows);
            let [end, removed] = &rows;
            let [o_end, b_end, _] = end.medians();
            let [o_rm, b_rm, d_rm] = removed.medians();
            let r = |v: f64| format!("{v:.2}×");
            targets.check(
                &format!("{name}: cstream to ProcessEnd / docker run --rm total"),
                ratio(o_end, d_rm),
                0.9,
                r,
            );
            targets.check(&format!("{name}: cstream to ProcessEnd / bollard's"), ratio(o_end, b_end), 0.95, r);
            targets.check(&format!("{name}: cstream whole run / docker run --rm total"), ratio(o_rm, d_rm), 1.0, r);
            targets.check(&format!("{name}: cstream whole run / bollard's"), ratio(o_rm, b_rm), 1.0, r);
        }
    }
    if items.contains(&2) {
        let row = rt.block_on(burst(&docker, &image, plan.burst_size, plan.burst_rounds))?;
        let title = format!("2. {} runs of `true` at once, Docker, {} round(s)", plan.burst_size, plan.burst_rounds);
        stats::print_table(&title, std::slice::from_ref(&row));
    }
    drop(rt);
    if items.contains(&3) {
        let mb = plan.stream_bytes / MIB;
        for (driver, rounds) in [("default", plan.stream_rounds_default), ("none", plan.stream_rounds_none)] {
            let rows = streaming(&docker, &image, plan.stream_bytes, driver, rounds)?;
            let shown = if driver == "default" { "the engine's default (json-file)" } else { "none" };
            stats::print_table(
                &format!("3. Streaming {mb} MiB of stdout, log driver {shown}, {rounds} round(s)"),
                &rows,
            );
            let [o, b, _] = rows[2].medians();
            let r = |v: f64| format!("{v:.2}×");
            targets.check(&format!("client CPU per GiB, log driver {driver}: cstream / bollard"), ratio(o, b), 0.5, r);
            if let Some(current) = rows.get(4) {
                let [o, b, _] = current.medians();
                let what = "client CPU per GiB, log driver none, current-thread runtime: cstream / bollard";
                targets.check(what, ratio(o, b), 0.5, r);
            }
        }
    }
    if items.contains(&4) {
        let mut rows = Vec::new();
        for (bytes, stall, rounds) in
            [(plan.rss_bytes, 0, plan.rss_rounds), (plan.stall_bytes, 16 * MIB, plan.stall_rounds)]
        {
            let what = match stall {
                0 => format!("peak RSS, {} MiB", bytes / MIB),
                _ => format!("peak RSS, {} MiB, consumer stalls 1 s every 16 MiB", bytes / MIB),
            };
            let mut row = Row::new(what, Unit::Mib);
            for round in 0..rounds {
                for (i, client) in rotated(round) {
                    let r = retrying(client.name(), || {
                        run_stream_child(client, &docker, &image, bytes, "none", stall, "multi")
                    })?;
                    row.cells[i].push(r.maxrss_mib);
                }
            }
            rows.push(row);
        }
        stats::print_table("4. Peak RSS of the client process, log driver none", &rows);
        let mib = |v: f64| format!("{v:.1} MiB");
        let [o, ..] = rows[0].medians();
        targets.check(&format!("cstream peak RSS streaming {} MiB", plan.rss_bytes / MIB), o, 8.0, mib);
        let [s, ..] = rows[1].medians();
        targets.check("cstream peak RSS with the stalling consumer (bounded: ≤ 8 MiB)", s, 8.0, mib);
    }

    let rt = runtime()?;
    let leftovers = rt.block_on(leftovers(&docker, podman.as_deref()))?;
    println!("\n### Targets\n");
    for l in &targets.lines {
        println!("    {l}");
    }
    println!("\nload average at the end: {}; took {:.0} s", sys::loadavg(), began.elapsed().as_secs_f64());
    match leftovers {
        0 => println!("containers labelled cstream.bench=1 left behind: none"),
        n => return Err(format!("{n} containers labelled cstream.bench=1 were left behind (now removed)")),
    }
    Ok(())
}

async fn engine_versions(docker: &str, podman: Option<&str>) -> String {
    let mut parts = Vec::new();
    for endpoint in std::iter::once(docker).chain(podman) {
        let v = match cstream_engine::connect(endpoint, cstream_engine::Remote::Refuse).await {
            Ok(e) => match e.version().await {
                Ok(v) => format!("{:?} {} (API {}) at {endpoint}", v.info.kind, v.versions.version, v.info.api),
                Err(err) => format!("{endpoint}: {err}"),
            },
            Err(err) => format!("{endpoint}: {err}"),
        };
        parts.push(v);
    }
    let cli = std::process::Command::new("docker")
        .args(["version", "--format", "{{.Client.Version}}"])
        .stderr(std::process::Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|e| format!("not found ({e})"));
    parts.push(format!("docker CLI {cli}"));
    parts.join("; ")
}

/// Item 1: sequential runs of `true`, the clients interleaved run by run.
async fn latency(endpoint: &str, image: &str, runs: usize) -> Res<[Row; 2]> {
    let engine =
        cstream_engine::connect(endpoint, cstream_engine::Remote::Refuse).await.map_err(|e| format!("connect: {e}"))?;
    let docker = clients::bollard_client(endpoint).await?;
    let job = Job { image: image.into(), argv: vec!["true".into()], log_driver: None };
    let mut end = Row::new("call → ProcessEnd (bollard: wait answered)", Unit::Ms);
    let mut removed = Row::new("call → container removed (docker CLI: `docker run --rm` exits)", Unit::Ms);
    // One untimed run each first: connections, caches.
    for round in 0..=runs {
        for (i, client) in rotated(round) {
            let t = retrying_async(client.name(), || one_run(client, &engine, &docker, endpoint, &job)).await?;
            if round > 0 {
                if let Some(e) = t.end {
                    end.cells[i].push(e.as_secs_f64());
                }
                removed.cells[i].push(t.removed.as_secs_f64());
            }
        }
    }
    Ok([end, removed])
}

async fn one_run(
    client: Client,
    engine: &cstream_engine::Engine,
    docker: &bollard::Docker,
    endpoint: &str,
    job: &Job,
) -> Res<Timings> {
    match client {
        Client::Ours => clients::ours(engine, job, &mut Consumer::new(Instant::now(), 0, Duration::ZERO)).await,
        Client::Bollard => clients::bollard(docker, job, &mut Consumer::new(Instant::now(), 0, Duration::ZERO)).await,
        Client::Docker => clients::docker_cli_quiet(endpoint, job).await,
    }
}

/// Item 2: `size` runs of `true` at once, wall time until all are removed.
async fn burst(endpoint: &str, image: &str, size: usize, rounds: usize) -> Res<Row> {
    let engine =
        cstream_engine::connect(endpoint, cstream_engine::Remote::Refuse).await.map_err(|e| format!("connect: {e}"))?;
    let docker = clients::bollard_client(endpoint).await?;
    let job = Job { image: image.into(), argv: vec!["true".into()], log_driver: None };
    let mut row = Row::new(format!("wall time, {size} at once, all removed"), Unit::S);
    for round in 0..rounds {
        for (i, client) in rotated(round) {
            let t0 = Instant::now();
            let tasks: Vec<_> = (0..size)
                .map(|_| {
                    let (engine, docker, endpoint, job) =
                        (engine.clone(), docker.clone(), endpoint.to_string(), job.clone());
                    tokio::spawn(async move { one_run(client, &engine, &docker, &endpoint, &job).await })
                })
                .collect();
            for t in tasks {
                t.await.map_err(|e| format!("task: {e}"))??;
            }
            row.cells[i].push(t0.elapsed().as_secs_f64());
        }
    }
    Ok(row)
}

/// Item 3: each client streams `bytes` in a process of its own.
fn streaming(endpoint: &str, image: &str, bytes: u64, driver: &str, rounds: usize) -> Res<Vec<Row>> {
    let mut rate = Row::new("throughput, first → last byte", Unit::MibS);
    let mut whole = Row::new("whole run, call → removed", Unit::S);
    let mut cpu = Row::new("client CPU (user+sys) per GiB", Unit::S);
    let mut rss = Row::new("client peak RSS", Unit::Mib);
    // With log driver none, the libraries again on a current-thread runtime:
    // how much of their CPU time is hand-offs between threads.
    let mut current = Row::new("client CPU per GiB, current-thread runtime", Unit::S);
    for round in 0..rounds {
        for (i, client) in rotated(round) {
            let r = retrying(client.name(), || run_stream_child(client, endpoint, image, bytes, driver, 0, "multi"))?;
            rate.cells[i].push(r.bytes / MIB as f64 / (r.last_byte - r.first_byte));
            whole.cells[i].push(r.removed);
            cpu.cells[i].push(r.cpu * GIB as f64 / r.bytes);
            rss.cells[i].push(r.maxrss_mib);
            if driver == "none" && client != Client::Docker {
                let r =
                    retrying(client.name(), || run_stream_child(client, endpoint, image, bytes, driver, 0, "current"))?;
                current.cells[i].push(r.cpu * GIB as f64 / r.bytes);
            }
        }
    }
    let mut rows = vec![rate, whole, cpu, rss];
    if driver == "none" {
        rows.push(current);
    }
    Ok(rows)
}

/// Containers labelled `cstream.bench=1` still there: counted, then removed.
async fn leftovers(docker: &str, podman: Option<&str>) -> Res<usize> {
    let label = format!("{}={}", clients::LABEL.0, clients::LABEL.1);
    let mut n = 0;
    for endpoint in std::iter::once(docker).chain(podman) {
        let engine = cstream_engine::connect(endpoint, cstream_engine::Remote::Refuse)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        for c in engine.containers_labelled(&[&label]).await.map_err(|e| format!("list: {e}"))? {
            eprintln!("left behind on {endpoint}: {}", c.id);
            engine.remove_container(&c.id).await.map_err(|e| format!("remove: {e}"))?;
            n += 1;
        }
    }
    Ok(n)
}

/// Where runs of `true` spend their time, cstream and bollard interleaved:
/// the median time from the call to each step.
fn phases_main(args: &[String]) -> Res<()> {
    let a = Args(args);
    let runs = a.num("--runs", 20)? as usize;
    let endpoint = a.value("--engine").unwrap_or("unix:///var/run/docker.sock").to_string();
    let job = Job {
        image: a.value("--image").unwrap_or("cstream-test:latest").into(),
        argv: vec!["true".into()],
        log_driver: None,
    };
    let rt = runtime()?;
    rt.block_on(async {
        let engine = cstream_engine::connect(&endpoint, cstream_engine::Remote::Refuse)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let docker = clients::bollard_client(&endpoint).await?;
        let mut seen: [Vec<(&str, Samples)>; 2] = Default::default();
        for round in 0..=runs {
            for (i, client) in [(0, Client::Ours), (1, Client::Bollard)].into_iter().cycle().skip(round % 2).take(2) {
                let t = one_run(client, &engine, &docker, &endpoint, &job).await?;
                if round == 0 {
                    continue;
                }
                for (name, at) in t.phases {
                    match seen[i].iter_mut().find(|(n, _)| *n == name) {
                        Some((_, s)) => s.push(at.as_secs_f64()),
                        None => seen[i].push((name, Samples(vec![at.as_secs_f64()]))),
                    }
                }
            }
        }
        println!("median time from the call, {runs} runs of `true` each, interleaved, at {endpoint}");
        for (client, steps) in ["cstream", "bollard"].iter().zip(&seen) {
            let line: Vec<String> =
                steps.iter().map(|(n, s)| format!("{n} {:.1} ms", s.median().unwrap_or(f64::NAN) * 1e3)).collect();
            println!("{client:8} {}", line.join(", "));
        }
        Ok(())
    })
}

// ---- item 5's figures, from criterion's output ------------------------------------

/// Reads criterion's estimates for the `decoder` group and prints GiB/s and ratios.
fn decoder_summary(args: &[String]) -> Res<()> {
    let dir = std::path::PathBuf::from(args.first().ok_or("decoder-summary wants criterion's output folder")?);
    let mut rows = Vec::new();
    let mut targets = Targets { lines: Vec::new() };
    for (size, label, group) in
        [(16, "16 B", "decode-16B"), (1024, "1 KiB", "decode-1KiB"), (32 * 1024, "32 KiB", "decode-32KiB")]
    {
        let mut gibs = [None; 3];
        for (i, name) in ["cstream", "bollard", "memcpy"].iter().enumerate() {
            let group = dir.join(group);
            gibs[i] = read_estimate(&group.join(name))?;
        }
        let show = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.2} GiB/s"));
        let vs_b = ratio(gibs[0], gibs[1]);
        let vs_m = ratio(gibs[0], gibs[2]);
        // Time per frame beyond the copy that both decoders pay (the socket read).
        let frame = (8 + size) as f64;
        let beyond = |g: Option<f64>| Some(frame / (g? * GIB as f64) * 1e9 - frame / (gibs[2]? * GIB as f64) * 1e9);
        let (ob, bb) = (beyond(gibs[0]), beyond(gibs[1]));
        let ns = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.1} ns"));
        rows.push(format!(
            "| {label} | {} | {} | {} | {} | {} | {} | {} | {} |",
            show(gibs[0]),
            show(gibs[1]),
            show(gibs[2]),
            vs_b.map_or("–".into(), |v| format!("{v:.2}×")),
            vs_m.map_or("–".into(), |v| format!("{:.0}%", v * 100.0)),
            ns(ob),
            ns(bb),
            ratio(bb, ob).map_or("–".into(), |v| format!("{v:.2}×")),
        ));
        if size == 1024 {
            targets.at_least("decoder, 1 KiB frames: cstream's GiB/s / bollard's", vs_b, 2.0, |v| format!("{v:.2}×"));
        }
        if size == 32 * 1024 {
            let pct = |v: f64| format!("{:.0}%", v * 100.0);
            targets.at_least("decoder, 32 KiB frames: cstream's GiB/s / memcpy's", vs_m, 0.5, pct);
        }
    }
    println!("\n### 5. Decoder, bytes through the demultiplexer in 64 KiB reads (criterion medians)\n");
    println!(
        "| frames | cstream | bollard | memcpy | cstream/bollard | cstream/memcpy \
         | cstream ns/frame beyond memcpy | bollard ns/frame beyond memcpy | bollard/cstream beyond memcpy |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for r in rows {
        println!("{r}");
    }
    println!("\nbollard: tokio_util's FramedRead with bollard 0.21.1's attach decoder, reimplemented (it is private);");
    println!("throughput counts stream bytes, headers included; each variant pays the same 64 KiB read copy.");
    println!("\n### Decoder targets\n");
    for l in &targets.lines {
        println!("    {l}");
    }
    Ok(())
}

/// GiB/s from criterion's `new/estimates.json` (median time per iteration)
/// and `new/benchmark.json` (bytes per iteration).
fn read_estimate(dir: &std::path::Path) -> Res<Option<f64>> {
    let read = |f: &str| -> Res<Option<serde_json::Value>> {
        match std::fs::read(dir.join("new").join(f)) {
            Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| format!("{}: {e}", dir.display())),
            Err(_) => Ok(None),
        }
    };
    let (Some(est), Some(bench)) = (read("estimates.json")?, read("benchmark.json")?) else { return Ok(None) };
    let ns = est.pointer("/median/point_estimate").and_then(serde_json::Value::as_f64);
    let bytes = bench.pointer("/throughput/Bytes").and_then(serde_json::Value::as_f64);
    Ok(match (ns, bytes) {
        (Some(ns), Some(bytes)) => Some(bytes / (ns / 1e9) / GIB as f64),
        _ => None,
    })
}
