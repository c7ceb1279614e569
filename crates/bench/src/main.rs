//! cstream side by side with bollard and the docker CLI, on the real engines.
//!
//! ```text
//! cstream-bench [all] [--quick] [--items 1,2,3,4,6,7,8] [--docker unix:///var/run/docker.sock]
//!               [--podman unix:///run/podman/podman.sock | --no-podman] [--image cstream-test:latest]
//!               [--swarm unix:///run/cstream-swarm/node1.sock [--swarm-nodes E1,E2,..] | --no-swarm]
//!               [--targets-out FILE]
//! cstream-bench stream --client cstream|bollard|docker-cli|floor --engine unix:///... --bytes N
//!               [--log-driver none] [--stall-every BYTES --stall-ms MS]
//!               [--flavor multi|current] [--consumer main|task] [--swarm]
//! cstream-bench runs --client cstream|bollard|docker-cli|floor --engine unix:///... (--runs N | --at-once K)
//!               [--flavor multi|current] [--swarm]
//! cstream-bench requests --engine unix:///... [--requests 400] [--rounds 3]
//!               (one short request's client CPU: hyper polled in place, hyper on a task, by hand)
//! cstream-bench decoder-summary DIR [--targets FILE]    (criterion's output folder)
//! cstream-bench phases [--runs 20] [--engine unix:///...]   (where a run of `true` spends its time)
//! ```
//!
//! `all` runs the items in turn, the three clients interleaved (their order
//! rotated every round), and prints medians with [min–max] and cstream's
//! ratios, then the targets. Runs and rounds per item are in [`Plan`].
//! `stream` is one client streaming in a process of its own, so that its CPU
//! time and peak RSS are the client's alone; `runs` is one client making runs
//! of `true` in a process of its own (see [`runs`]); each prints one JSON line.
//! With `--swarm` (cstream only), `stream` and `runs` run their jobs on the
//! swarm `--engine` manages (item 7, see [`swarm`]). Item 8 puts cstream and
//! bollard beside the floor, a client that does nothing but the socket work
//! (`--client floor`, see [`floor`]).

mod clients;
mod decoder_summary;
mod floor;
mod requests;
mod runs;
mod stats;
mod swarm;
mod sys;
mod tap;
mod targets;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clients::{Client, Consumer, Job, Res, Timings};
use stats::{Row, Samples, Unit};
use targets::{Targets, order, ratio, times};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("stream") => stream_main(&args[1..]),
        Some("runs") => runs::child_main(&args[1..]),
        Some("requests") => requests::main(&args[1..]),
        Some("decoder-summary") => decoder_summary::main(&args[1..]),
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
  cstream-bench [all] [--quick] [--items 1,2,3,4,6,7,8] [--docker unix:///var/run/docker.sock]
                [--podman unix:///run/podman/podman.sock | --no-podman] [--image cstream-test:latest]
                [--swarm unix:///run/cstream-swarm/node1.sock [--swarm-nodes E1,E2,..] | --no-swarm]
                [--targets-out FILE]
  cstream-bench stream --client cstream|bollard|docker-cli|floor --engine unix:///PATH --bytes N
                [--log-driver none] [--stall-every BYTES --stall-ms MS] [--image IMAGE]
                [--flavor multi|current] [--consumer main|task] [--swarm]
  cstream-bench runs --client cstream|bollard|docker-cli|floor --engine unix:///PATH (--runs N | --at-once K)
                [--image IMAGE] [--flavor multi|current] [--swarm]
  cstream-bench requests --engine unix:///PATH [--requests 400] [--rounds 3]
  cstream-bench decoder-summary CRITERION_DIR [--targets FILE]
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
        Client::Ours | Client::Bollard | Client::Floor => {
            let rt = runtime_of(a.value("--flavor").unwrap_or("multi"))?;
            let swarm = a.flag("--swarm");
            if swarm && client != Client::Ours {
                return Err(format!("--swarm is for cstream only, not {}", client.name()));
            }
            let work = async move {
                if client == Client::Ours {
                    let engine = cstream_engine::connect(&endpoint, cstream_engine::Remote::Refuse)
                        .await
                        .map_err(|e| format!("connect: {e}"))?;
                    let mut consumer = Consumer::new(Instant::now(), stall_every, stall);
                    match swarm {
                        true => clients::ours_on_swarm(&engine, &job, &mut consumer).await,
                        false => clients::ours(&engine, &job, &mut consumer).await,
                    }
                } else if client == Client::Floor {
                    let floor = floor::Floor::new(&endpoint)?;
                    let mut consumer = Consumer::new(Instant::now(), stall_every, stall);
                    floor.run(&job, &mut consumer).await?;
                    Ok(consumer.timings_now())
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

pub(crate) fn run_stream_child(
    client: Client,
    endpoint: &str,
    image: &str,
    bytes: u64,
    driver: &str,
    stall_every: u64,
    flavor: &str,
) -> Res<StreamResult> {
    run_stream_child_with(client, endpoint, image, bytes, driver, stall_every, flavor, &[])
}

/// [`run_stream_child`] with more arguments for the child (`--swarm`).
#[allow(clippy::too_many_arguments)]
fn run_stream_child_with(
    client: Client,
    endpoint: &str,
    image: &str,
    bytes: u64,
    driver: &str,
    stall_every: u64,
    flavor: &str,
    extra: &[&str],
) -> Res<StreamResult> {
    let exe = sys::this_program()?;
    let out = std::process::Command::new(exe)
        .args(["stream", "--client", client.name(), "--engine", endpoint, "--image", image, "--flavor", flavor])
        .args(["--bytes", &bytes.to_string(), "--log-driver", driver, "--stall-every", &stall_every.to_string()])
        .args(extra)
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
    burst_sizes: &'static [usize],
    stream_bytes: u64,
    stream_rounds_default: usize,
    stream_rounds_none: usize,
    rss_bytes: u64,
    rss_rounds: usize,
    stall_bytes: u64,
    stall_rounds: usize,
    cpu_runs: usize,
    cpu_rounds: usize,
    cpu_burst_rounds: usize,
}

impl Plan {
    fn full() -> Plan {
        Plan {
            latency_runs: 20,
            burst_rounds: 3,
            burst_sizes: &[32, 64],
            stream_bytes: 256 * MIB,
            stream_rounds_default: 3,
            stream_rounds_none: 5,
            rss_bytes: GIB,
            rss_rounds: 2,
            stall_bytes: 256 * MIB,
            stall_rounds: 1,
            cpu_runs: 20,
            cpu_rounds: 3,
            cpu_burst_rounds: 3,
        }
    }

    fn quick() -> Plan {
        Plan {
            latency_runs: 5,
            burst_rounds: 1,
            // 64 at once (~40 s for the three clients) and Podman's batch of
            // 32 for item 6 (~30 s) are left to the full run: --quick stays
            // about 2 minutes.
            burst_sizes: &[32],
            stream_bytes: 64 * MIB,
            stream_rounds_default: 1,
            stream_rounds_none: 1,
            rss_bytes: 256 * MIB,
            rss_rounds: 1,
            stall_bytes: 32 * MIB,
            stall_rounds: 1,
            cpu_runs: 3,
            cpu_rounds: 1,
            cpu_burst_rounds: 0,
        }
    }
}

/// Three clients, each with its column, in round `round`'s order: rotated,
/// so none is always first.
fn rotated(clients: [Client; 3], round: usize) -> [(usize, Client); 3] {
    let mut v = [(0, clients[0]), (1, clients[1]), (2, clients[2])];
    v.rotate_left(round % 3);
    v
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
    let mut engines = vec![("Docker", docker.clone())];
    engines.extend(podman.clone().map(|p| ("Podman", p)));
    let image = a.value("--image").unwrap_or("cstream-test:latest").to_string();
    let items: Vec<u32> =
        a.value("--items").unwrap_or("1,2,3,4,6,7,8").split(',').filter_map(|s| s.parse().ok()).collect();
    let rt = runtime()?;

    println!("# cstream-bench{}", if quick { " --quick" } else { "" });
    println!("\nmachine: {}", sys::machine());
    let versions = rt.block_on(engine_versions(&docker, podman.as_deref()));
    println!("engines: {versions}");
    println!("load average at start: {}", sys::loadavg());
    let began = Instant::now();
    let mut targets = Targets::default();
    let timed = |item: u32, since: Instant| {
        eprintln!("cstream-bench: item {item} took {:.0} s", since.elapsed().as_secs_f64());
    };

    if items.contains(&1) {
        let t = Instant::now();
        for (name, endpoint) in &engines {
            let rows = rt.block_on(latency(endpoint, &image, plan.latency_runs))?;
            let title = format!("1. Run latency, `true`, {} sequential runs each, {name}", plan.latency_runs);
            stats::print_table(&title, &rows);
            latency_targets(&mut targets, name, &rows);
        }
        timed(1, t);
    }
    drop(rt);
    // Item 2's batches of 32 are item 6's on Docker too: the same children.
    let mut docker_burst_cpu = None;
    if items.contains(&2) {
        let t = Instant::now();
        let mut rows = Vec::new();
        for &size in plan.burst_sizes {
            let [wall, cpu] = runs::at_once(Client::ALL, &docker, &image, size, plan.burst_rounds)?;
            if size == 32 {
                let [o, b, d] = wall.medians();
                let what = "32 runs of `true` at once, wall time ≤ 0.9× bollard's";
                targets.at_most(order::AT_ONCE, what, ratio(o, b), 0.9, times);
                let what = "32 runs of `true` at once, wall time ≤ 0.9× the docker CLI's";
                targets.at_most(order::AT_ONCE, what, ratio(o, d), 0.9, times);
                docker_burst_cpu = Some(cpu);
            }
            rows.push(wall);
        }
        let title = format!("2. Runs of `true` at once, Docker, {} round(s)", plan.burst_rounds);
        stats::print_table(&title, &rows);
        timed(2, t);
    }
    if items.contains(&3) {
        let t = Instant::now();
        let mb = plan.stream_bytes / MIB;
        for (driver, rounds) in [("default", plan.stream_rounds_default), ("none", plan.stream_rounds_none)] {
            let rows = streaming(&docker, &image, plan.stream_bytes, driver, rounds)?;
            let shown = if driver == "default" { "the engine's default (json-file)" } else { "none" };
            stats::print_table(
                &format!("3. Streaming {mb} MiB of stdout, log driver {shown}, {rounds} round(s)"),
                &rows,
            );
            let [o, b, _] = rows[2].medians();
            let (at, what) = match driver {
                "none" => (order::CPU_PER_GIB_NONE, "client CPU per GiB ≤ 0.5× bollard's, log driver none"),
                _ => (order::CPU_PER_GIB_DEFAULT, "client CPU per GiB ≤ 0.5× bollard's, log driver json-file"),
            };
            targets.at_most(at, what, ratio(o, b), 0.5, times);
        }
        timed(3, t);
    }
    if items.contains(&4) {
        let t = Instant::now();
        let rows = peak_rss(&docker, &image, &plan)?;
        stats::print_table("4. Peak RSS of the client process, log driver none", &rows);
        let [o, b, _] = rows[0].medians();
        let what = format!("client peak RSS streaming {} MiB ≤ bollard's", plan.rss_bytes / MIB);
        targets.at_most(order::PEAK_RSS, &what, ratio(o, b), 1.0, times);
        timed(4, t);
    }
    if items.contains(&6) {
        let t = Instant::now();
        for (name, endpoint) in &engines {
            let mut rows = vec![runs::sequential_cpu(Client::ALL, endpoint, &image, plan.cpu_runs, plan.cpu_rounds)?];
            let reused = if *name == "Docker" { docker_burst_cpu.take() } else { None };
            match reused {
                Some(row) => rows.push(row),
                None if plan.cpu_burst_rounds > 0 => {
                    let [_, cpu] = runs::at_once(Client::ALL, endpoint, &image, 32, plan.cpu_burst_rounds)?;
                    rows.push(cpu);
                }
                None => {}
            }
            let title = format!("6. Client CPU per run of `true`, {name}, {} round(s)", plan.cpu_rounds);
            stats::print_table(&title, &rows);
            let [o, b, _] = rows[0].medians();
            let what = format!("{name}: client CPU per run of `true` ≤ 0.5× bollard's");
            targets.at_most(order::CPU_PER_RUN, &what, ratio(o, b), 0.5, times);
            if let Some(burst) = rows.get(1) {
                let [o, b, _] = burst.medians();
                let what = format!("{name}: the same, 32 runs at once (the batch's CPU / 32)");
                targets.at_most(order::CPU_PER_RUN, &what, ratio(o, b), 0.5, times);
            }
        }
        timed(6, t);
    }
    if items.contains(&8) {
        let t = Instant::now();
        let floor = floor::Plan { runs: plan.cpu_runs, rounds: plan.cpu_rounds, bytes: plan.stream_bytes };
        floor::item(&engines, &image, &floor, &mut targets)?;
        timed(8, t);
    }
    let mut swarm_left = 0;
    if items.contains(&7) {
        let t = Instant::now();
        match swarm::Swarm::from_args(&a) {
            Ok(s) => {
                let plan = if quick { swarm::Plan::quick() } else { swarm::Plan::full() };
                swarm_left = swarm::item(&s, &docker, &image, &plan)?;
            }
            Err(why) => swarm::skipped(&why),
        }
        timed(7, t);
    }

    let rt = runtime()?;
    let leftovers = rt.block_on(leftovers(&docker, podman.as_deref()))?;
    match a.value("--targets-out") {
        Some(path) => {
            targets.save(path)?;
            println!("\n(the targets follow item 5)");
        }
        None => targets.print("Targets"),
    }
    println!("\nload average at the end: {}; took {:.0} s", sys::loadavg(), began.elapsed().as_secs_f64());
    match leftovers {
        0 => println!("containers labelled cstream.bench=1 left behind: none"),
        n => return Err(format!("{n} containers labelled cstream.bench=1 were left behind (now removed)")),
    }
    match swarm_left {
        0 => Ok(()),
        n => Err(format!("{n} services or containers labelled cstream.bench=1 were left on the swarm (now removed)")),
    }
}

/// Item 1's targets for one engine.
fn latency_targets(targets: &mut Targets, name: &str, rows: &[Row; 2]) {
    let [end, removed] = rows;
    let [o_end, b_end, _] = end.medians();
    let [o_rm, b_rm, d_rm] = removed.medians();
    let checks = [
        ("time to `ProcessEnd` ≤ 0.9× the `docker run --rm` total", ratio(o_end, d_rm), 0.9),
        ("time to `ProcessEnd` ≤ 0.95× bollard's", ratio(o_end, b_end), 0.95),
        ("whole run ≤ 1.0× the `docker run --rm` total", ratio(o_rm, d_rm), 1.0),
        ("whole run ≤ 1.0× bollard's", ratio(o_rm, b_rm), 1.0),
    ];
    for (what, value, limit) in checks {
        targets.at_most(order::LATENCY, &format!("{name}: {what}"), value, limit, times);
    }
}

/// Item 4: peak RSS of each client streaming, in a process of its own.
fn peak_rss(docker: &str, image: &str, plan: &Plan) -> Res<Vec<Row>> {
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
            for (i, client) in rotated(Client::ALL, round) {
                let r =
                    retrying(client.name(), || run_stream_child(client, docker, image, bytes, "none", stall, "multi"))?;
                row.cells[i].push(r.maxrss_mib);
            }
        }
        rows.push(row);
    }
    Ok(rows)
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
        for (i, client) in rotated(Client::ALL, round) {
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
        Client::Floor => Err("the floor is measured apart (item 8)".into()),
    }
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
        for (i, client) in rotated(Client::ALL, round) {
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
