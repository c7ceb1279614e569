//! Real containers run with the machine inside the WebAssembly module and
//! the host doing only the I/O (the blocking driver), against the same runs
//! with proto-core natively: the same events, output bytes and exit codes.
//!
//! Needs the module (`scripts/wasm.sh`) and the engines with
//! `cstream-test:latest` (`scripts/engines.sh up`): Docker 20.10 at
//! /var/run/docker.sock, Docker 26 at /run/cstream-docker-current.sock,
//! Podman at /run/podman/podman.sock. An engine that does not answer fails
//! the test.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use cstream_driver_blocking::{Core, Run, request};
use cstream_proto_core::api::{ApiVersion, requests};
use cstream_proto_core::{EndReason, Event, EventKind, Machine, ProcessEnd, Stream};
use cstream_wasm::wire::{WirePull, WireSpec, to_nanos};
use cstream_wasm_host::{WasmMachine, WasmModule};

const DOCKER: &str = "/var/run/docker.sock";
const DOCKER_CURRENT: &str = "/run/cstream-docker-current.sock";
const PODMAN: &str = "/run/podman/podman.sock";

fn engine(socket: &str) -> &str {
    match request(socket, &requests::ping()) {
        Ok((200, _)) => socket,
        other => panic!("no engine answers at {socket} ({other:?}): run `scripts/engines.sh up`"),
    }
}

fn unique() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("wasm-{}-{nanos}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn spec(label: &str, argv: &[&str]) -> WireSpec {
    WireSpec {
        run_id: label.into(),
        created_unix: std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        command: Some(argv.iter().map(|a| a.to_string()).collect()),
        labels: vec![("cstream.test".into(), label.into())],
        pull: WirePull::Never,
        heartbeat: Some(0),
        ..WireSpec::new("cstream-test:latest")
    }
}

fn left(socket: &str, label: &str) -> usize {
    let list = requests::list_labelled(ApiVersion::new(1, 41), &[&format!("cstream.test={label}")]);
    let (status, body) = request(socket, &list).expect("listing containers");
    assert_eq!(status, 200, "listing containers: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice::<Vec<serde_json::Value>>(&body).expect("a JSON list").len()
}

/// What a run showed, without what differs between two runs (ids, times).
#[derive(Debug, Default, PartialEq)]
struct Seen {
    kinds: Vec<&'static str>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    exit: Option<(Option<i32>, EndReason)>,
    errors: Vec<String>,
}

/// Runs to the end; `act` may act on the run after each event.
fn run<M: Core>(mut run: Run<M>, mut act: impl FnMut(&Event, &mut Run<M>)) -> Seen {
    let mut seen = Seen::default();
    while let Some(item) = run.next() {
        let e = match item {
            Ok(e) => e,
            Err(e) => {
                seen.errors.push(e.to_string());
                continue;
            }
        };
        act(&e, &mut run);
        if seen.kinds.last() != Some(&e.kind.name()) {
            seen.kinds.push(e.kind.name());
        }
        match e.kind {
            EventKind::Output { stream: Stream::Stderr, data } => seen.stderr.extend_from_slice(&data),
            EventKind::Output { data, .. } => seen.stdout.extend_from_slice(&data),
            EventKind::ProcessEnd(ProcessEnd { exit_code, reason, .. }) => seen.exit = Some((exit_code, reason)),
            _ => {}
        }
    }
    seen
}

/// The same spec through the module and natively, one after the other.
fn both(socket: &str, spec: &WireSpec, act: impl Fn(&Event, &mut dyn FnMut())) -> (Seen, Seen) {
    let module = WasmModule::load().unwrap_or_else(|e| panic!("{e}"));
    let wasm = WasmMachine::new(&module, spec).unwrap();
    let in_wasm = run(Run::new(socket, wasm), |e, r| act(e, &mut || r.cancel()));
    let (s, info, now) = spec.clone().build().unwrap();
    let native = run(Run::new(socket, Machine::new(s, info, now)), |e, r| act(e, &mut || r.cancel()));
    (in_wasm, native)
}

const LIFECYCLE: [&str; 5] = ["ContainerCreate", "ProcessStart", "Output", "ProcessEnd", "ContainerRemove"];

fn exit_42(socket: &str) {
    let socket = engine(socket);
    let label = unique();
    let spec = spec(&label, &["sh", "-c", "echo out; echo err >&2; seq 1 20000; exit 42"]);
    let (wasm, native) = both(socket, &spec, |_, _| {});
    assert!(wasm.errors.is_empty(), "{:?}", wasm.errors);
    assert_eq!(wasm.kinds, LIFECYCLE);
    let seq: String = (1..=20000).map(|n| format!("{n}\n")).collect();
    assert_eq!(wasm.stdout, [&b"out\n"[..], seq.as_bytes()].concat());
    assert_eq!(wasm.stderr, b"err\n");
    assert_eq!(wasm.exit, Some((Some(42), EndReason::Exited)));
    assert_eq!(wasm, native, "the module and proto-core saw different runs");
    assert_eq!(left(socket, &label), 0, "a container was left behind");
}

fn stdin(socket: &str) {
    let socket = engine(socket);
    let label = unique();
    let spec = WireSpec { stdin: true, ..spec(&label, &["sh", "-c", "wc -c; echo done >&2"]) };
    let module = WasmModule::load().unwrap_or_else(|e| panic!("{e}"));
    let mut r = Run::new(socket, WasmMachine::new(&module, &spec).unwrap());
    r.write_stdin(&b"hello, stdin\n"[..]).unwrap();
    r.close_stdin().unwrap();
    assert!(r.write_stdin(&b"late"[..]).is_err(), "stdin is closed");
    let seen = run(r, |_, _| {});
    assert!(seen.errors.is_empty(), "{:?}", seen.errors);
    assert_eq!(String::from_utf8_lossy(&seen.stdout).trim(), "13");
    assert_eq!(seen.stderr, b"done\n");
    assert_eq!(left(socket, &label), 0, "a container was left behind");
}

fn cancel(socket: &str) {
    let socket = engine(socket);
    let label = unique();
    let spec = WireSpec {
        stop_grace: Some(to_nanos(Duration::from_secs(5))),
        ..spec(&label, &["sh", "-c", "trap 'exit 7' TERM; echo up; while true; do sleep 0.1; done"])
    };
    let (wasm, native) = both(socket, &spec, |e, cancel| {
        if matches!(e.kind, EventKind::Output { .. }) {
            cancel();
        }
    });
    assert!(wasm.errors.is_empty(), "{:?}", wasm.errors);
    assert_eq!(wasm.kinds, LIFECYCLE);
    assert_eq!(wasm.exit, Some((Some(7), EndReason::Cancelled)));
    assert_eq!(wasm, native, "the module and proto-core saw different runs");
    assert_eq!(left(socket, &label), 0, "a container was left behind");
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

on_each_engine!(exit_42, stdin, cancel);
