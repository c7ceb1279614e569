//! The stop signal as the engines take it: a `Signal` is sent by the name
//! they know (`SIGINT`, `SIGRTMIN+3`), and reaches the process on cancel,
//! on Docker 20.10, the current Docker and Podman.

#[macro_use]
mod common;

use common::*;
use cstream_engine::{EndReason, Signal};

/// Cancels a process that traps `number` once it is ready; what it printed.
async fn stopped_with(target: Target, signal: Signal, number: u8) {
    let script = format!("trap 'echo got {number}; exit 3' {number}; echo ready; while true; do sleep 0.1; done");
    let engine = target.engine().await;
    let label = unique_label("stop-signal");
    let spec = spec(&target).command(["sh", "-c", &script]).stop_signal(signal).label("cstream.test", &label);
    let mut run = engine.run(spec.build().unwrap());
    until_output(&mut run).await;
    run.cancel();
    let out = run.output().await.unwrap_or_else(|e| panic!("{target:?} {signal}: {e}"));
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("got {number}\n"), "{target:?} {signal}");
    assert_eq!((out.status.code(), out.status.reason()), (Some(3), EndReason::Cancelled));
    assert_no_containers(&engine, &label).await;
}

async fn a_named_signal_reaches_the_process(target: Target) {
    stopped_with(target, Signal::INT, 2).await;
}

async fn a_real_time_signal_reaches_the_process(target: Target) {
    let sig: Signal = "rtmin+3".parse().unwrap();
    assert_eq!(sig.to_string(), "SIGRTMIN+3");
    stopped_with(target, sig, 37).await;
}

on_each_engine!(a_named_signal_reaches_the_process, a_real_time_signal_reaches_the_process);
