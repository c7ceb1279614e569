//! Steps run by exec in a living container, on each engine: files shared
//! between steps, exit codes, stdin, a cancelled step (and only it), a
//! container that died between steps; the container removed at the end.

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use cstream_engine::{Container, EndReason, Engine, Error, EventKind, ProcessId};
use futures_util::StreamExt;

/// A container that stays up, labelled for the checks. Its init reaps the
/// steps' orphans and passes the stop signal on, so it closes at once.
async fn living(engine: &Engine, label: &str) -> Container {
    let spec = spec(&Target::DockerUnix).label("cstream.test", label).init(true).command(["sleep", "infinity"]);
    let spec = spec.build().unwrap();
    engine.start(spec).await.expect("the container starts")
}

/// The state the engine gives the container (`running`, `exited`).
async fn state_of(engine: &Engine, label: &str) -> Vec<String> {
    let listed = engine.containers_labelled(&[&format!("cstream.test={label}")]).await.unwrap();
    listed.into_iter().map(|c| c.state).collect()
}

async fn steps_share_files_and_report_their_own_exit_codes(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("exec");
    let c = living(&engine, &label).await;
    let first = drain(&mut c.exec(["sh", "-c", "printf 'one\\n' > /tmp/f; echo made; echo warn >&2"]).unwrap()).await;
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    assert_eq!((first.stdout.as_slice(), first.stderr.as_slice()), (&b"made\n"[..], &b"warn\n"[..]));
    assert_eq!(first.end().exit_code, Some(0));
    assert_eq!(first.names, ["ProcessStart", "Output", "ProcessEnd"], "a step has no container events");
    let process = first.events.iter().find_map(|e| match &e.kind {
        EventKind::ProcessStart { process: ProcessId::Exec { container, exec }, .. } => {
            Some((container.clone(), exec.clone()))
        }
        _ => None,
    });
    let (container, exec) = process.expect("ProcessStart names the exec");
    assert_eq!(container, c.id());
    assert!(!exec.is_empty());

    let second = drain(&mut c.exec(["sh", "-c", "cat /tmp/f; exit 7"]).unwrap()).await;
    assert!(second.errors.is_empty(), "{:?}", second.errors);
    assert_eq!(second.stdout, b"one\n");
    assert_eq!((second.end().exit_code, second.end().reason), (Some(7), EndReason::Exited));
    assert_eq!(state_of(&engine, &label).await, ["running"], "a failing step leaves the container running");

    let third = c.exec(["cat", "/tmp/f"]).unwrap().output().await.expect("a third step");
    assert_eq!(third.stdout, b"one\n");
    c.close().await.expect("closed cleanly");
    assert_no_containers(&engine, &label).await;
}

async fn a_step_reads_its_stdin(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("exec-stdin");
    let c = living(&engine, &label).await;
    let spec = spec(&target).stdin(true).command(["sh", "-c", "cat > /tmp/in; wc -c < /tmp/in"]).build().unwrap();
    let mut run = c.exec_spec(spec);
    let payload = vec![b'x'; 300_000];
    run.write_stdin(payload.clone()).await.expect("written");
    run.close_stdin().await.expect("closed");
    let o = drain(&mut run).await;
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "300000");
    let back = c.exec(["sh", "-c", "wc -c < /tmp/in"]).unwrap().output().await.unwrap();
    assert_eq!(String::from_utf8_lossy(&back.stdout).trim(), "300000");
    c.close().await.unwrap();
    assert_no_containers(&engine, &label).await;
}

/// A step cancelled mid-output ends with the stop signal; another step
/// running beside it and the container's own process live on.
async fn a_cancelled_step_stops_and_nothing_else_does(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("exec-cancel");
    let c = living(&engine, &label).await;
    let mut beside = c.exec(["sh", "-c", "sleep 3; echo still here"]).unwrap();
    let mut step = c.exec(TICKING).unwrap();
    until_output(&mut step).await;
    step.cancel();
    let o = tokio::time::timeout(Duration::from_secs(20), drain(&mut step)).await.expect("the step stops");
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let end = o.end();
    assert_eq!(end.reason, EndReason::Cancelled);
    assert_eq!((end.exit_code, end.signal), (Some(143), Some(15)), "{end:?}");
    let ps = "ps -o stat,comm | grep -v '^Z' | grep -c 'sleep' || true";
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = c.exec(["sh", "-c", ps]).unwrap().output().await.unwrap();
        match String::from_utf8_lossy(&left.stdout).trim() {
            // The container's sleep and the other step's.
            "2" => break,
            n => assert!(std::time::Instant::now() < deadline, "{n} sleeps still run"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let other = drain(&mut beside).await;
    assert_eq!((other.stdout.as_slice(), other.end().exit_code), (&b"still here\n"[..], Some(0)));
    assert_eq!(state_of(&engine, &label).await, ["running"]);
    c.close().await.unwrap();
    assert_no_containers(&engine, &label).await;
}

/// A step that ignores the stop signal is killed after the grace.
async fn a_step_that_ignores_the_signal_is_killed(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("exec-kill");
    let c = living(&engine, &label).await;
    let script = "trap '' TERM; echo ready; while true; do sleep 0.1; done";
    let spec = spec(&target).stop_grace(Duration::from_millis(500)).command(["sh", "-c", script]).build().unwrap();
    let mut step = c.exec_spec(spec);
    until_output(&mut step).await;
    step.cancel();
    let o = tokio::time::timeout(Duration::from_secs(20), drain(&mut step)).await.expect("the step is killed");
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!((o.end().exit_code, o.end().signal, o.end().reason), (Some(137), Some(9), EndReason::Cancelled));
    c.close().await.unwrap();
    assert_no_containers(&engine, &label).await;
}

/// The step's timeout stops it as a cancel does.
async fn a_step_times_out(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("exec-timeout");
    let c = living(&engine, &label).await;
    let spec = spec(&target).timeout(Duration::from_millis(800)).command(TICKING).build().unwrap();
    let o = drain(&mut c.exec_spec(spec)).await;
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!(o.end().reason, EndReason::TimedOut);
    assert!(o.stdout.starts_with(b"tick\n"));
    c.close().await.unwrap();
    assert_no_containers(&engine, &label).await;
}

/// The container's process dies between steps: the next step is a typed
/// error, and it never starts.
async fn a_step_in_a_dead_container_is_a_typed_error(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("exec-dead");
    let spec = spec(&target).label("cstream.test", &label).command(["sh", "-c", "sleep 1"]).build().unwrap();
    let c = engine.start(spec).await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let o = drain(&mut c.exec(["true"]).unwrap()).await;
    assert!(matches!(&o.errors[..], [Error::Run(cstream_engine::core::Error::ContainerGone { .. })]), "{:?}", o.errors);
    assert_eq!((o.end().reason, o.end().exit_code), (EndReason::StartFailed, None));
    let end = c.close().await.expect("the container's run ended cleanly");
    assert_eq!(end.code(), Some(0));
    assert_no_containers(&engine, &label).await;
}

/// A step with a terminal: its size at the start, then a resize while it
/// runs, as the step itself sees them. The step waits for a line on its
/// stdin, sent once the resize is answered, before it looks again.
async fn a_step_with_a_terminal_sees_its_size_and_a_resize(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("exec-tty");
    let c = living(&engine, &label).await;
    // Engines before API 1.42 (Docker 20.10, Podman 4) take the size only
    // by a resize just after the start: the step looks a moment later.
    let script = match target {
        Target::DockerCurrent => "stty size; read x; stty size",
        _ => "sleep 0.5; stty size; read x; stty size",
    };
    let spec = spec(&target).tty(true).stdin(true).tty_size(100, 30).command(["sh", "-c", script]).build().unwrap();
    let mut step = c.exec_spec(spec);
    let mut tty = Vec::new();
    let mut resized = false;
    while let Some(item) = step.next().await {
        match item.expect("no error").kind {
            EventKind::Output { data, .. } => {
                tty.extend_from_slice(&data);
                if !resized && String::from_utf8_lossy(&tty).contains("30 100\r\n") {
                    resized = true;
                    step.resize(120, 40).await.expect("resized");
                    step.write_stdin(&b"\n"[..]).await.expect("written");
                }
            }
            EventKind::ProcessEnd(end) => assert_eq!(end.exit_code, Some(0)),
            _ => {}
        }
    }
    // The line sent is echoed by the terminal between the two sizes.
    assert_eq!(String::from_utf8_lossy(&tty), "30 100\r\n\r\n40 120\r\n");
    c.close().await.unwrap();
    assert_no_containers(&engine, &label).await;
}

/// Twelve resizes of a step asked for at once: the step ends with the
/// newest size (one resize is on the wire at a time, the newest waiting).
async fn a_burst_of_step_resizes_leaves_the_newest_size(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("exec-burst");
    let c = living(&engine, &label).await;
    let spec = spec(&target).tty(true).stdin(true).tty_size(80, 24);
    let mut step = c.exec_spec(spec.command(["sh", "-c", AFTER_BURST]).build().unwrap());
    let burst = resize_burst(step.handle());
    let mut tty = Vec::new();
    while let Some(item) = step.next().await {
        match item.expect("no error").kind {
            EventKind::Output { data, .. } => tty.extend_from_slice(&data),
            EventKind::ProcessEnd(end) => assert_eq!(end.exit_code, Some(0)),
            _ => {}
        }
    }
    burst.await.unwrap();
    let text = String::from_utf8_lossy(&tty);
    assert!(text.ends_with(&format!("{BURST_LAST}\r\n")), "the newest size, 161x61, last: {text:?}");
    c.close().await.unwrap();
    assert_no_containers(&engine, &label).await;
}

/// A dropped container is removed, as a dropped run's is.
async fn a_dropped_container_is_removed(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("exec-drop");
    let c = living(&engine, &label).await;
    drop(c);
    wait_until_no_containers(&engine, &label, Duration::from_secs(20)).await;
}

on_each_engine!(
    steps_share_files_and_report_their_own_exit_codes,
    a_step_reads_its_stdin,
    a_cancelled_step_stops_and_nothing_else_does,
    a_step_that_ignores_the_signal_is_killed,
    a_step_times_out,
    a_step_in_a_dead_container_is_a_typed_error,
    a_step_with_a_terminal_sees_its_size_and_a_resize,
    a_burst_of_step_resizes_leaves_the_newest_size,
    a_dropped_container_is_removed,
);
