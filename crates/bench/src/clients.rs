//! The three clients, each used the way its own docs show, on the same image
//! and command: cstream (`engine.run`), bollard (create, attach, start, wait,
//! remove) and the docker CLI (`docker run --rm`).
//!
//! Every container is labelled `cstream.bench=1` and removed: cstream removes
//! its own, bollard's are removed with `force`, the CLI's with `--rm`.

use std::collections::HashMap;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::container::LogOutput;
use bollard::models::{ContainerCreateBody, HostConfig, HostConfigLogConfig};
use bollard::query_parameters::{
    AttachContainerOptionsBuilder, CreateContainerOptions, RemoveContainerOptionsBuilder, StartContainerOptions,
    WaitContainerOptions,
};
use cstream_engine::core::swarm::Placement;
use cstream_engine::{Engine, EventKind, ProcessId, Run, RunSpec};
use futures_util::StreamExt;

use crate::sys;

/// The label on every container the bench creates.
pub const LABEL: (&str, &str) = ("cstream.bench", "1");

/// Any failure, as text.
pub type Res<T> = Result<T, String>;

/// Which client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Client {
    /// cstream-engine.
    Ours,
    /// bollard.
    Bollard,
    /// The docker CLI.
    Docker,
    /// A client that does nothing but a run's socket work (see
    /// [`crate::floor`]); not in [`Client::ALL`]: it is measured apart, by
    /// item 8.
    Floor,
}

impl Client {
    /// All three, in the order they are shown.
    pub const ALL: [Client; 3] = [Client::Ours, Client::Bollard, Client::Docker];

    /// The name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Client::Ours => "cstream",
            Client::Bollard => "bollard",
            Client::Docker => "docker-cli",
            Client::Floor => "floor",
        }
    }

    /// The client of that name.
    pub fn parse(s: &str) -> Res<Client> {
        Client::ALL
            .into_iter()
            .chain([Client::Floor])
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown client {s:?}"))
    }
}

/// When a run's milestones came, from the first call.
#[derive(Clone, Debug, Default)]
pub struct Timings {
    /// The first output byte.
    pub first_byte: Option<Duration>,
    /// The last output byte.
    pub last_byte: Option<Duration>,
    /// The process's exit is known (cstream: `ProcessEnd`; bollard: output
    /// drained and the wait answered; docker CLI: not seen apart).
    pub end: Option<Duration>,
    /// The container is removed (docker CLI: the process exited).
    pub removed: Duration,
    /// Output bytes received.
    pub bytes: u64,
    /// The docker CLI's peak RSS (KiB), sampled from `/proc` while it ran.
    pub child_hwm_kib: Option<i64>,
    /// When each step of the run was done, for `cstream-bench phases`.
    pub phases: Vec<(&'static str, Duration)>,
    /// A swarm job's task id, from its `ProcessStart`.
    pub task: Option<String>,
}

/// A consumer of output: counts bytes, notes the first and last, and stalls
/// for `stall` after every `stall_every` bytes (when set).
pub struct Consumer {
    t0: Instant,
    bytes: u64,
    first: Option<Duration>,
    last: Option<Duration>,
    stall_every: u64,
    stall: Duration,
    next_stall: u64,
}

impl Consumer {
    /// A consumer; `stall_every` 0 never stalls.
    pub fn new(t0: Instant, stall_every: u64, stall: Duration) -> Self {
        let next_stall = if stall_every == 0 { u64::MAX } else { stall_every };
        Consumer { t0, bytes: 0, first: None, last: None, stall_every, stall, next_stall }
    }

    /// Takes `n` bytes; says how long to stall now, if at all.
    fn take(&mut self, n: usize) -> Option<Duration> {
        if n == 0 {
            return None;
        }
        let now = self.t0.elapsed();
        self.first.get_or_insert(now);
        self.last = Some(now);
        self.bytes += n as u64;
        if self.bytes >= self.next_stall {
            self.next_stall = self.bytes - self.bytes % self.stall_every + self.stall_every;
            return Some(self.stall);
        }
        None
    }

    /// Takes `n` bytes in an async client, stalling without blocking the runtime.
    pub async fn feed(&mut self, n: usize) {
        if let Some(d) = self.take(n) {
            tokio::time::sleep(d).await;
        }
    }

    /// Takes `n` bytes in a blocking reader.
    pub fn feed_blocking(&mut self, n: usize) {
        if let Some(d) = self.take(n) {
            std::thread::sleep(d);
        }
    }

    /// The output bytes taken so far.
    #[cfg(test)]
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// What was seen, for a client that tells neither end nor removal apart
    /// (the floor): both are now.
    pub fn timings_now(&self) -> Timings {
        let now = self.t0.elapsed();
        self.timings(Some(now), now)
    }

    fn timings(&self, end: Option<Duration>, removed: Duration) -> Timings {
        Timings {
            first_byte: self.first,
            last_byte: self.last,
            end,
            removed,
            bytes: self.bytes,
            child_hwm_kib: None,
            phases: Vec::new(),
            task: None,
        }
    }
}

/// A command to run: argv and the log driver (`None`: the engine's default).
#[derive(Clone, Debug)]
pub struct Job {
    /// The image.
    pub image: String,
    /// The command line.
    pub argv: Vec<String>,
    /// The log driver, or the engine's default.
    pub log_driver: Option<String>,
}

// ---- cstream --------------------------------------------------------------

/// One run with cstream: from `engine.run` to `ProcessEnd` and to `ContainerRemove`.
pub async fn ours(engine: &Engine, job: &Job, consumer: &mut Consumer) -> Res<Timings> {
    let run = engine.run(our_spec(job)?);
    drain(run, consumer).await
}

/// One run with cstream as a one-off job on the swarm `engine` manages
/// (`engine.run_on_swarm`, placed anywhere): the same events, the output read
/// from the service's logs.
pub async fn ours_on_swarm(engine: &Engine, job: &Job, consumer: &mut Consumer) -> Res<Timings> {
    let run = engine.run_on_swarm(our_spec(job)?, Placement::default());
    drain(run, consumer).await
}

fn our_spec(job: &Job) -> Res<RunSpec> {
    let mut spec = RunSpec::builder(job.image.clone()).command(job.argv.clone()).label(LABEL.0, LABEL.1);
    if let Some(d) = &job.log_driver {
        spec = spec.log_driver(d.clone());
    }
    spec.build().map_err(|e| format!("spec: {e}"))
}

/// Reads a run's events to the end, noting when each milestone came.
async fn drain(mut run: Run, consumer: &mut Consumer) -> Res<Timings> {
    let t0 = consumer.t0;
    let mut end = None;
    let mut removed = None;
    let mut task = None;
    let mut phases = Vec::new();
    while let Some(event) = run.next().await {
        match event.map_err(|e| format!("cstream: {e}"))?.kind {
            EventKind::Output { data, .. } => consumer.feed(data.len()).await,
            EventKind::ContainerCreate { .. } => phases.push(("created", t0.elapsed())),
            EventKind::ProcessStart { process, .. } => {
                phases.push(("started", t0.elapsed()));
                if let ProcessId::Task { task: id, .. } = process {
                    task = Some(id);
                }
            }
            EventKind::ProcessEnd(e) => {
                let at = t0.elapsed();
                phases.push(("ended", at));
                end = Some(at);
                if e.exit_code != Some(0) {
                    return Err(format!("cstream: the process ended with {e:?}"));
                }
            }
            EventKind::ContainerRemove { .. } => removed = Some(t0.elapsed()),
            _ => {}
        }
    }
    let removed = removed.ok_or("cstream: the run ended without ContainerRemove")?;
    phases.push(("removed", removed));
    Ok(Timings { phases, task, ..consumer.timings(end, removed) })
}

// ---- bollard ----------------------------------------------------------------

/// A bollard client for the socket at `endpoint` (`unix:///path`), its API
/// version negotiated with the engine (Docker 20.10 speaks at most 1.41).
pub async fn bollard_client(endpoint: &str) -> Res<Docker> {
    let docker = Docker::connect_with_unix(endpoint, 120, bollard::API_DEFAULT_VERSION)
        .map_err(|e| format!("bollard connect: {e}"))?;
    docker.negotiate_version().await.map_err(|e| format!("bollard negotiate_version: {e}"))
}

/// One run with bollard as its docs show: create, attach, start, read the
/// output to its end, wait, remove. `end` is when the wait answered.
pub async fn bollard(docker: &Docker, job: &Job, consumer: &mut Consumer) -> Res<Timings> {
    let t0 = consumer.t0;
    let host_config = job.log_driver.as_ref().map(|d| HostConfig {
        log_config: Some(HostConfigLogConfig { typ: Some(d.clone()), config: None }),
        ..Default::default()
    });
    let body = ContainerCreateBody {
        image: Some(job.image.clone()),
        cmd: Some(job.argv.clone()),
        labels: Some(HashMap::from([(LABEL.0.to_string(), LABEL.1.to_string())])),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        host_config,
        ..Default::default()
    };
    let id = docker
        .create_container(None::<CreateContainerOptions>, body)
        .await
        .map_err(|e| format!("bollard create: {e}"))?
        .id;
    let mut phases = vec![("created", t0.elapsed())];
    let ran = async {
        let options = AttachContainerOptionsBuilder::default().stdout(true).stderr(true).stream(true).build();
        let mut attached =
            docker.attach_container(&id, Some(options)).await.map_err(|e| format!("bollard attach: {e}"))?;
        phases.push(("attached", t0.elapsed()));
        docker.start_container(&id, None::<StartContainerOptions>).await.map_err(|e| format!("bollard start: {e}"))?;
        phases.push(("started", t0.elapsed()));
        while let Some(item) = attached.output.next().await {
            match item.map_err(|e| format!("bollard output: {e}"))? {
                LogOutput::StdOut { message } | LogOutput::StdErr { message } | LogOutput::Console { message } => {
                    consumer.feed(message.len()).await
                }
                LogOutput::StdIn { .. } => {}
            }
        }
        phases.push(("output ended", t0.elapsed()));
        let mut wait = docker.wait_container(&id, None::<WaitContainerOptions>);
        let code = match wait.next().await {
            Some(Ok(r)) => r.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(e)) => return Err(format!("bollard wait: {e}")),
            None => return Err("bollard wait: no answer".into()),
        };
        let end = t0.elapsed();
        phases.push(("ended", end));
        match code {
            0 => Ok(end),
            c => Err(format!("bollard: the process exited with {c}")),
        }
    }
    .await;
    // Removed on every path; tried again when bollard's pooled connection
    // fails (seen here: "client error (SendRequest)" after a long stream).
    let mut removed = Err(String::new());
    for _ in 0..3 {
        let options = RemoveContainerOptionsBuilder::default().force(true).v(true).build();
        removed = docker.remove_container(&id, Some(options)).await.map_err(|e| format!("bollard remove: {e}"));
        if removed.is_ok() {
            break;
        }
    }
    let end = ran?;
    removed?;
    phases.push(("removed", t0.elapsed()));
    Ok(Timings { phases, ..consumer.timings(Some(end), t0.elapsed()) })
}

// ---- the docker CLI -----------------------------------------------------------

/// `docker [-H host] run --rm --label cstream.bench=1 [--log-driver D] IMAGE ARGV...`.
pub fn docker_command(host: &str, job: &Job) -> Command {
    let mut c = Command::new("docker");
    c.args(["-H", host, "run", "--rm", "--label", &format!("{}={}", LABEL.0, LABEL.1)]);
    if let Some(d) = &job.log_driver {
        c.args(["--log-driver", d]);
    }
    c.arg(&job.image).args(&job.argv);
    c
}

/// One `docker run --rm`, blocking: its stdout read through `consumer`, the
/// time to its exit (the CLI exits once the container is removed).
pub fn docker_cli(host: &str, job: &Job, consumer: &mut Consumer) -> Res<Timings> {
    let mut cmd = docker_command(host, job);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let t0 = consumer.t0;
    let mut child = cmd.spawn().map_err(|e| format!("docker CLI: {e}"))?;
    let mut out = child.stdout.take().ok_or("docker CLI: no stdout")?;
    let pid = child.id().to_string();
    let mut hwm = sys::vm_hwm_kib(&pid);
    let mut sampled = Instant::now();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if sampled.elapsed() >= Duration::from_millis(20) {
            hwm = hwm.max(sys::vm_hwm_kib(&pid));
            sampled = Instant::now();
        }
        match out.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => consumer.feed_blocking(n),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("docker CLI stdout: {e}")),
        }
    }
    // Its stdout is closed; the last sample before it exits (it still removes the container).
    hwm = hwm.max(sys::vm_hwm_kib(&pid));
    let output = child.wait_with_output().map_err(|e| format!("docker CLI: {e}"))?;
    let removed = t0.elapsed();
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        return Err(format!("docker CLI exited with {}: {}", output.status, err.trim()));
    }
    Ok(Timings { child_hwm_kib: hwm, ..consumer.timings(None, removed) })
}

/// `docker run --rm` with no output to read, async (for latency runs).
pub async fn docker_cli_quiet(host: &str, job: &Job) -> Res<Timings> {
    let mut cmd = tokio::process::Command::from(docker_command(host, job));
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let t0 = Instant::now();
    let out = cmd.output().await.map_err(|e| format!("docker CLI: {e}"))?;
    let removed = t0.elapsed();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!("docker CLI exited with {}: {}", out.status, err.trim()));
    }
    Ok(Timings { removed, ..Timings::default() })
}
