//! One conformance suite, run on Docker over its Unix socket, Podman over its
//! Unix socket, and Docker over loopback TCP. Needs the engines and the test
//! image that `scripts/engines.sh` sets up; an engine that cannot be reached
//! fails the test, loudly.

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use cstream_engine::{EndReason, Error, EventKind, PullPolicy, RunSpec};

async fn stdout_and_stderr_apart_and_in_order(target: Target) {
    let script = "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done";
    let o = outcome(&target, spec(&target).command(["sh", "-c", script])).await;
    assert_eq!(o.stdout, b"out1\nout2\nout3\nout4\nout5\n");
    assert_eq!(o.stderr, b"err1\nerr2\nerr3\nerr4\nerr5\n");
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!(o.names, ["ContainerCreate", "ProcessStart", "Output", "ProcessEnd", "ContainerRemove"]);
    o.assert_exit(0);
}

async fn exit_codes_are_exact(target: Target) {
    for code in [0, 1, 42, 255] {
        let o = outcome(&target, spec(&target).command(["sh", "-c", &format!("exit {code}")])).await;
        o.assert_exit(code);
        assert_eq!(o.end().signal, None);
    }
}

async fn killed_by_a_signal(target: Target) {
    // PID 1 cannot be SIGKILLed from inside its namespace: a child is, and
    // the shell exits as the engine reports a killed process, 128 + 9.
    // (A SIGKILL from outside is in `cancel_stops_and_removes`.)
    let o = outcome(&target, spec(&target).command(["sh", "-c", "echo before; sh -c 'kill -9 $$'; exit $?"])).await;
    o.assert_exit(137);
    assert_eq!((o.end().signal, o.end().oom_killed), (Some(9), false));
    assert_eq!(o.stdout, b"before\n");
}

async fn env_working_dir_and_user(target: Target) {
    let s = spec(&target)
        .command(["sh", "-c", "echo \"$GREETING|$EMPTY|$(pwd)|$(id -u)\""])
        .env("GREETING", "hello world")
        .env("EMPTY", "")
        .working_dir("/tmp")
        .user("65534");
    let o = outcome(&target, s).await;
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello world||/tmp|65534\n");
    o.assert_exit(0);
}

async fn bind_mounts_read_write_and_read_only(target: Target) {
    let dir = TempDir::new();
    std::fs::write(dir.path().join("in"), "from the host\n").unwrap();
    let ro = TempDir::new();
    let script = "cat /data/in; echo from the container > /data/out; echo x > /ro/f; echo rc=$?";
    let s = spec(&target).command(["sh", "-c", script]).mount(dir.path_str(), "/data", false).mount(
        ro.path_str(),
        "/ro",
        true,
    );
    let o = outcome(&target, s).await;
    assert_eq!(String::from_utf8_lossy(&o.stdout), "from the host\nrc=1\n");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("Read-only file system"),
        "{:?}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(std::fs::read_to_string(dir.path().join("out")).unwrap(), "from the container\n");
    assert!(!ro.path().join("f").exists());
}

async fn sixteen_mib_byte_exact(target: Target) {
    const N: usize = 16 << 20;
    let line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let script = format!("yes {line} | head -c {N}; yes {line} | head -c 1000 >&2");
    let o = outcome(&target, spec(&target).command(["sh", "-c", &script])).await;
    let want: Vec<u8> = format!("{line}\n").into_bytes().into_iter().cycle().take(N).collect();
    assert_eq!(o.stdout.len(), N);
    assert_eq!(sha256(&o.stdout), sha256(&want), "stdout differs");
    assert_eq!(o.stderr, &want[..1000]);
    o.assert_exit(0);
}

async fn exits_at_once_and_still_delivers_everything(target: Target) {
    for _ in 0..5 {
        let o = outcome(&target, spec(&target).command(["printf", "no newline, gone at once"])).await;
        assert_eq!(o.stdout, b"no newline, gone at once");
        o.assert_exit(0);
    }
}

async fn log_driver_none_still_streams(target: Target) {
    let s = spec(&target).command(["sh", "-c", "echo streamed; echo also >&2"]).log_driver("none");
    let o = outcome(&target, s).await;
    assert_eq!((o.stdout.as_slice(), o.stderr.as_slice()), (&b"streamed\n"[..], &b"also\n"[..]));
    o.assert_exit(0);
}

async fn sixteen_runs_at_once(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("many");
    let runs = (0..16).map(|i| {
        let s = spec(&target).label("cstream.test", &label).command([
            "sh",
            "-c",
            &format!("echo run-{i}; echo e{i} >&2; exit {i}"),
        ]);
        let engine = engine.clone();
        tokio::spawn(async move { collect(&engine, s.build().unwrap()).await })
    });
    let results: Vec<Outcome> = futures_util::future::join_all(runs).await.into_iter().map(|r| r.unwrap()).collect();
    for (i, o) in results.iter().enumerate() {
        assert_eq!(String::from_utf8_lossy(&o.stdout), format!("run-{i}\n"));
        assert_eq!(String::from_utf8_lossy(&o.stderr), format!("e{i}\n"));
        o.assert_exit(i as i32);
    }
    assert_no_containers(&engine, &label).await;
}

async fn missing_image_with_pull_never(target: Target) {
    let s = RunSpec::builder("cstream-no-such-image:v0")
        .pull(PullPolicy::Never)
        .label("cstream.test", unique_label("never"));
    let o = outcome(&target, s).await;
    match &o.errors[..] {
        [Error::Run(cstream_engine::core::Error::ImageMissing { image })] => {
            assert_eq!(image, "cstream-no-such-image:v0")
        }
        other => panic!("{other:?}"),
    }
    assert!(o.names.is_empty(), "{:?}", o.names);
}

async fn missing_mount_source(target: Target) {
    let s = spec(&target).command(["true"]).mount("/nonexistent/cstream/source", "/data", false);
    let o = outcome(&target, s).await;
    let msg = match &o.errors[..] {
        [e @ Error::Run(cstream_engine::core::Error::Spec(_))] => e.to_string(),
        other => panic!("{other:?}"),
    };
    assert_eq!(msg, "invalid mount source \"/nonexistent/cstream/source\": does not exist on the engine's host");
    assert!(o.names.is_empty(), "no container was created: {:?}", o.names);
    assert!(!std::path::Path::new("/nonexistent/cstream").exists(), "nothing was created on the host");
}

async fn command_not_found_is_127(target: Target) {
    let o = outcome(&target, spec(&target).command(["/no/such/command"])).await;
    assert_eq!(o.end().reason, EndReason::StartFailed);
    assert_eq!(o.end().exit_code, Some(127));
    assert!(matches!(&o.errors[..], [Error::Run(_)]), "{:?}", o.errors);
    assert_eq!(o.names.last(), Some(&"ContainerRemove"));
}

async fn cancel_stops_and_removes(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("cancel");
    let s = spec(&target)
        .label("cstream.test", &label)
        .command(["sh", "-c", "echo ready; exec sleep 600"])
        .stop_grace(Duration::from_secs(2));
    let mut run = engine.run(s.build().unwrap());
    let mut names = Vec::new();
    let mut end = None;
    while let Some(event) = futures_util::StreamExt::next(&mut run).await {
        let event = event.expect("no errors");
        names.push(event_name(&event.kind));
        match event.kind {
            EventKind::Output { .. } => run.cancel(),
            EventKind::ProcessEnd(e) => end = Some(e),
            _ => {}
        }
    }
    let end = end.expect("a process end");
    assert_eq!(end.reason, EndReason::Cancelled);
    // sleep as PID 1 ignores SIGTERM (no handler): SIGKILL after the grace period.
    assert_eq!((end.exit_code, end.signal), (Some(137), Some(9)));
    assert_eq!(names.last(), Some(&"ContainerRemove"));
    assert_no_containers(&engine, &label).await;
}

async fn dropping_the_stream_removes_the_container(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("drop");
    let s = spec(&target).label("cstream.test", &label).command(TICKING);
    let mut run = engine.run(s.build().unwrap());
    until_output(&mut run).await;
    drop(run);
    // Nobody polls any more: the run's task removes the container by itself.
    wait_until_no_containers(&engine, &label, Duration::from_secs(20)).await;
}

async fn one_failing_run_does_not_disturb_the_others(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("mixed");
    let runs = (0..6).map(|i| {
        let cmd = if i == 3 { "/no/such/command".to_string() } else { format!("echo ok-{i}") };
        let s =
            spec(&target).label("cstream.test", &label).command(cmd.split(' ').map(String::from).collect::<Vec<_>>());
        let engine = engine.clone();
        tokio::spawn(async move { collect(&engine, s.build().unwrap()).await })
    });
    let results: Vec<Outcome> = futures_util::future::join_all(runs).await.into_iter().map(|r| r.unwrap()).collect();
    for (i, o) in results.iter().enumerate() {
        if i == 3 {
            assert_eq!((o.end().reason, o.end().exit_code), (EndReason::StartFailed, Some(127)));
        } else {
            assert_eq!(String::from_utf8_lossy(&o.stdout), format!("ok-{i}\n"));
            o.assert_exit(0);
        }
    }
    assert_no_containers(&engine, &label).await;
}

async fn a_slow_consumer_slows_the_container(target: Target) {
    // 256 MiB cannot fit in any buffer between the container and a stalled
    // consumer: while the consumer sleeps, the container must still be running.
    const N: usize = 256 << 20;
    let engine = target.engine().await;
    let label = unique_label("slow");
    let s = spec(&target)
        .label("cstream.test", &label)
        .command(["sh", "-c", &format!("head -c {N} /dev/zero")])
        .log_driver("none");
    let mut run = engine.run(s.build().unwrap());
    let mut bytes = 0usize;
    let mut stalled = false;
    let mut end = None;
    while let Some(event) = futures_util::StreamExt::next(&mut run).await {
        match event.unwrap().kind {
            EventKind::Output { data, .. } => {
                bytes += data.len();
                if !stalled {
                    stalled = true;
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    let listed = engine.containers_labelled(&[&format!("cstream.test={label}")]).await.unwrap();
                    assert_eq!(listed.len(), 1);
                    assert_eq!(listed[0].state, "running", "the container finished while nobody read its output");
                }
            }
            EventKind::ProcessEnd(e) => end = Some(e),
            _ => {}
        }
    }
    assert_eq!(bytes, N);
    assert_eq!(end.unwrap().exit_code, Some(0));
    assert_no_containers(&engine, &label).await;
}

on_every_connection!(
    stdout_and_stderr_apart_and_in_order,
    exit_codes_are_exact,
    killed_by_a_signal,
    env_working_dir_and_user,
    bind_mounts_read_write_and_read_only,
    sixteen_mib_byte_exact,
    exits_at_once_and_still_delivers_everything,
    log_driver_none_still_streams,
    sixteen_runs_at_once,
    missing_image_with_pull_never,
    missing_mount_source,
    command_not_found_is_127,
    cancel_stops_and_removes,
    dropping_the_stream_removes_the_container,
    one_failing_run_does_not_disturb_the_others,
    a_slow_consumer_slows_the_container,
);
