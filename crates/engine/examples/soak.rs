//! Soak: many runs on the real engines, 16 at a time, mixing exit codes, big
//! output and cancellations. Fails (exit 1) on any lost byte, wrong exit code,
//! leaked container or growing memory; prints its figures either way.
//!
//!     cargo run --release -p cstream-engine --example soak -- 500     # the full soak
//!     cargo run -p cstream-engine --example soak -- 48                # the short one CI runs
//!     cargo run -p cstream-engine --example soak -- 1500 unix:///run/podman/podman.sock
//!
//! Engines: Docker 20.10, Docker 26 and Podman, or those named after the count.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cstream_engine::{EndReason, EventKind, PullPolicy, Remote, RunSpec};
use futures_util::StreamExt;
use sha2::Digest;
use tokio::sync::Semaphore;

const ENGINES: [&str; 3] =
    ["unix:///var/run/docker.sock", "unix:///run/cstream-docker-current.sock", "unix:///run/podman/podman.sock"];

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap_or(0)
}

/// How long a run may go without the first output its process prints at once.
const STALL: Duration = Duration::from_secs(30);

/// How long any run may take (each takes seconds): past it the run is said
/// to be overdue and cancelled, so that an engine that stops answering (seen
/// once: Docker 20.10 stopped reporting exits and starts for good) fails the
/// soak in minutes rather than hanging it.
const RUN_LIMIT: Duration = Duration::from_secs(180);

/// This process's Unix sockets as `ss` shows them (receive and send queues
/// included): whether bytes wait unread on this side.
fn sockets() -> String {
    let pid = std::process::id();
    let ss = std::process::Command::new("ss").args(["-xpn"]).output();
    let text = ss.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_else(|e| format!("ss: {e}"));
    text.lines().filter(|l| l.contains(&format!("pid={pid},"))).collect::<Vec<_>>().join("\n")
}

/// What run `i` does, and what it must report.
enum Want {
    Hash(Vec<u8>, usize),
}

fn plan(i: usize) -> (String, Option<Want>, bool, i32) {
    if i % 7 == 3 {
        return ("trap 'exit 143' TERM; echo go; while true; do sleep 0.05; done".into(), None, true, 143);
    }
    if i % 10 == 5 {
        let n = 4 << 20;
        // The expected hash, computed without holding 4 MiB.
        let line = format!("soak-{i}\n").into_bytes();
        let mut h = sha2::Sha256::new();
        let mut left = n;
        while left > 0 {
            let k = left.min(line.len());
            h.update(&line[..k]);
            left -= k;
        }
        return (format!("yes soak-{i} | head -c {n}"), Some(Want::Hash(h.finalize().to_vec(), n)), false, 0);
    }
    let code = (i % 256) as i32;
    let out = format!("run-{i}\n");
    (
        format!("echo run-{i}; echo err-{i} >&2; exit {code}"),
        Some(Want::Hash(sha2::Sha256::digest(&out).to_vec(), out.len())),
        false,
        code,
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(48);
    let named: Vec<String> = std::env::args().skip(2).collect();
    let engines: Vec<&str> = match named.is_empty() {
        true => ENGINES.to_vec(),
        false => named.iter().map(String::as_str).collect(),
    };
    let label = format!("cstream.soak={}", std::process::id());
    let mut failures = Vec::new();
    for endpoint in engines {
        let engine = match cstream_engine::connect(endpoint, Remote::Refuse).await {
            Ok(e) => e,
            Err(e) => {
                eprintln!("soak: {endpoint} unreachable: {e} (run scripts/engines.sh)");
                std::process::exit(1);
            }
        };
        let gate = Arc::new(Semaphore::new(16));
        let began = Instant::now();
        let mut rss_warm = 0;
        let mut tasks = Vec::new();
        for i in 0..runs {
            if i == runs / 10 {
                rss_warm = rss_kib();
            }
            let permit = gate.clone().acquire_owned().await.unwrap();
            let engine = engine.clone();
            let label = label.clone();
            tasks.push(tokio::spawn(async move {
                let _permit = permit;
                let (script, want, cancel, code) = plan(i);
                let (k, v) = label.split_once('=').unwrap();
                let spec = RunSpec::builder("cstream-test:latest")
                    .pull(PullPolicy::Never)
                    .heartbeat(None)
                    .label(k, v)
                    .command(["sh", "-c", &script])
                    .build()
                    .unwrap();
                let mut run = engine.run(spec);
                // Hashed as it comes: the soak's own memory stays flat too.
                let mut hash = sha2::Sha256::new();
                let mut len = 0usize;
                let mut end = None;
                let mut errors = Vec::new();
                let mut stalled = None;
                let mut overdue = None;
                let began = tokio::time::Instant::now();
                loop {
                    // A run waiting for its first output for this long has lost it
                    // (its process prints at once), and one past RUN_LIMIT is
                    // stuck: said, with what the sockets hold, and stopped,
                    // rather than waited on for ever.
                    let stall_at =
                        (cancel && len == 0 && stalled.is_none()).then(|| tokio::time::Instant::now() + STALL);
                    let limit_at = overdue.is_none().then_some(began + RUN_LIMIT);
                    let at = [stall_at, limit_at].into_iter().flatten().min();
                    let next = match at {
                        Some(at) => tokio::time::timeout_at(at, run.next()).await,
                        None => Ok(run.next().await),
                    };
                    let Ok(item) = next else {
                        match stall_at == at {
                            true => stalled = Some(sockets()),
                            false => overdue = Some(sockets()),
                        }
                        run.cancel();
                        continue;
                    };
                    let Some(item) = item else { break };
                    match item {
                        Ok(e) => match e.kind {
                            EventKind::Output { stream: cstream_engine::Stream::Stdout, data } => {
                                if cancel && len == 0 {
                                    run.cancel();
                                }
                                hash.update(&data);
                                len += data.len();
                            }
                            EventKind::ProcessEnd(p) => end = Some(p),
                            _ => {}
                        },
                        Err(e) => errors.push(e.to_string()),
                    }
                }
                let mut problems = Vec::new();
                if let Some(sockets) = stalled {
                    problems.push(format!("no output after {STALL:?}; this process's sockets then:\n{sockets}"));
                }
                if let Some(sockets) = overdue {
                    problems.push(format!("not ended after {RUN_LIMIT:?}; this process's sockets then:\n{sockets}"));
                }
                // An engine that lost the exit (Podman 4.3, rarely, under load) is
                // reported as unknown: counted, not a failure. A made-up code would be.
                let unknown = end.as_ref().is_some_and(|p| p.exit_code.is_none())
                    && errors.iter().any(|e| e.contains("could not say how the process ended"));
                if unknown {
                    return (i, len, problems, Some(errors));
                }
                if !errors.is_empty() {
                    problems.push(format!("errors {errors:?}"));
                }
                match &end {
                    Some(p) if p.exit_code == Some(code) && (p.reason == EndReason::Cancelled) == cancel => {}
                    other => problems.push(format!("end {other:?}, wanted {code}")),
                }
                if let Some(Want::Hash(want, n)) = want {
                    if hash.finalize().as_slice() != want.as_slice() || len != n {
                        problems.push(format!("output: {len} bytes, wanted {n}, or a different hash"));
                    }
                }
                (i, len, problems, None)
            }));
        }
        let mut bytes = 0usize;
        let mut unknown = 0;
        for t in tasks {
            let (i, n, problems, lost_exit) = t.await.unwrap();
            bytes += n;
            if let Some(errors) = lost_exit {
                unknown += 1;
                eprintln!("soak: {endpoint} run {i}: the engine could not say how it ended: {errors:?}");
            }
            for p in problems {
                failures.push(format!("{endpoint} run {i}: {p}"));
            }
        }
        let took = began.elapsed();
        let rss_end = rss_kib();
        let left = engine.containers_labelled(&[&label]).await.map(|l| l.len()).unwrap_or(usize::MAX);
        if left != 0 {
            failures.push(format!("{endpoint}: {left} container(s) left behind"));
        }
        if rss_end > rss_warm + 16 * 1024 {
            failures.push(format!("{endpoint}: memory grew from {rss_warm} KiB to {rss_end} KiB"));
        }
        println!(
            "soak {endpoint}: {runs} runs in {:.1} s ({:.1} runs/s), {:.1} MiB of output checked, {unknown} exit(s) the engine could not tell, {left} containers left, RSS {rss_warm} KiB after warm-up, {rss_end} KiB at the end",
            took.as_secs_f64(),
            runs as f64 / took.as_secs_f64(),
            bytes as f64 / (1 << 20) as f64,
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for f in &failures {
        eprintln!("soak FAILED: {f}");
    }
    println!("{} passed, {} failed", if failures.is_empty() { 1 } else { 0 }, failures.len().min(1));
    std::process::exit(if failures.is_empty() { 0 } else { 1 });
}
