//! Resuming a run whose client died, on the real engines: a client killed
//! with SIGKILL mid-output (this test binary, run again as a child process
//! that runs the spec with `Engine::run` and writes each output byte to a
//! file as it gets it), then `Engine::resume` with the bytes it had.

#[macro_use]
mod common;

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use common::*;
use cstream_engine::core::Error as CoreError;
use cstream_engine::{Engine, Error, EventKind, Listed, RunSpec, Seen, Stream};
use futures_util::StreamExt;

/// The child's settings, from the environment the parent gives it.
const CHILD: &str = "CSTREAM_RESUME_CHILD";
const LINES: usize = 150;

/// Each stream's line `i`, padded so the output is several KiB.
fn line(stream: &str, i: usize) -> String {
    format!("{stream} line {i:03} {}\n", "=".repeat(20))
}

/// Both halves of the output; a pause of `pause` seconds between them.
fn script(pause: u32) -> String {
    let half = |from: usize, to: usize| {
        format!(
            "i={from}; while [ $i -le {to} ]; do n=$(printf %03d $i); \
             echo \"stdout line $n ====================\"; echo \"stderr line $n ====================\" >&2; \
             i=$((i+1)); done"
        )
    };
    format!("{}; sleep {pause}; {}; exit 3", half(1, LINES / 2), half(LINES / 2 + 1, LINES))
}

/// Asserts `got` is `want`, byte for byte, saying where they part (not all of both).
fn assert_same(got: &[u8], want: &[u8], what: &str) {
    let at = got.iter().zip(want).position(|(a, b)| a != b).unwrap_or(got.len().min(want.len()));
    let around =
        |v: &[u8]| String::from_utf8_lossy(&v[at.saturating_sub(20).min(v.len())..(at + 20).min(v.len())]).to_string();
    assert!(
        got == want,
        "{what}: {} bytes, {} wanted, parting at byte {at}: {:?} vs {:?}",
        got.len(),
        want.len(),
        around(got),
        around(want)
    );
}

fn full(stream: &str) -> Vec<u8> {
    (1..=LINES).flat_map(|i| line(stream, i).into_bytes()).collect()
}

/// Not a test: the client the tests kill. Runs only as the child they
/// start (`--ignored --exact`), with its settings in the environment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "the child process of the resume tests; run by them"]
async fn child_client() {
    let Ok(settings) = std::env::var(CHILD) else { return };
    let mut parts = settings.splitn(5, '\n');
    let mut next = || parts.next().expect("five settings").to_string();
    let (endpoint, label, dir, driver, pause) = (next(), next(), next(), next(), next());
    let engine = cstream_engine::connect(&endpoint, cstream_engine::Remote::Refuse).await.expect("the engine");
    let mut spec = RunSpec::builder(TEST_IMAGE)
        .pull(cstream_engine::PullPolicy::Never)
        .label("cstream.test", &label)
        .command(["sh", "-c", &script(pause.parse().expect("a pause"))]);
    if !driver.is_empty() {
        spec = spec.log_driver(driver);
    }
    let mut run = engine.run(spec.build().expect("a valid spec"));
    let open = |name: &str| std::fs::File::create(Path::new(&dir).join(name)).expect("a file");
    let (mut out, mut err) = (open("stdout"), open("stderr"));
    while let Some(item) = run.next().await {
        if let Ok(EventKind::Output { stream, data }) = item.map(|e| e.kind) {
            let file = if stream == Stream::Stderr { &mut err } else { &mut out };
            file.write_all(&data).expect("written");
        }
    }
}

/// A client started as a child process.
struct Client {
    child: std::process::Child,
    dir: TempDir,
}

impl Client {
    fn start(target: Target, label: &str, driver: &str, pause: u32) -> Client {
        let dir = TempDir::new();
        let settings = format!("{}\n{label}\n{}\n{driver}\n{pause}", target.endpoint(), dir.path_str());
        let child = std::process::Command::new(std::env::current_exe().expect("this test binary"))
            .args(["child_client", "--exact", "--ignored", "--nocapture", "--test-threads=1"])
            .env(CHILD, settings)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the child client starts");
        Client { child, dir }
    }

    fn got(&self, stream: &str) -> Vec<u8> {
        std::fs::read(self.dir.path().join(stream)).unwrap_or_default()
    }

    /// Waits until the client has `bytes` of stdout, then kills it (SIGKILL).
    async fn kill_after(&mut self, bytes: usize) -> Seen {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while self.got("stdout").len() < bytes {
            assert!(tokio::time::Instant::now() < deadline, "the client got no output");
            assert!(self.child.try_wait().expect("the child").is_none(), "the client ended early");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
        Seen { stdout: self.got("stdout").len() as u64, stderr: self.got("stderr").len() as u64, tty: 0 }
    }
}

/// The run's one container, as the engine lists it.
async fn container(engine: &Engine, label: &str) -> Listed {
    let mut found = engine.containers_labelled(&[&format!("cstream.test={label}")]).await.expect("list");
    assert_eq!(found.len(), 1, "{found:?}");
    found.remove(0)
}

fn run_id(c: &Listed) -> String {
    c.labels.as_ref().and_then(|l| l.get("io.cstream.run")).expect("a run id").clone()
}

async fn wait_for_state(engine: &Engine, label: &str, state: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while container(engine, label).await.state != state {
        assert!(tokio::time::Instant::now() < deadline, "never {state}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn core_errors(o: &Outcome) -> Vec<&CoreError> {
    o.errors
        .iter()
        .map(|e| match e {
            Error::Run(core) => core,
            other => panic!("not a run's error: {other}"),
        })
        .collect()
}

/// Killed mid-output while its container runs: the rest of each stream,
/// byte for byte after what the client had, the real exit code, removed.
async fn resumes_a_running_run_after_its_client_was_killed(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("resume-running");
    let mut client = Client::start(target, &label, "", 3);
    let seen = client.kill_after(1500).await;
    let c = container(&engine, &label).await;
    assert_eq!(c.state, "running", "the container outlived its client");
    let had = (client.got("stdout"), client.got("stderr"));
    assert!(seen.stdout > 0 && (seen.stdout as usize) < full("stdout").len(), "killed mid-output: {seen:?}");
    let o = drain(&mut engine.resume(&run_id(&c), seen)).await;
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_same(&[had.0, o.stdout.clone()].concat(), &full("stdout"), "stdout, the client's then the resume's");
    assert_same(&[had.1, o.stderr.clone()].concat(), &full("stderr"), "stderr, the client's then the resume's");
    assert_eq!(o.end().exit_code, Some(3));
    assert_eq!(o.names.last(), Some(&"ContainerRemove"));
    assert_no_containers(&engine, &label).await;
}

/// A container that has exited since its client died: all of its output
/// from the start, its exit code, removed.
async fn resumes_an_exited_run_from_the_start(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("resume-exited");
    let mut client = Client::start(target, &label, "", 0);
    client.kill_after(1).await;
    wait_for_state(&engine, &label, "exited").await;
    let c = container(&engine, &label).await;
    let o = drain(&mut engine.resume(&run_id(&c), Seen::default())).await;
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_same(&o.stdout, &full("stdout"), "stdout");
    assert_same(&o.stderr, &full("stderr"), "stderr");
    assert_eq!(o.end().exit_code, Some(3));
    assert_eq!(o.names, ["Output", "ProcessEnd", "ContainerRemove"]);
    assert_no_containers(&engine, &label).await;
}

/// No container with that run id: the typed error, and nothing made.
async fn an_unknown_run_is_not_found(target: Target) {
    let engine = target.engine().await;
    let id = unique_label("no-such-run");
    let o = drain(&mut engine.resume(&id, Seen::default())).await;
    assert!(o.events.is_empty() && o.stdout.is_empty(), "{:?}", o.names);
    assert_eq!(core_errors(&o), [&CoreError::RunNotFound { run_id: id.clone() }]);
    let made = engine.containers_labelled(&[&format!("io.cstream.run={id}")]).await.expect("list");
    assert!(made.is_empty(), "{made:?}");
}

/// Log driver `none`: the output cannot be recovered, and says so; the
/// exit code is still right and the container removed.
async fn log_driver_none_loses_the_output_but_not_the_exit(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("resume-none");
    let mut client = Client::start(target, &label, "none", 3);
    let seen = client.kill_after(1500).await;
    let c = container(&engine, &label).await;
    let o = drain(&mut engine.resume(&run_id(&c), seen)).await;
    let errors = core_errors(&o);
    assert!(
        matches!(&errors[..], [CoreError::OutputUnrecoverable { log_driver, container, .. }]
            if log_driver == "none" && *container == c.id),
        "{errors:?}"
    );
    assert!(o.stdout.is_empty() && o.stderr.is_empty());
    assert_eq!(o.end().exit_code, Some(3));
    assert_eq!(o.names, ["ProcessEnd", "ContainerRemove"]);
    assert_no_containers(&engine, &label).await;
}

/// A run whose client lives (this process): refused, the container untouched.
async fn a_run_held_by_a_live_client_is_refused(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("resume-held");
    let spec = spec(&target).label("cstream.test", &label).command(TICKING).build().unwrap();
    let mut run = engine.run(spec);
    until_output(&mut run).await;
    // The first output may come before the engine lists the container as running.
    wait_for_state(&engine, &label, "running").await;
    let c = container(&engine, &label).await;
    let o = drain(&mut target.engine().await.resume(&run_id(&c), Seen::default())).await;
    let errors = core_errors(&o);
    assert!(
        matches!(&errors[..], [CoreError::RunHeld { owner, .. }] if owner.contains(&format!("pid={};", std::process::id()))),
        "{errors:?}"
    );
    assert!(o.events.is_empty());
    let after = container(&engine, &label).await;
    assert_eq!((after.id.as_str(), after.state.as_str()), (c.id.as_str(), "running"), "untouched");
    // Its own client still reads it to the end.
    run.cancel();
    let rest = drain(&mut run).await;
    assert_eq!(rest.names.last(), Some(&"ContainerRemove"), "{:?}", rest.errors);
    assert_no_containers(&engine, &label).await;
}

on_each_engine!(
    resumes_a_running_run_after_its_client_was_killed,
    resumes_an_exited_run_from_the_start,
    an_unknown_run_is_not_found,
    log_driver_none_loses_the_output_but_not_the_exit,
    a_run_held_by_a_live_client_is_refused,
);
