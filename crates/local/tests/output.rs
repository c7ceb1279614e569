//! `Run::output`, `Run::wait` and `Run::container_id` for local runs, and
//! the stop signal: one `Signal` for local and container runs, the switch
//! between them one constructor (checked on Docker 20.10, the current Docker
//! and Podman too).

use std::time::Duration;

use cstream_driver_hyper::{EndReason, Error, EventKind, PullPolicy, Run, RunSpec, Signal};
use cstream_local::LocalProcess;
use futures_util::StreamExt;

const LIMIT: Duration = Duration::from_secs(60);

async fn output(run: Run) -> Result<cstream_driver_hyper::Output, cstream_driver_hyper::RunError> {
    tokio::time::timeout(LIMIT, run.output()).await.expect("the run ends in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_has_the_exact_bytes_and_exit_code() {
    let script = r"printf 'out 1\nout 2'; printf 'err\000\377\n' >&2; exit 7";
    let out = output(LocalProcess::new("sh", ["-c", script]).heartbeat(None).run()).await.expect("no error");
    assert_eq!(out.stdout, b"out 1\nout 2");
    assert_eq!(out.stderr, b"err\0\xff\n");
    assert_eq!(out.tty, b"");
    assert_eq!((out.status.code(), out.status.signal(), out.status.reason()), (Some(7), None, EndReason::Exited));
    assert!(!out.status.success());
    assert_eq!(out.container_id, None, "a local run has no container");

    let out = output(LocalProcess::new("echo", ["hi"]).run()).await.expect("no error");
    assert!(out.status.success());
    assert_eq!(out.stdout, b"hi\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_in_a_terminal_is_in_tty() {
    let out = output(LocalProcess::new("sh", ["-c", "echo a; echo b >&2"]).pty(80, 24).run()).await.expect("no error");
    assert_eq!(out.tty, b"a\r\nb\r\n");
    assert_eq!((out.stdout.len(), out.stderr.len()), (0, 0));
    assert!(out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_returns_how_it_ended() {
    let status = LocalProcess::new("sh", ["-c", "echo ignored; kill -9 $$"]).run().wait().await.expect("no error");
    assert_eq!((status.code(), status.signal()), (Some(137), Some(9)));
    assert!(!status.success());
    assert_eq!(status.to_string(), "exit code 137 (signal 9)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_does_not_start_is_an_err_with_its_status() {
    let failed = output(LocalProcess::new("cstream-no-such-command", ["x"]).run()).await.expect_err("no such command");
    assert!(matches!(failed.errors.as_slice(), [Error::Spawn { .. }]), "{:?}", failed.errors);
    let status = failed.status.as_ref().expect("the run says how it ended");
    assert_eq!((status.code(), status.reason()), (Some(127), EndReason::StartFailed));
    assert!(failed.to_string().starts_with("cannot start cstream-no-such-command: "), "{failed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_id_is_none_for_a_local_run() {
    let mut run = LocalProcess::new("echo", ["hi"]).run();
    while let Some(item) = run.next().await {
        item.expect("no error");
        assert_eq!(run.container_id(), None);
    }
    assert_eq!(run.container_id(), None);
}

/// A real-time signal cannot be sent to a local process without unsafe code:
/// refused before anything starts, never a run that cannot be stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_signal_that_cannot_be_sent_is_refused_before_the_start() {
    let dir = std::env::temp_dir().join(format!("cstream-rt-{}", std::process::id()));
    let marker = dir.display().to_string();
    let sig: Signal = "SIGRTMIN+3".parse().unwrap();
    let run = LocalProcess::new("touch", [marker.as_str()]).stop_signal(sig).run();
    let failed = output(run).await.expect_err("refused");
    assert_eq!(failed.to_string(), "cannot start touch: the stop signal SIGRTMIN+3 cannot be sent to a local process");
    assert_eq!(failed.status.as_ref().map(|s| (s.code(), s.reason())), Some((None, EndReason::StartFailed)));
    assert!(!dir.exists(), "the process never ran");
}

/// Outside a Tokio runtime, the panic says what is missing.
#[test]
#[should_panic(expected = "cstream: starting a local run needs a Tokio runtime")]
fn a_run_outside_a_runtime_says_it_needs_one() {
    let _ = LocalProcess::new("true", Vec::<String>::new()).run();
}

/// The same `Signal` stops a local process and a container, with the same
/// result: the switch is the constructor alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_stop_signal_for_local_and_container_runs() {
    let script = "trap 'echo got USR1; exit 3' USR1; echo ready; while true; do sleep 0.1; done";
    let sig = Signal::USR1;
    let engines = [
        ("local", None),
        ("docker", Some("unix:///var/run/docker.sock")),
        ("docker-current", Some("unix:///run/cstream-docker-current.sock")),
        ("podman", Some("unix:///run/podman/podman.sock")),
    ];
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let label = format!("stop-signal-{}-{nanos}", std::process::id());
    for (name, endpoint) in engines {
        let mut engine = None;
        let mut run = match endpoint {
            None => LocalProcess::new("sh", ["-c", script]).heartbeat(None).stop_signal(sig).run(),
            Some(endpoint) => {
                let e = cstream_engine::connect(endpoint, cstream_engine::Remote::Refuse)
                    .await
                    .unwrap_or_else(|e| panic!("{name} unreachable ({e}); run scripts/engines.sh"));
                let spec = RunSpec::builder("cstream-test:latest")
                    .pull(PullPolicy::Never)
                    .heartbeat(None)
                    .command(["sh", "-c", script])
                    .label("cstream.test", &label)
                    .stop_signal(sig);
                engine.insert(e).run(spec.build().unwrap())
            }
        };
        loop {
            let event = run.next().await.expect("the run goes on").expect("no error");
            if let EventKind::Output { data, .. } = event.kind {
                assert_eq!(&data[..], b"ready\n", "{name}");
                break;
            }
        }
        run.cancel();
        let out = output(run).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.stdout, b"got USR1\n", "{name}: the trap saw the stop signal");
        assert_eq!((out.status.code(), out.status.reason()), (Some(3), EndReason::Cancelled), "{name}");
        assert_eq!(out.container_id.is_some(), endpoint.is_some(), "{name}");
        if let Some(engine) = engine {
            let left = engine.containers_labelled(&[&format!("cstream.test={label}")]).await.unwrap();
            assert!(left.is_empty(), "{name}: containers left behind: {left:?}");
        }
    }
}
