//! What the engine tests share: the engines, running a spec to its end, and
//! checking that no container is left behind.

#![allow(dead_code)]

pub mod behaviour;
pub mod events;
pub mod swarm;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cstream_engine::{Engine, Error, EventKind, ProcessEnd, Remote, RunSpec, Stream};
use futures_util::StreamExt;

/// The image `scripts/engines.sh` builds in both engines.
pub const TEST_IMAGE: &str = "cstream-test:latest";

/// An engine and how it is reached, as `scripts/engines.sh` sets them up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Docker 20.10 (API 1.41) over its Unix socket.
    DockerUnix,
    /// A current Docker (26, API 1.45) over its Unix socket.
    DockerCurrent,
    /// Podman 4.3 (compat API 1.41) over its Unix socket.
    PodmanUnix,
    /// Docker 20.10 over loopback TCP.
    DockerTcp,
    /// Podman 4.3 over loopback TCP.
    PodmanTcp,
}

impl Target {
    pub fn endpoint(self) -> &'static str {
        match self {
            Target::DockerUnix => "unix:///var/run/docker.sock",
            Target::DockerCurrent => "unix:///run/cstream-docker-current.sock",
            Target::PodmanUnix => "unix:///run/podman/podman.sock",
            Target::DockerTcp => "tcp://127.0.0.1:2375",
            Target::PodmanTcp => "tcp://127.0.0.1:8080",
        }
    }

    pub fn is_podman(self) -> bool {
        matches!(self, Target::PodmanUnix | Target::PodmanTcp)
    }

    /// Whether the engine takes the terminal size at create (`ConsoleSize`,
    /// Docker from API 1.42) or before start (Podman), so that a process
    /// reading it at once sees it.
    pub fn sizes_terminal_before_start(self) -> bool {
        matches!(self, Target::DockerCurrent | Target::PodmanUnix | Target::PodmanTcp)
    }

    /// The engine; a test that cannot reach it fails here, saying how to set it up.
    pub async fn engine(self) -> Engine {
        match cstream_engine::connect(self.endpoint(), Remote::Refuse).await {
            Ok(e) => e,
            Err(e) => panic!("{self:?} is not reachable at {} ({e}); run scripts/engines.sh first", self.endpoint()),
        }
    }
}

/// A spec for the test image, labelled so its containers can be found.
pub fn spec(_target: &Target) -> cstream_engine::core::spec::RunSpecBuilder {
    RunSpec::builder(TEST_IMAGE).pull(cstream_engine::PullPolicy::Never).heartbeat(None)
}

pub fn unique_label(what: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("{what}-{}-{nanos}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub tty: Vec<u8>,
    pub events: Vec<cstream_engine::Event>,
    pub names: Vec<&'static str>,
    pub errors: Vec<Error>,
}

impl Outcome {
    pub fn end(&self) -> ProcessEnd {
        self.events
            .iter()
            .find_map(|e| match &e.kind {
                EventKind::ProcessEnd(p) => Some(p.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no ProcessEnd: {:?} {:?}", self.names, self.errors))
    }

    pub fn assert_exit(&self, code: i32) {
        assert!(self.errors.is_empty(), "{:?}", self.errors);
        assert_eq!(self.end().exit_code, Some(code), "{:?}", self.end());
        assert_eq!(self.names.last(), Some(&"ContainerRemove"));
    }
}

pub fn event_name(k: &EventKind) -> &'static str {
    k.name()
}

/// Runs `spec` to its end and gathers what it did.
pub async fn collect(engine: &Engine, spec: RunSpec) -> Outcome {
    drain(&mut engine.run(spec)).await
}

/// Reads a run to its end (two minutes at most): output per stream, the
/// other events, event names with consecutive outputs merged, errors.
pub async fn drain(run: &mut cstream_engine::Run) -> Outcome {
    let mut o = Outcome::default();
    let run_for = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(item) = run.next().await {
            match item {
                Ok(e) => {
                    let name = event_name(&e.kind);
                    if !(name == "Output" && o.names.last() == Some(&"Output")) {
                        o.names.push(name);
                    }
                    if let EventKind::Output { stream, data } = &e.kind {
                        match stream {
                            Stream::Stdout => o.stdout.extend_from_slice(data),
                            Stream::Stderr => o.stderr.extend_from_slice(data),
                            Stream::Tty => o.tty.extend_from_slice(data),
                        }
                    } else {
                        o.events.push(e);
                    }
                }
                Err(e) => o.errors.push(e),
            }
        }
    });
    run_for.await.expect("no deadlock: the run ended within two minutes");
    o
}

/// Runs a spec on `target` with a fresh label, and checks that its container is gone after.
pub async fn outcome(target: &Target, spec: cstream_engine::core::spec::RunSpecBuilder) -> Outcome {
    let engine = target.engine().await;
    let label = unique_label("run");
    let spec = spec.label("cstream.test", &label).build().expect("a valid spec");
    let o = collect(&engine, spec).await;
    assert_no_containers(&engine, &label).await;
    o
}

pub async fn assert_no_containers(engine: &Engine, label: &str) {
    let left = engine.containers_labelled(&[&format!("cstream.test={label}")]).await.expect("list containers");
    assert!(left.is_empty(), "containers left behind: {left:?}");
}

pub async fn wait_until_no_containers(engine: &Engine, label: &str, limit: Duration) {
    let filter = format!("cstream.test={label}");
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let left = engine.containers_labelled(&[&filter]).await.expect("list containers");
        if left.is_empty() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "containers still there after {limit:?}: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(data))
}

/// A temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let p = std::env::temp_dir().join(unique_label("cstream-test"));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn path_str(&self) -> String {
        self.0.display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A command that prints a line every 0.1 s until stopped.
pub const TICKING: [&str; 3] = ["sh", "-c", "while true; do echo tick; sleep 0.1; done"];

/// Reads events until the first output.
pub async fn until_output(run: &mut cstream_engine::Run) {
    loop {
        let e = run.next().await.expect("the run goes on").expect("no error");
        if matches!(e.kind, EventKind::Output { .. }) {
            return;
        }
    }
}

/// The size a [`resize_burst`] ends with, as `stty size` prints it.
pub const BURST_LAST: &str = "61 161";

/// A script that waits for a line, then for the terminal to have the
/// [`resize_burst`]'s last size (5 s at most: Podman may answer a resize
/// before the terminal has it), then prints the size it has.
pub const AFTER_BURST: &str =
    "read _; i=0; while [ \"$(stty size)\" != '61 161' ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done; stty size";

/// Twelve resizes of `handle`'s run asked for at once, none awaited before
/// the next, the last 161x61; once every one is acknowledged, a line on
/// stdin. The task ends with it.
pub fn resize_burst(handle: cstream_engine::RunHandle) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut acks = tokio::task::JoinSet::new();
        for n in 0..12u16 {
            let handle = handle.clone();
            acks.spawn(async move { handle.resize(150 + n, 50 + n).await });
            tokio::task::yield_now().await;
        }
        while let Some(ack) = acks.join_next().await {
            ack.unwrap().expect("every resize acknowledged");
        }
        handle.write_stdin(&b"\n"[..]).await.expect("written");
    })
}

/// Makes each `async fn name(Target)` above it a test on each engine: Docker
/// 20.10, the current Docker and Podman, over their Unix sockets.
#[allow(unused_macros)]
macro_rules! on_each_engine {
    ($($name:ident),* $(,)?) => {
        mod docker { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Target::DockerUnix).await } )* }
        mod docker_current { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Target::DockerCurrent).await } )* }
        mod podman { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Target::PodmanUnix).await } )* }
    };
}

/// As `on_each_engine`, and on Docker and Podman over loopback TCP too.
#[allow(unused_macros)]
macro_rules! on_every_connection {
    ($($name:ident),* $(,)?) => {
        mod docker_unix { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Target::DockerUnix).await } )* }
        mod docker_current { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Target::DockerCurrent).await } )* }
        mod podman_unix { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Target::PodmanUnix).await } )* }
        mod docker_tcp { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Target::DockerTcp).await } )* }
        mod podman_tcp { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Target::PodmanTcp).await } )* }
    };
}
