//! Runs of `true` from one client in a process of its own (items 2 and 6):
//! the wall time of a batch and the client's CPU time per run.
//!
//! `cstream-bench runs --client C --engine E (--runs N | --at-once K) [--flavor multi|current]`
//! connects once, makes one untimed warm-up run, then N runs one after the
//! other (or K at once: K tasks on the one client object, K `docker run --rm`
//! processes), and prints one JSON line: how many runs, their wall time, and
//! the CPU time (user + sys) spent from just before the first of them to just
//! after the last. For the libraries that is this process's own
//! (`getrusage(RUSAGE_SELF)`, every thread); for the docker CLI it is the
//! `docker` processes' (`RUSAGE_CHILDREN`: the children waited for), each a
//! whole process per run. With `--swarm` (cstream only) every run is a
//! one-off job on the swarm that `--engine` manages (`engine.run_on_swarm`).

use std::time::Instant;

use cstream_engine::Engine;

use crate::clients::{self, Client, Consumer, Job, Res};
use crate::floor::Floor;
use crate::stats::{Row, Unit};
use crate::sys::{self, Usage};
use crate::{Args, retrying, rotated, runtime_of};

/// One client, connected.
#[derive(Clone)]
enum Connected {
    Ours(Engine),
    Bollard(bollard::Docker),
    Cli(String),
    /// cstream, each run a job on the swarm this engine manages.
    Swarm(Engine),
    /// The floor (see [`crate::floor`]).
    Floor(std::sync::Arc<Floor>),
}

impl Connected {
    async fn new(client: Client, endpoint: &str, swarm: bool) -> Res<Connected> {
        let ours = || async {
            cstream_engine::connect(endpoint, cstream_engine::Remote::Refuse).await.map_err(|e| format!("connect: {e}"))
        };
        Ok(match client {
            Client::Ours if swarm => Connected::Swarm(ours().await?),
            _ if swarm => return Err(format!("--swarm is for cstream only, not {}", client.name())),
            Client::Ours => Connected::Ours(ours().await?),
            Client::Bollard => Connected::Bollard(clients::bollard_client(endpoint).await?),
            Client::Docker => Connected::Cli(endpoint.to_string()),
            Client::Floor => Connected::Floor(std::sync::Arc::new(Floor::new(endpoint)?)),
        })
    }

    async fn run(&self, job: &Job) -> Res<()> {
        let quiet = || Consumer::new(Instant::now(), 0, std::time::Duration::ZERO);
        match self {
            Connected::Ours(engine) => clients::ours(engine, job, &mut quiet()).await?,
            Connected::Swarm(engine) => clients::ours_on_swarm(engine, job, &mut quiet()).await?,
            Connected::Bollard(docker) => clients::bollard(docker, job, &mut quiet()).await?,
            Connected::Cli(host) => clients::docker_cli_quiet(host, job).await?,
            Connected::Floor(floor) => return floor.run(job, &mut quiet()).await.map(drop),
        };
        Ok(())
    }

    /// The CPU time this client has spent so far.
    fn usage(&self) -> Usage {
        match self {
            Connected::Cli(_) => Usage::waited_children(),
            _ => Usage::this_process(),
        }
    }
}

/// `n` runs one after the other, or `n` at once.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// One after the other.
    Sequential(usize),
    /// All started at once.
    AtOnce(usize),
}

impl Shape {
    fn runs(self) -> usize {
        match self {
            Shape::Sequential(n) | Shape::AtOnce(n) => n,
        }
    }
}

/// `cstream-bench runs ...`: the child's side.
pub fn child_main(args: &[String]) -> Res<()> {
    let a = Args(args);
    let client = Client::parse(a.value("--client").ok_or("--client is required")?)?;
    let endpoint = a.value("--engine").unwrap_or("unix:///var/run/docker.sock").to_string();
    let shape = match (a.value("--runs"), a.value("--at-once")) {
        (_, Some(_)) => Shape::AtOnce(a.num("--at-once", 0)? as usize),
        _ => Shape::Sequential(a.num("--runs", 20)? as usize),
    };
    if shape.runs() == 0 {
        return Err("--runs and --at-once want at least 1".into());
    }
    let job = Job {
        image: a.value("--image").unwrap_or("cstream-test:latest").into(),
        argv: vec!["true".into()],
        log_driver: None,
    };
    let swarm = a.flag("--swarm");
    let flavor = a.value("--flavor").unwrap_or("multi");
    let (wall, cpu) = runtime_of(flavor)?.block_on(runs_here(client, &endpoint, &job, shape, swarm))?;
    let line = serde_json::json!({"client": client.name(), "runs": shape.runs(), "wall": wall, "cpu": cpu});
    println!("{line}");
    Ok(())
}

/// The runs themselves, in this process: their wall time and the client's
/// CPU time for all of them (seconds).
async fn runs_here(client: Client, endpoint: &str, job: &Job, shape: Shape, swarm: bool) -> Res<(f64, f64)> {
    let conn = Connected::new(client, endpoint, swarm).await?;
    conn.run(job).await?;
    let before = conn.usage();
    let t0 = Instant::now();
    match shape {
        Shape::Sequential(n) => {
            for _ in 0..n {
                conn.run(job).await?;
            }
        }
        Shape::AtOnce(n) => {
            let tasks: Vec<_> = (0..n)
                .map(|_| {
                    let (conn, job) = (conn.clone(), job.clone());
                    tokio::spawn(async move { conn.run(&job).await })
                })
                .collect();
            // Every run to its end before any error is reported: none is
            // cut off half way by the runtime's shutdown.
            let mut failed = None;
            for t in tasks {
                if let Err(e) = t.await.map_err(|e| format!("task: {e}")).and_then(|r| r) {
                    failed.get_or_insert(e);
                }
            }
            if let Some(e) = failed {
                return Err(e);
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let after = conn.usage();
    Ok((wall, after.cpu() - before.cpu()))
}

/// What a `runs` child reported.
#[derive(Clone, Copy, Debug)]
pub struct Measured {
    /// Wall time of the runs, seconds.
    pub wall: f64,
    /// Client CPU time per run, seconds.
    pub cpu_per_run: f64,
}

/// Spawns a `runs` child and reads its figures.
pub fn measure(client: Client, endpoint: &str, image: &str, shape: Shape) -> Res<Measured> {
    measure_on(client, endpoint, image, shape, false)
}

/// [`measure`], the runs on the swarm `endpoint` manages when `swarm`.
pub fn measure_on(client: Client, endpoint: &str, image: &str, shape: Shape, swarm: bool) -> Res<Measured> {
    let exe = sys::this_program()?;
    let (flag, n) = match shape {
        Shape::Sequential(n) => ("--runs", n),
        Shape::AtOnce(n) => ("--at-once", n),
    };
    let out = std::process::Command::new(exe)
        .args(["runs", "--client", client.name(), "--engine", endpoint, "--image", image, flag, &n.to_string()])
        .args(swarm.then_some("--swarm"))
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("spawning the runs child: {e}"))?;
    if !out.status.success() {
        return Err(format!("the {} runs child failed ({})", client.name(), out.status));
    }
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("the runs child's answer: {e}"))?;
    let f = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).ok_or(format!("the runs child gave no {k:?}"));
    Ok(Measured { wall: f("wall")?, cpu_per_run: f("cpu")? / f("runs")? })
}

/// Batches of runs at once, each of `clients` in a child of its own, the clients'
/// order rotated every round: a row of wall times and one of CPU per run.
pub fn at_once(clients: [Client; 3], endpoint: &str, image: &str, size: usize, rounds: usize) -> Res<[Row; 2]> {
    let mut wall = Row::new(format!("wall time, {size} at once, all removed"), Unit::S);
    let mut cpu = Row::new(format!("client CPU per run, {size} at once (the batch's / {size})"), Unit::CpuMs);
    for round in 0..rounds {
        for (i, client) in rotated(clients, round) {
            let m = retrying(client.name(), || measure(client, endpoint, image, Shape::AtOnce(size)))?;
            wall.cells[i].push(m.wall);
            cpu.cells[i].push(m.cpu_per_run);
        }
    }
    Ok([wall, cpu])
}

/// Sequential runs, each of `clients` in a child of its own: CPU per run.
pub fn sequential_cpu(clients: [Client; 3], endpoint: &str, image: &str, runs: usize, rounds: usize) -> Res<Row> {
    let mut cpu = Row::new(format!("client CPU (user+sys) per run, {runs} runs one after the other"), Unit::CpuMs);
    for round in 0..rounds {
        for (i, client) in rotated(clients, round) {
            let m = retrying(client.name(), || measure(client, endpoint, image, Shape::Sequential(runs)))?;
            cpu.cells[i].push(m.cpu_per_run);
        }
    }
    Ok(cpu)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Docker 20.10, where the bench measures (`scripts/engines.sh up` starts it).
    const DOCKER: &str = "unix:///var/run/docker.sock";

    /// Each client is charged its own CPU time: the docker CLI its `docker`
    /// processes' (a whole Go program per run, milliseconds of CPU), a
    /// library this process's (never nothing), in a row and at once.
    #[test]
    fn each_client_is_charged_its_own_cpu_time() {
        let job = Job { image: "cstream-test:latest".into(), argv: vec!["true".into()], log_driver: None };
        let rt = runtime_of("multi").unwrap();
        for shape in [Shape::Sequential(2), Shape::AtOnce(2)] {
            for client in [Client::Docker, Client::Ours] {
                let (wall, cpu) = rt
                    .block_on(runs_here(client, DOCKER, &job, shape, false))
                    .unwrap_or_else(|e| panic!("{} {shape:?} on {DOCKER} (scripts/engines.sh up): {e}", client.name()));
                let per_run = cpu / shape.runs() as f64;
                assert!(wall > 0.0, "{} {shape:?}: wall {wall}", client.name());
                match client {
                    Client::Docker => assert!(per_run >= 0.005, "docker CLI {shape:?}: {per_run} s of CPU per run"),
                    _ => assert!(per_run > 0.0, "{} {shape:?}: {per_run} s of CPU per run", client.name()),
                }
            }
        }
    }
}
