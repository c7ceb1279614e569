//! Heartbeats and output coalescing through the hyper driver, on each engine.
//! Every other engine test turns both off (`spec()` sets no heartbeat, and
//! coalescing is off by default); here they are on, and what a user would
//! check is checked: when heartbeats come and what they say, and that
//! coalesced output is the process's bytes, in order, in fewer events.

#[macro_use]
mod common;

use std::time::Duration;

use common::events::*;
use common::*;
use cstream_engine::{Coalesce, Event, EventKind, Stream};
use futures_util::StreamExt;

/// Every event of a run and every error, in order (two minutes at most).
async fn every_event(target: Target, spec: cstream_engine::core::spec::RunSpecBuilder) -> Vec<Event> {
    let engine = target.engine().await;
    let label = unique_label("beat");
    let mut run = engine.run(spec.label("cstream.test", &label).build().expect("a valid spec"));
    let mut events = Vec::new();
    let all = async {
        while let Some(item) = run.next().await {
            events.push(item.unwrap_or_else(|e| panic!("{target:?}: no error expected: {e}")));
        }
    };
    tokio::time::timeout(Duration::from_secs(120), all).await.expect("the run ended within two minutes");
    assert_no_containers(&engine, &label).await;
    let names: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(names.last(), Some(&"ContainerRemove"), "{target:?}: {names:?}");
    let end = events.iter().find_map(|e| match &e.kind {
        EventKind::ProcessEnd(p) => Some(p.clone()),
        _ => None,
    });
    assert_eq!(end.and_then(|p| p.exit_code), Some(0), "{target:?}: {names:?}");
    events
}

/// A process that runs 1.2 s with a 300 ms heartbeat: heartbeats come between
/// ProcessStart and ProcessEnd, none after; each says how long the process has
/// run, at least 300 ms more than the one before, on the same clock as the events.
async fn heartbeats_while_the_process_runs(target: Target) {
    let every = Duration::from_millis(300);
    let events = every_event(target, spec(&target).heartbeat(Some(every)).command(["sleep", "1.2"])).await;
    let start = position(&events, "ProcessStart");
    let end = position(&events, "ProcessEnd");
    let (started_at, ended_at) = (events[start].at, events[end].at);
    let beats: Vec<(usize, Duration, Duration)> = events
        .iter()
        .enumerate()
        .filter_map(|(i, e)| match e.kind {
            EventKind::Heartbeat { elapsed } => Some((i, e.at, elapsed)),
            _ => None,
        })
        .collect();
    let names: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
    assert!(beats.iter().all(|(i, _, _)| (start..end).contains(i)), "{target:?}: {names:?}");
    // 1.2 s at 300 ms is 3 or 4; the engine's start and wait answers may take
    // some of the 1.2 s, so at least 2.
    let most = ((ended_at - started_at).as_millis() / every.as_millis()) as usize;
    assert!((2..=most).contains(&beats.len()), "{target:?}: {} heartbeats in {:?}", beats.len(), ended_at - started_at);
    let mut last = Duration::ZERO;
    for (_, at, elapsed) in &beats {
        assert_eq!(*elapsed, *at - started_at, "{target:?}: elapsed is the time since ProcessStart");
        assert!(*elapsed >= last + every, "{target:?}: {elapsed:?} after {last:?}");
        last = *elapsed;
    }
}

/// 50 small writes to stdout, 20 ms apart, so that the engine passes each
/// on by itself: without coalescing they are many Output events (checked, or
/// this test would prove nothing); held until the end they are one, the
/// bytes exactly as written, just before ProcessEnd.
async fn coalescing_gathers_many_writes_into_one_event(target: Target) {
    let events = every_event(target, spec(&target).command(["sh", "-c", PACED])).await;
    let each = outputs(&events);
    assert!(joined(&each, Stream::Stdout) == numbers("", 50), "{target:?}");
    assert!(each.len() >= 10, "{target:?}: without coalescing, {} events for 50 writes", each.len());
    let events = every_event(target, spec(&target).coalesce(held(1 << 20)).command(["sh", "-c", PACED])).await;
    let out = outputs(&events);
    assert_eq!(out.len(), 1, "{target:?}: 50 writes, one event");
    assert_eq!(out[0].0, Stream::Stdout);
    assert!(out[0].1 == numbers("", 50), "{target:?}: {:?}", String::from_utf8_lossy(&out[0].1));
    assert_eq!(position(&events, "Output") + 1, position(&events, "ProcessEnd"));
}

/// A full buffer is passed on at once: every event but the last holds at
/// least `max_buffer` bytes, so 141 bytes in 32-byte buffers are 5 events at
/// most, and, written a few bytes at a time, 2 at least.
async fn a_full_buffer_is_passed_on(target: Target) {
    let events = every_event(target, spec(&target).coalesce(held(32)).command(["sh", "-c", PACED])).await;
    let out = outputs(&events);
    let want = numbers("", 50);
    assert_eq!(want.len(), 141);
    assert!(joined(&out, Stream::Stdout) == want, "{target:?}: byte-exact, in order");
    let sizes: Vec<usize> = out.iter().map(|(_, d)| d.len()).collect();
    assert!((2..=5).contains(&out.len()), "{target:?}: {sizes:?}");
    assert!(sizes[..sizes.len() - 1].iter().all(|n| *n >= 32), "{target:?}: {sizes:?}");
}

/// Both streams, 30 paced writes to stdout then 30 to stderr: each stream
/// keeps its bytes and their order, and since held output is passed on when
/// the other stream writes, two Output events in a row are never of the
/// same stream (the order between the streams is the engine's).
async fn both_streams_keep_their_bytes_and_order(target: Target) {
    let script = "for i in $(seq 1 30); do echo o$i; sleep 0.02; done; \
                  for i in $(seq 1 30); do echo e$i >&2; sleep 0.02; done";
    let events = every_event(target, spec(&target).coalesce(held(1 << 20)).command(["sh", "-c", script])).await;
    let out = outputs(&events);
    assert!(joined(&out, Stream::Stdout) == numbers("o", 30), "{target:?}: stdout byte-exact, in order");
    assert!(joined(&out, Stream::Stderr) == numbers("e", 30), "{target:?}: stderr byte-exact, in order");
    let streams: Vec<Stream> = out.iter().map(|(s, _)| *s).collect();
    assert!(streams.windows(2).all(|w| w[0] != w[1]), "{target:?}: {streams:?}");
    // 60 writes; should the engine pass on a late piece of stdout among
    // stderr's, that is one more event, but not many.
    assert!((2..=10).contains(&out.len()), "{target:?}: {streams:?}");
}

/// Coalescing delays output by the interval, not to the end: a line written
/// before a 2 s pause comes as an event during the pause.
async fn held_output_comes_after_the_interval_not_at_the_end(target: Target) {
    let coalesce = Coalesce { flush_interval: Duration::from_millis(200), max_buffer: 1 << 20 };
    let script = "echo first; sleep 2; echo second";
    let events = every_event(target, spec(&target).coalesce(coalesce).command(["sh", "-c", script])).await;
    let out: Vec<(Duration, &[u8])> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Output { data, .. } => Some((e.at, &data[..])),
            _ => None,
        })
        .collect();
    assert_eq!(out.iter().map(|(_, d)| *d).collect::<Vec<_>>(), [&b"first\n"[..], b"second\n"], "{target:?}");
    assert!(out[1].0 - out[0].0 >= Duration::from_secs(1), "{target:?}: the first line came during the pause: {out:?}");
}

on_each_engine!(
    heartbeats_while_the_process_runs,
    coalescing_gathers_many_writes_into_one_event,
    a_full_buffer_is_passed_on,
    both_streams_keep_their_bytes_and_order,
    held_output_comes_after_the_interval_not_at_the_end,
);
