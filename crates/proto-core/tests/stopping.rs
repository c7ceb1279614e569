//! Cancel in every state, timeouts, the grace period, heartbeats: on a
//! virtual clock, asserting order and exact times.

mod support;

use std::time::Duration;

use cstream_proto_core::{EndReason, Error, EventKind, Machine, RunSpec, Stream};
use support::*;

fn forever() -> Process {
    Process { exits: false, frames: vec![(1, b"working\n".to_vec())], ..Process::default() }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Drives a run, cancelling when the log first matches `when`.
fn cancel_when(spec: RunSpec, engine: &mut Engine, when: &str) -> Transcript {
    let mut m = Machine::new(spec, run_info(), Duration::ZERO);
    let when = when.to_string();
    let mut hook = move |m: &mut Machine, now: Duration, t: &Transcript| {
        if t.log.iter().any(|l| l.contains(&when)) {
            m.cancel(now);
            return true;
        }
        false
    };
    drive(&mut m, engine, Some(&mut hook))
}

#[test]
fn cancel_while_running_sends_the_stop_signal_and_reports_cancelled() {
    for flavor in [Flavor::Docker, Flavor::Podman] {
        let mut engine = Engine::new(flavor, Split::Random(2)).process(forever());
        let t = cancel_when(spec(), &mut engine, "event Output");
        assert!(engine.requests.iter().any(|r| r.ends_with("/kill?signal=SIGTERM")), "{:?}", engine.requests);
        assert!(!engine.requests.iter().any(|r| r.ends_with("signal=SIGKILL")));
        let end = t.process_end().unwrap();
        assert_eq!((end.exit_code, end.signal, end.reason), (Some(143), Some(15), EndReason::Cancelled));
        assert_eq!(t.output(Stream::Stdout), b"working\n", "output before the stop is delivered");
        assert_eq!(t.names(), ["ContainerCreate", "ProcessStart", "Output", "ProcessEnd", "ContainerRemove"]);
        assert_cleaned_up(&t, &engine);
    }
}

#[test]
fn a_process_ignoring_sigterm_is_killed_after_the_grace_period() {
    let spec = RunSpec::builder("x").heartbeat(None).stop_grace(secs(7)).stop_signal("SIGUSR1").build().unwrap();
    let mut engine = Engine::new(Flavor::Docker, Split::Whole).process(Process { ignores_term: true, ..forever() });
    let mut m = Machine::new(spec, run_info(), Duration::ZERO);
    let mut cancelled_at = None;
    let mut hook = |m: &mut Machine, now: Duration, t: &Transcript| {
        if t.log.iter().any(|l| l == "event ProcessStart") {
            m.cancel(now);
            cancelled_at = Some(now);
            return true;
        }
        false
    };
    let t = drive(&mut m, &mut engine, Some(&mut hook));
    let kills: Vec<_> = engine.requests.iter().filter(|r| r.contains("/kill")).collect();
    assert_eq!(kills.len(), 2);
    assert!(kills[0].ends_with("signal=SIGUSR1") && kills[1].ends_with("signal=SIGKILL"), "{kills:?}");
    let end = t.process_end().unwrap();
    assert_eq!((end.exit_code, end.signal, end.reason), (Some(137), Some(9), EndReason::Cancelled));
    // SIGKILL went out exactly one grace period after the cancel.
    let end_at = t.events.iter().find(|e| matches!(e.kind, EventKind::ProcessEnd(_))).unwrap().at;
    assert_eq!(end_at, cancelled_at.unwrap() + secs(7));
    assert_cleaned_up(&t, &engine);
}

#[test]
fn a_second_cancel_kills_at_once() {
    let mut engine = Engine::new(Flavor::Podman, Split::Whole).process(Process { ignores_term: true, ..forever() });
    let mut m = Machine::new(spec(), run_info(), Duration::ZERO);
    let mut n = 0;
    let mut hook = |m: &mut Machine, now: Duration, t: &Transcript| {
        if t.log.iter().any(|l| l == "event Output") {
            m.cancel(now);
            n += 1;
        }
        n == 2
    };
    let t = drive(&mut m, &mut engine, Some(&mut hook));
    let end = t.events.iter().find(|e| matches!(e.kind, EventKind::ProcessEnd(_))).unwrap();
    assert_eq!(end.at, Duration::from_millis(1), "no grace period waited");
    assert_eq!(t.process_end().unwrap().exit_code, Some(137));
}

#[test]
fn cancel_before_the_container_exists() {
    for when in ["send GET /_ping", "send POST /v1.41/images/create"] {
        let mut engine = Engine::new(Flavor::Docker, Split::Whole)
            .reply(Purpose::Create, [Reply::EngineError(404, "no such image")]);
        let t = cancel_when(spec(), &mut engine, when);
        assert!(t.done);
        assert!(
            !engine.requests.iter().any(|r| r.contains("/containers/create") && !r.contains("images"))
                || when.contains("images")
        );
        let end = t.process_end().unwrap();
        assert_eq!((end.exit_code, end.reason), (None, EndReason::Cancelled));
        assert!(t.log.iter().any(|l| l.starts_with("abort")), "the open request is given up: {:?}", t.log);
        assert_cleaned_up(&t, &engine);
    }
}

#[test]
fn cancel_while_create_is_in_flight_waits_for_the_id_and_removes() {
    let mut engine = Engine::new(Flavor::Docker, Split::Bytewise);
    let t = cancel_when(spec(), &mut engine, "send POST /v1.41/containers/create");
    assert_eq!(t.names(), ["ContainerCreate", "ProcessEnd", "ContainerRemove"]);
    assert!(!engine.requests.iter().any(|r| r.contains("/attach") || r.contains("/start")));
    assert_eq!(t.process_end().unwrap().reason, EndReason::Cancelled);
    assert_cleaned_up(&t, &engine);
}

#[test]
fn cancel_while_start_is_in_flight_stops_the_started_process() {
    let mut engine = Engine::new(Flavor::Podman, Split::Whole).process(forever());
    let t = cancel_when(spec(), &mut engine, "/start");
    assert!(engine.requests.iter().any(|r| r.contains("/kill?signal=SIGTERM")));
    let end = t.process_end().unwrap();
    assert_eq!((end.exit_code, end.reason), (Some(143), EndReason::Cancelled));
    assert_cleaned_up(&t, &engine);
}

#[test]
fn cancel_after_exit_changes_nothing() {
    let mut engine = Engine::new(Flavor::Docker, Split::Whole).process(Process { exit_code: 5, ..Process::default() });
    let t = cancel_when(spec(), &mut engine, "/json");
    assert!(!engine.requests.iter().any(|r| r.contains("/kill")));
    let end = t.process_end().unwrap();
    assert_eq!((end.exit_code, end.reason), (Some(5), EndReason::Exited));
}

#[test]
fn cancel_at_every_step_always_cleans_up() {
    for flavor in [Flavor::Docker, Flavor::Podman] {
        for p in [Process::default(), forever(), Process { ignores_term: true, ..forever() }] {
            for step in 1..80 {
                let mut engine = Engine::new(flavor, Split::Random(step as u64)).process(p.clone());
                let mut m = Machine::new(spec(), run_info(), Duration::ZERO);
                let mut hook = |m: &mut Machine, now: Duration, t: &Transcript| {
                    if t.steps >= step || t.stuck {
                        m.cancel(now);
                        return true;
                    }
                    false
                };
                let t = drive(&mut m, &mut engine, Some(&mut hook));
                assert!(t.done, "{flavor:?} step {step} {p:?}: {:?}", t.log);
                assert_cleaned_up(&t, &engine);
                assert!(t.errors.is_empty(), "step {step}: {:?}", t.errors);
                let ends = t.names().iter().filter(|n| **n == "ProcessEnd").count();
                assert_eq!(ends, 1, "step {step}: {:?}", t.log);
                let after_done = t.log.iter().skip_while(|l| !l.starts_with("event ContainerRemove")).skip(1).count();
                assert_eq!(after_done, 0, "nothing after the remove: {:?}", t.log);
            }
        }
    }
}

#[test]
fn timeout_stops_the_run_and_says_so() {
    let spec = RunSpec::builder("x").timeout(secs(30)).heartbeat(None).build().unwrap();
    for flavor in [Flavor::Docker, Flavor::Podman] {
        let mut engine = Engine::new(flavor, Split::Whole).process(forever());
        let mut m = Machine::new(spec.clone(), run_info(), Duration::ZERO);
        let t = drive(&mut m, &mut engine, None);
        let end = t.process_end().unwrap();
        assert_eq!((end.exit_code, end.reason), (Some(143), EndReason::TimedOut));
        let at = t.events.iter().find(|e| matches!(e.kind, EventKind::ProcessEnd(_))).unwrap().at;
        assert_eq!(at, secs(30), "the timeout counts from the start of the run");
        assert!(t.errors.is_empty());
        assert_cleaned_up(&t, &engine);
    }
}

#[test]
fn timeout_while_pulling_gives_up_the_pull() {
    let spec = RunSpec::builder("x").timeout(secs(5)).build().unwrap();
    let mut engine = Engine::new(Flavor::Docker, Split::Whole)
        .reply(Purpose::Create, [Reply::EngineError(404, "no such image")])
        .reply(Purpose::Pull, [Reply::Silent]);
    let mut m = Machine::new(spec, run_info(), Duration::ZERO);
    let t = drive(&mut m, &mut engine, None);
    assert_eq!(t.process_end().unwrap().reason, EndReason::TimedOut);
    assert_eq!(t.now, secs(5));
    assert_cleaned_up(&t, &engine);
}

#[test]
fn heartbeats_come_at_the_interval_while_the_process_runs() {
    let spec = RunSpec::builder("x").heartbeat(Some(secs(5))).timeout(secs(17)).stop_grace(secs(2)).build().unwrap();
    let mut engine = Engine::new(Flavor::Docker, Split::Whole).process(Process { ignores_term: true, ..forever() });
    let mut m = Machine::new(spec, run_info(), Duration::ZERO);
    let t = drive(&mut m, &mut engine, None);
    let start = Duration::from_millis(1);
    let beats: Vec<(Duration, Duration)> = t
        .events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::Heartbeat { elapsed } => Some((e.at, elapsed)),
            _ => None,
        })
        .collect();
    // Every 5 s from the start, until the process is killed at 17 + 2 s.
    let want: Vec<_> = [5, 10, 15].iter().map(|s| (start + secs(*s), secs(*s))).collect();
    assert_eq!(beats, want);
    assert_eq!(t.process_end().unwrap().reason, EndReason::TimedOut);
}

#[test]
fn coalescing_gathers_output_and_keeps_stream_order() {
    let spec = RunSpec::builder("x")
        .heartbeat(None)
        .coalesce(cstream_proto_core::spec::Coalesce { flush_interval: Duration::from_millis(100), max_buffer: 10 })
        .build()
        .unwrap();
    let p = Process {
        frames: vec![
            (1, b"ab".to_vec()),
            (1, b"cd".to_vec()),
            (2, b"E".to_vec()),
            (1, b"0123456789xyz".to_vec()),
            (1, b"!".to_vec()),
        ],
        ..Process::default()
    };
    let (t, _) = run(&spec, Flavor::Docker, Split::Whole, |e| e.process(p));
    let outputs: Vec<(Stream, Vec<u8>)> = t
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Output { stream, data } => Some((*stream, data.to_vec())),
            _ => None,
        })
        .collect();
    assert_eq!(
        outputs,
        [
            (Stream::Stdout, b"abcd".to_vec()),
            (Stream::Stderr, b"E".to_vec()),
            (Stream::Stdout, b"0123456789xyz".to_vec()),
            (Stream::Stdout, b"!".to_vec()),
        ]
    );
}

#[test]
fn coalesced_output_is_flushed_when_the_interval_passes() {
    let spec = RunSpec::builder("x")
        .heartbeat(None)
        .coalesce(cstream_proto_core::spec::Coalesce {
            flush_interval: Duration::from_millis(250),
            max_buffer: 1 << 20,
        })
        .build()
        .unwrap();
    let mut engine = Engine::new(Flavor::Docker, Split::Bytewise).process(forever());
    let mut m = Machine::new(spec, run_info(), Duration::ZERO);
    let mut hook = |m: &mut Machine, now: Duration, _: &Transcript| {
        if now >= secs(1) {
            m.cancel(now);
            return true;
        }
        false
    };
    let t = drive(&mut m, &mut engine, Some(&mut hook));
    let out = t.events.iter().find(|e| matches!(e.kind, EventKind::Output { .. })).unwrap();
    assert_eq!(out.at, Duration::from_millis(251));
    assert_eq!(t.output(Stream::Stdout), b"working\n");
}

#[test]
fn commands_after_the_end_are_refused_not_panics() {
    let spec = RunSpec::builder("x").stdin(true).tty(true).build().unwrap();
    let mut engine = Engine::new(Flavor::Docker, Split::Whole);
    let mut m = Machine::new(spec, run_info(), Duration::ZERO);
    let t = drive(&mut m, &mut engine, None);
    assert!(t.done);
    assert_eq!(m.write_stdin(bytes::Bytes::from_static(b"x")), Err(cstream_proto_core::CommandError::Ended));
    assert_eq!(m.close_stdin(), Err(cstream_proto_core::CommandError::Ended));
    let size = cstream_proto_core::TtySize { cols: 1, rows: 1 };
    assert_eq!(m.resize(secs(1), size), Err(cstream_proto_core::CommandError::Ended));
    m.cancel(secs(2));
    m.handle_timeout(secs(3));
    assert_eq!(m.poll_output(), cstream_proto_core::Output::Done);
    let _ = Error::Output(cstream_proto_core::decode::FrameError::UnknownStream(9));
}

#[test]
fn an_engine_that_never_reports_the_exit_after_sigkill_is_given_up_on() {
    let spec = RunSpec::builder("x").heartbeat(None).stop_grace(secs(2)).build().unwrap();
    let mut engine = Engine::new(Flavor::Docker, Split::Whole).process(Process { unkillable: true, ..forever() });
    let mut m = Machine::new(spec, run_info(), Duration::ZERO);
    let mut hook = |m: &mut Machine, now: Duration, t: &Transcript| {
        if t.log.iter().any(|l| l == "event Output") {
            m.cancel(now);
            return true;
        }
        false
    };
    let t = drive(&mut m, &mut engine, Some(&mut hook));
    assert!(matches!(&t.errors[..], [Error::Timeout { phase: cstream_proto_core::Phase::Stop, .. }]), "{:?}", t.errors);
    // SIGTERM at 1 ms, SIGKILL 2 s later, given up one request timeout after that.
    assert_eq!(t.now, Duration::from_millis(1) + secs(2) + secs(60));
    assert_cleaned_up(&t, &engine);
}
