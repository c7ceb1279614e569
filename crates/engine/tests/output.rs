//! `Run::output`, `Run::wait` and `Run::container_id` on Docker 20.10, the
//! current Docker and Podman: exact bytes, exact exit codes, the container's
//! id, and no container left. Faults a real engine cannot show (output cut
//! short, a frame no engine sends) come from the fake Docker 29: any error
//! makes the result an `Err`, even when the process exited 0.

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use cstream_engine::core::Error as CoreError;
use cstream_engine::{EndReason, Error, EventKind, ProcessId, PullPolicy, Remote, RunSpec};
use cstream_fake_engine::{FakeDocker29, Script};
use futures_util::StreamExt;

const LIMIT: Duration = Duration::from_secs(120);

/// A labelled spec on `target`'s engine, and the label.
async fn labelled(target: Target, s: cstream_engine::RunSpecBuilder) -> (cstream_engine::Engine, RunSpec, String) {
    let engine = target.engine().await;
    let label = unique_label("output");
    let spec = s.label("cstream.test", &label).build().expect("a valid spec");
    (engine, spec, label)
}

fn is_container_id(id: &str) -> bool {
    id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

async fn output_has_the_exact_bytes_and_exit_code(target: Target) {
    // Bytes that are not UTF-8, a NUL, no final newline, and a non-zero exit.
    let script = r"printf 'out 1\nout 2'; printf 'err\000\377\n' >&2; exit 7";
    let (engine, spec, label) = labelled(target, spec(&target).command(["sh", "-c", script])).await;
    let out = tokio::time::timeout(LIMIT, engine.run(spec).output()).await.expect("ends in time");
    let out = out.unwrap_or_else(|e| panic!("{target:?}: no error expected: {e} {:?}", e.errors));
    assert_eq!(out.stdout, b"out 1\nout 2");
    assert_eq!(out.stderr, b"err\0\xff\n");
    assert_eq!(out.tty, b"");
    assert_eq!(out.status.code(), Some(7));
    assert_eq!((out.status.signal(), out.status.oom_killed()), (None, false));
    assert_eq!(out.status.reason(), EndReason::Exited);
    assert!(!out.status.success(), "exit 7 is no success");
    assert_eq!(out.status.to_string(), "exit code 7");
    let id = out.container_id.expect("a container run has an id");
    assert!(is_container_id(&id), "{id}");
    assert_no_containers(&engine, &label).await;
}

async fn output_of_a_clean_run_is_a_success(target: Target) {
    let (engine, spec, label) = labelled(target, spec(&target).command(["echo", "hi"])).await;
    let out = engine.run(spec).output().await.expect("no error");
    assert!(out.status.success(), "{}", out.status);
    assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"hi\n"[..], &b""[..]));
    assert_no_containers(&engine, &label).await;
}

async fn output_with_a_terminal_is_in_tty(target: Target) {
    let (engine, spec, label) =
        labelled(target, spec(&target).tty(true).command(["sh", "-c", "echo a; echo b >&2"])).await;
    let out = engine.run(spec).output().await.expect("no error");
    assert_eq!(out.tty, b"a\r\nb\r\n", "one terminal, \\n as \\r\\n");
    assert_eq!((out.stdout.len(), out.stderr.len()), (0, 0));
    assert!(out.status.success());
    assert_no_containers(&engine, &label).await;
}

async fn wait_returns_how_it_ended(target: Target) {
    let (engine, spec, label) = labelled(target, spec(&target).command(["sh", "-c", "echo ignored; exit 42"])).await;
    let status = engine.run(spec).wait().await.expect("no error");
    assert_eq!((status.code(), status.reason()), (Some(42), EndReason::Exited));
    assert!(!status.success());
    assert_no_containers(&engine, &label).await;
}

async fn a_cancelled_run_is_no_success(target: Target) {
    // The process exits 0 on the stop signal: still not a success, it was stopped.
    let script = "trap 'echo stopped; exit 0' TERM; echo ready; while true; do sleep 0.1; done";
    let (engine, spec, label) = labelled(target, spec(&target).command(["sh", "-c", script])).await;
    let mut run = engine.run(spec);
    until_output(&mut run).await;
    run.cancel();
    let out = run.output().await.expect("no error");
    assert_eq!(out.stdout, b"stopped\n", "the rest of the output, after the one already read");
    assert_eq!((out.status.code(), out.status.reason()), (Some(0), EndReason::Cancelled));
    assert!(!out.status.success());
    assert_no_containers(&engine, &label).await;
}

async fn an_engine_error_is_an_err_with_no_status(target: Target) {
    // No such image, and never pulled: the engine refuses the create.
    let missing = RunSpec::builder("cstream-test-missing:never").pull(PullPolicy::Never).command(["true"]);
    let (engine, spec, label) = labelled(target, missing).await;
    let failed = engine.run(spec).output().await.expect_err("a missing image is no success");
    assert!(matches!(failed.errors.as_slice(), [Error::Run(CoreError::ImageMissing { .. })]), "{:?}", failed.errors);
    assert_eq!(failed.status, None, "the process never ran");
    assert_eq!(failed.container_id, None);
    assert_eq!(failed.to_string(), failed.errors[0].to_string());
    assert!(std::error::Error::source(&failed).is_some());
    assert_no_containers(&engine, &label).await;
}

async fn container_id_is_known_once_the_stream_says_so(target: Target) {
    let (engine, spec, label) = labelled(target, spec(&target).command(["echo", "hi"])).await;
    let mut run = engine.run(spec);
    assert_eq!(run.container_id(), None, "nothing is created before the stream says so");
    let mut created = None;
    let mut started = None;
    while let Some(item) = run.next().await {
        let event = item.expect("no error");
        match event.kind {
            EventKind::ContainerCreate { id, .. } => {
                assert_eq!(run.container_id(), Some(id.as_str()), "set as ContainerCreate is read");
                created = Some(id);
            }
            EventKind::ProcessStart { process: ProcessId::Container(id), .. } => started = Some(id),
            _ if created.is_none() => assert_eq!(run.container_id(), None, "{:?}", event.kind),
            _ => {}
        }
    }
    let created = created.expect("ContainerCreate");
    assert_eq!(started.as_deref(), Some(created.as_str()));
    assert_eq!(run.container_id(), Some(created.as_str()), "still known after the container is removed");
    assert_no_containers(&engine, &label).await;
}

on_each_engine!(
    output_has_the_exact_bytes_and_exit_code,
    output_of_a_clean_run_is_a_success,
    output_with_a_terminal_is_in_tty,
    wait_returns_how_it_ended,
    a_cancelled_run_is_no_success,
    an_engine_error_is_an_err_with_no_status,
    container_id_is_known_once_the_stream_says_so,
);

fn fake_spec() -> RunSpec {
    RunSpec::builder("fake:latest")
        .pull(PullPolicy::Never)
        .heartbeat(None)
        .command(["sh", "-c", "scripted"])
        .build()
        .unwrap()
}

/// A frame on stream 9 (no engine sends one) after good output: the process
/// goes on and exits 0, and the result is still an error, with what arrived.
#[tokio::test]
async fn lost_output_is_an_err_even_when_the_process_exits_0() {
    let fake = FakeDocker29::start().await;
    let engine = cstream_engine::connect(&fake.endpoint(), Remote::Refuse).await.unwrap();
    let raw = b"\x09\0\0\0\0\0\0\x03xyz".to_vec();
    fake.set_script(Script { stdout: b"before\n".to_vec(), stderr: b"warn\n".to_vec(), raw, ..Script::default() });
    let failed = tokio::time::timeout(LIMIT, engine.run(fake_spec()).output()).await.unwrap().expect_err("lost output");
    assert!(matches!(failed.errors.as_slice(), [Error::Run(CoreError::Output(_))]), "{:?}", failed.errors);
    let status = failed.status.as_ref().expect("the exit is known");
    assert_eq!((status.code(), status.reason()), (Some(0), EndReason::Exited));
    assert_eq!((failed.stdout.as_slice(), failed.stderr.as_slice()), (&b"before\n"[..], &b"warn\n"[..]));
    assert!(failed.container_id.as_deref().is_some_and(|id| !id.is_empty()));
    assert_eq!(fake.containers(), 0, "removed all the same");

    // `wait` says the same.
    fake.set_script(Script { raw: b"\x09\0\0\0\0\0\0\x03xyz".to_vec(), ..Script::default() });
    let failed = engine.run(fake_spec()).wait().await.expect_err("lost output");
    assert_eq!(failed.status.as_ref().and_then(|s| s.code()), Some(0));
    assert_eq!(failed.stdout, b"", "wait keeps no output");
}

/// A frame cut short by the end of the stream: the outcome is unknown.
#[tokio::test]
async fn output_cut_short_is_an_err() {
    let fake = FakeDocker29::start().await;
    let engine = cstream_engine::connect(&fake.endpoint(), Remote::Refuse).await.unwrap();
    let raw = b"\x01\0\0\0\0\0\0\x10cut".to_vec();
    fake.set_script(Script { stdout: b"before\n".to_vec(), raw, ..Script::default() });
    let failed = tokio::time::timeout(LIMIT, engine.run(fake_spec()).output()).await.unwrap().expect_err("cut");
    assert!(failed.errors.iter().any(|e| matches!(e, Error::Run(CoreError::Output(_)))), "{:?}", failed.errors);
    assert_eq!(failed.stdout, b"before\n", "never the cut frame's bytes");
    assert_eq!(fake.containers(), 0);
}

/// Outside a Tokio runtime, the panic says what is missing (not tokio's
/// "no reactor running" from deep inside).
#[test]
#[should_panic(expected = "cstream: starting a run needs a Tokio runtime")]
fn a_run_outside_a_runtime_says_it_needs_one() {
    let engine = cstream_engine::engine("unix:///var/run/docker.sock", Remote::Refuse).unwrap();
    let _ = engine.run(RunSpec::builder("cstream-test:latest").build().unwrap());
}

/// What a driver reports, through the driver's side of a run.
mod driven {
    use std::time::Duration;

    use cstream_engine::core::Error as CoreError;
    use cstream_engine::driver::pair;
    use cstream_engine::{EndReason, Error, Event, EventKind, Phase, ProcessEnd, Stream};

    fn event(kind: EventKind) -> Result<Event, Error> {
        Ok(Event { at: Duration::ZERO, kind })
    }

    fn exited(code: i32) -> Result<Event, Error> {
        event(EventKind::ProcessEnd(ProcessEnd::from_exit_code(code, false, Duration::ZERO, EndReason::Exited)))
    }

    fn stdout(data: &'static [u8]) -> Result<Event, Error> {
        event(EventKind::Output { stream: Stream::Stdout, data: data.into() })
    }

    /// Sends `items` and closes the driver's side, as a driver that ends does.
    async fn driven(items: Vec<Result<Event, Error>>) -> cstream_engine::Run {
        let (run, driver) = pair();
        tokio::spawn(async move {
            for item in items {
                driver.events.send(item).await.unwrap();
            }
        });
        run
    }

    #[tokio::test]
    async fn an_error_after_a_clean_exit_is_still_an_err() {
        // The container could not be removed: the process's result is known,
        // the run's is not clean.
        let removal = Error::Run(CoreError::Transport { phase: Phase::Remove, message: "connection reset".into() });
        let failed = driven(vec![stdout(b"all good\n"), exited(0), Err(removal)]).await.output().await.unwrap_err();
        assert!(failed.status.as_ref().is_some_and(|s| s.success()), "the process itself succeeded");
        assert_eq!(failed.stdout, b"all good\n");
        assert!(matches!(failed.errors.as_slice(), [Error::Run(CoreError::Transport { phase: Phase::Remove, .. })]));
    }

    #[tokio::test]
    async fn a_stream_that_ends_without_an_end_is_an_err() {
        // The driver went away (its runtime shut down) before saying how the
        // process ended: that is no success, though nobody reported an error.
        let failed = driven(vec![stdout(b"partial")]).await.output().await.unwrap_err();
        assert!(matches!(failed.errors.as_slice(), [Error::Gone]), "{:?}", failed.errors);
        assert_eq!((failed.status, failed.stdout.as_slice()), (None, &b"partial"[..]));
        let failed = driven(vec![]).await.wait().await.unwrap_err();
        assert!(matches!(failed.errors.as_slice(), [Error::Gone]), "{:?}", failed.errors);
    }

    #[tokio::test]
    async fn several_errors_are_all_kept_in_order() {
        let first = Error::Run(CoreError::Transport { phase: Phase::Output, message: "first".into() });
        let second = Error::Run(CoreError::Transport { phase: Phase::Remove, message: "second".into() });
        let failed = driven(vec![Err(first), exited(1), Err(second)]).await.output().await.unwrap_err();
        assert_eq!(failed.errors.len(), 2);
        assert!(failed.to_string().ends_with(" (and 1 more error)"), "{failed}");
        assert!(failed.to_string().contains("first"), "{failed}");
        assert_eq!(failed.status.as_ref().and_then(|s| s.code()), Some(1));
    }
}
