//! The blocking driver against real engines: Docker 20.10 at
//! /var/run/docker.sock, Docker 26 at /run/cstream-docker-current.sock and
//! Podman at /run/podman/podman.sock (`scripts/engines.sh up` starts them and
//! imports `cstream-test:latest`). An engine that does not answer
//! fails the test.

use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cstream_driver_blocking::{Run, request};
use cstream_proto_core::api::{ApiVersion, requests};
use cstream_proto_core::{EndReason, Event, EventKind, ProcessEnd, PullPolicy, RunInfo, RunSpec, Stream};

const DOCKER: &str = "/var/run/docker.sock";
const DOCKER_CURRENT: &str = "/run/cstream-docker-current.sock";
const PODMAN: &str = "/run/podman/podman.sock";
const IMAGE: &str = "cstream-test:latest";

/// The engine at `socket`, or a failed test saying how to start it.
fn engine(socket: &str) -> &str {
    match request(socket, &requests::ping()) {
        Ok((200, _)) => socket,
        other => panic!("no engine answers at {socket} ({other:?}): run `scripts/engines.sh up`"),
    }
}

/// A label value no other test run uses.
fn unique() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("blocking-{}-{nanos}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn spec(label: &str, argv: &[&str]) -> cstream_proto_core::spec::RunSpecBuilder {
    RunSpec::builder(IMAGE)
        .command(argv.iter().copied())
        .label("cstream.test", label)
        .pull(PullPolicy::Never)
        .heartbeat(None)
}

fn info(label: &str) -> RunInfo {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    RunInfo { run_id: label.to_string(), created_unix: now, owner: None }
}

/// Containers carrying this test's label, running or not.
fn left(socket: &str, label: &str) -> usize {
    let list = requests::list_labelled(ApiVersion::new(1, 41), &[&format!("cstream.test={label}")]);
    let (status, body) = request(socket, &list).expect("listing containers");
    assert_eq!(status, 200, "listing containers: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice::<Vec<serde_json::Value>>(&body).expect("a JSON list").len()
}

#[derive(Debug, Default)]
struct Seen {
    kinds: Vec<&'static str>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    end: Option<ProcessEnd>,
    errors: Vec<String>,
}

impl Seen {
    fn add(&mut self, item: Result<Event, impl std::fmt::Display>) {
        let e = match item {
            Ok(e) => e,
            Err(e) => return self.errors.push(e.to_string()),
        };
        self.kinds.push(e.kind.name());
        match e.kind {
            EventKind::Output { stream: Stream::Stderr, data } => self.stderr.extend_from_slice(&data),
            EventKind::Output { data, .. } => self.stdout.extend_from_slice(&data),
            EventKind::ProcessEnd(end) => self.end = Some(end),
            _ => {}
        }
    }

    /// The kinds with runs of `Output` folded into one.
    fn order(&self) -> Vec<&'static str> {
        let mut v = self.kinds.clone();
        v.dedup();
        v
    }
}

fn collect<E: std::fmt::Display>(run: impl Iterator<Item = Result<Event, E>>) -> Seen {
    let mut seen = Seen::default();
    run.for_each(|item| seen.add(item));
    seen
}

const LIFECYCLE: [&str; 5] = ["ContainerCreate", "ProcessStart", "Output", "ProcessEnd", "ContainerRemove"];

fn exit_42(socket: &str) {
    let socket = engine(socket);
    let label = unique();
    let s = spec(&label, &["sh", "-c", "echo out; echo err >&2; exit 42"]).build().unwrap();
    let seen = collect(Run::start(socket, s, info(&label)));
    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    assert_eq!(seen.order(), LIFECYCLE, "{:?}", seen.kinds);
    assert_eq!((seen.stdout.as_slice(), seen.stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]));
    let end = seen.end.unwrap();
    assert_eq!((end.exit_code, end.reason), (Some(42), EndReason::Exited));
    assert_eq!(left(socket, &label), 0, "a container was left behind");
}

/// Half a MiB on stdout, byte for byte, through many reads and frames.
fn much_output(socket: &str) {
    let socket = engine(socket);
    let label = unique();
    let s = spec(&label, &["seq", "1", "80000"]).build().unwrap();
    let seen = collect(Run::start(socket, s, info(&label)));
    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    let want: String = (1..=80000).map(|n| format!("{n}\n")).collect();
    assert_eq!(seen.stdout.len(), want.len());
    assert!(seen.stdout == want.as_bytes(), "stdout differs");
    assert_eq!(seen.end.unwrap().exit_code, Some(0));
    assert_eq!(left(socket, &label), 0, "a container was left behind");
}

fn stdin(socket: &str) {
    let socket = engine(socket);
    let label = unique();
    let s = spec(&label, &["sh", "-c", "wc -c; echo done >&2"]).stdin(true).build().unwrap();
    let mut run = Run::start(socket, s, info(&label));
    run.write_stdin(&b"hello, "[..]).unwrap();
    run.write_stdin(&b"stdin\n"[..]).unwrap();
    run.close_stdin().unwrap();
    let seen = collect(run);
    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    assert_eq!(String::from_utf8_lossy(&seen.stdout).trim(), "13");
    assert_eq!(seen.stderr, b"done\n");
    assert_eq!(left(socket, &label), 0, "a container was left behind");
}

/// A MiB through `cat` and back: stdin is written while output is read, so
/// neither side waits for the other.
fn stdin_echo(socket: &str) {
    let socket = engine(socket);
    let label = unique();
    let s = spec(&label, &["cat"]).stdin(true).build().unwrap();
    let data: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let mut run = Run::start(socket, s, info(&label));
    for piece in data.chunks(100_000) {
        run.write_stdin(piece.to_vec()).unwrap();
    }
    run.close_stdin().unwrap();
    let seen = collect(run);
    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    assert_eq!(seen.stdout.len(), data.len());
    assert!(seen.stdout == data, "stdout differs from stdin");
    assert_eq!(seen.end.unwrap().exit_code, Some(0));
    assert_eq!(left(socket, &label), 0, "a container was left behind");
}

/// Cancelled from another thread while it runs: stopped, ended as
/// cancelled, removed.
fn cancel(socket: &str) {
    let socket = engine(socket);
    let label = unique();
    let s = spec(&label, &["sh", "-c", "trap 'exit 7' TERM; echo up; while true; do sleep 0.1; done"])
        .stop_grace(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut run = Run::start(socket, s, info(&label));
    let canceller = run.canceller();
    let mut seen = Seen::default();
    for item in &mut run {
        let up = matches!(&item, Ok(Event { kind: EventKind::Output { .. }, .. }));
        seen.add(item);
        if up {
            let c = canceller.clone();
            std::thread::spawn(move || c.cancel());
        }
    }
    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    assert_eq!(seen.order(), LIFECYCLE, "{:?}", seen.kinds);
    let end = seen.end.unwrap();
    assert_eq!((end.exit_code, end.reason), (Some(7), EndReason::Cancelled));
    assert_eq!(left(socket, &label), 0, "a container was left behind");
}

/// A run dropped while its process runs still removes its container.
fn dropped(socket: &str) {
    let socket = engine(socket);
    let label = unique();
    let s = spec(&label, &["sh", "-c", "echo up; sleep 60"]).build().unwrap();
    let mut run = Run::start(socket, s, info(&label));
    let first_output = run.by_ref().find(|e| matches!(e, Ok(Event { kind: EventKind::Output { .. }, .. })));
    assert!(first_output.is_some(), "the process never wrote");
    assert_eq!(left(socket, &label), 1);
    drop(run);
    assert_eq!(left(socket, &label), 0, "a container was left behind");
}

/// A bind-mount source the host does not have: one typed error, nothing
/// created on the engine, and no empty directory made in its place (which
/// Podman would do if the create got that far).
fn missing_mount_source(socket: &str) {
    let socket = engine(socket);
    let label = unique();
    let source = format!("/tmp/cstream-missing-{label}/src");
    let s = spec(&label, &["true"]).mount(&source, "/m", true).build().unwrap();
    let seen = collect(Run::start(socket, s, info(&label)));
    let refusal = format!("invalid mount source {source:?}: does not exist on the engine's host");
    assert_eq!((seen.kinds.len(), seen.errors), (0, vec![refusal]));
    assert!(!Path::new(&source).exists(), "the missing source was created");
    assert_eq!(left(socket, &label), 0, "a container was left behind");
}

/// Docker's own refusal of a missing bind source, with no check on this
/// side (as for a driver that cannot see the engine's host): the machine
/// reads it as the same typed error. (Podman creates the source instead.)
fn missing_mount_source_refused_by_docker(socket: &str) {
    let socket = engine(socket);
    let label = unique();
    let source = format!("/tmp/cstream-missing-{label}/src");
    let s = spec(&label, &["true"]).mount(&source, "/m", true).build().unwrap();
    let machine = cstream_proto_core::Machine::new(s, info(&label), Duration::ZERO);
    let mut errors = Vec::new();
    for item in Run::new(socket, machine) {
        match item {
            Err(cstream_proto_core::Error::Spec(e)) => errors.push(e.to_string()),
            other => panic!("only the refusal was expected, got {other:?}"),
        }
    }
    let refusal = format!("invalid mount source {source:?}: does not exist on the engine's host");
    assert_eq!(errors, vec![refusal]);
    assert_eq!(left(socket, &label), 0, "a container was left behind");
}

#[test]
fn docker_refuses_a_missing_mount_source() {
    bounded("docker_refuses_a_missing_mount_source", || missing_mount_source_refused_by_docker(DOCKER));
}

#[test]
fn docker_current_refuses_a_missing_mount_source() {
    bounded("docker_current_refuses_a_missing_mount_source", || missing_mount_source_refused_by_docker(DOCKER_CURRENT));
}

/// No engine at the socket: an error, then the end, never a hang.
#[test]
fn no_engine_is_an_error() {
    bounded("no_engine_is_an_error", no_engine);
}

fn no_engine() {
    let socket = Path::new("/nonexistent/cstream.sock");
    let s = RunSpec::builder(IMAGE).build().unwrap();
    let seen = collect(Run::start(socket, s, info("none")));
    assert_eq!(seen.kinds, Vec::<&str>::new());
    assert!(seen.errors.len() == 1 && seen.errors[0].contains("/nonexistent/cstream.sock"), "{:?}", seen.errors);
}

/// How long one test may take: a run that deadlocks fails the test, and CI
/// with it, instead of hanging it.
const LIMIT: Duration = Duration::from_secs(120);

/// Runs `body` on a thread of its own and waits for it at most [`LIMIT`]; a
/// panic in it is the test's panic.
fn bounded(name: &str, body: impl FnOnce() + Send + 'static) {
    let (done, ended) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            body();
            let _ = done.send(());
        })
        .expect("a thread for the test");
    match ended.recv_timeout(LIMIT) {
        Ok(()) => thread.join().expect("the test's thread"),
        // The body panicked: fail with its panic.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("{name} did not end within {LIMIT:?}: a deadlock or an engine that stopped answering")
        }
    }
}

macro_rules! on_each_engine {
    ($($name:ident),*) => {
        mod docker {
            $(#[test] fn $name() { super::bounded(concat!("docker::", stringify!($name)), || super::$name(super::DOCKER)) })*
        }
        mod docker_current {
            $(#[test] fn $name() { super::bounded(concat!("docker_current::", stringify!($name)), || super::$name(super::DOCKER_CURRENT)) })*
        }
        mod podman {
            $(#[test] fn $name() { super::bounded(concat!("podman::", stringify!($name)), || super::$name(super::PODMAN)) })*
        }
    };
}

on_each_engine!(exit_42, much_output, stdin, stdin_echo, cancel, dropped, missing_mount_source);
