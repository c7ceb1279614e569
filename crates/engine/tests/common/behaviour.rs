//! What heartbeats and output coalescing must do, checked the same way on a
//! container run (on each engine) and on a local process (`#[path]`-included
//! there, with `events.rs` beside it). Each run to make is a [`Case`]: the
//! command and its settings. A test makes the run its own way and hands the
//! events it produced to the check named for that case; `who` names the run
//! in a failure's message.

#![allow(dead_code)]

use std::time::Duration;

use cstream_engine::{Coalesce, Event, EventKind, Stream};

use super::events::{joined, outputs, position};

/// A run to make: the command, its heartbeat (`None`: none) and its
/// coalescing (`None`: off, each piece of output passed on by itself).
#[derive(Clone, Copy, Debug)]
pub struct Case {
    pub argv: &'static [&'static str],
    pub heartbeat: Option<Duration>,
    pub coalesce: Option<Coalesce>,
}

/// Whose clock a heartbeat's `elapsed` is read on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// The events': `elapsed` is exactly the time since ProcessStart's `at`.
    Events,
    /// The process's own, read a few microseconds apart from the events':
    /// one heartbeat more than the events' span holds is allowed.
    Process,
}

/// A process that runs 1.2 s with a 300 ms heartbeat.
pub const BEATING: Case = Case { argv: &["sleep", "1.2"], heartbeat: Some(Duration::from_millis(300)), coalesce: None };

/// For [`BEATING`]: heartbeats come between ProcessStart and ProcessEnd,
/// none after; each says how long the process has run, at least 300 ms more
/// than the one before.
pub fn heartbeats_while_the_process_runs(events: &[Event], clock: Clock, who: &str) {
    let every = BEATING.heartbeat.expect("a heartbeat");
    let start = position(events, "ProcessStart");
    let end = position(events, "ProcessEnd");
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
    assert!(beats.iter().all(|(i, _, _)| (start..end).contains(i)), "{who}: {names:?}");
    // 1.2 s at 300 ms is 3 or 4; the engine's start and wait answers, or a
    // busy host, may take some of the 1.2 s, so at least 2.
    let fit = ((ended_at - started_at).as_millis() / every.as_millis()) as usize;
    let most = fit + usize::from(clock == Clock::Process);
    assert!((2..=most).contains(&beats.len()), "{who}: {} heartbeats in {:?}", beats.len(), ended_at - started_at);
    let mut last = Duration::ZERO;
    for (_, at, elapsed) in &beats {
        if clock == Clock::Events {
            assert_eq!(*elapsed, *at - started_at, "{who}: elapsed is the time since ProcessStart");
        }
        assert!(*elapsed >= last + every, "{who}: {elapsed:?} after {last:?}");
        last = *elapsed;
    }
}

/// 50 lines, one write each, 20 ms apart: a process whose output trickles,
/// which is what coalescing is for. The pause is the process's behaviour
/// under test, not a wait for anything.
const PACED_SCRIPT: &str = "for i in $(seq 1 50); do echo $i; sleep 0.02; done";

/// 50 paced writes to stdout, not coalesced.
pub const PACED: Case = Case { argv: &["sh", "-c", PACED_SCRIPT], heartbeat: None, coalesce: None };

/// For [`PACED`]: each write is read by itself, so they are many Output
/// events (checked, or [`held_writes_come_as_one_event`] would prove nothing).
pub fn each_write_comes_by_itself(events: &[Event], who: &str) {
    let each = outputs(events);
    assert!(joined(&each, Stream::Stdout) == numbers("", 50), "{who}: byte-exact, in order");
    assert!(each.len() >= 10, "{who}: without coalescing, {} events for 50 writes", each.len());
}

/// [`PACED`], held until the end.
pub const PACED_HELD: Case = Case { coalesce: Some(held(1 << 20)), ..PACED };

/// For [`PACED_HELD`]: the 50 writes are one event, the bytes exactly as
/// written, just before ProcessEnd.
pub fn held_writes_come_as_one_event(events: &[Event], who: &str) {
    let out = outputs(events);
    assert_eq!(out.len(), 1, "{who}: 50 writes, one event");
    assert_eq!(out[0].0, Stream::Stdout, "{who}");
    assert!(out[0].1 == numbers("", 50), "{who}: {:?}", String::from_utf8_lossy(&out[0].1));
    assert_eq!(position(events, "Output") + 1, position(events, "ProcessEnd"), "{who}");
}

/// [`PACED`], held in 32-byte buffers.
pub const PACED_IN_SMALL_BUFFERS: Case = Case { coalesce: Some(held(32)), ..PACED };

/// For [`PACED_IN_SMALL_BUFFERS`]: a full buffer is passed on at once, so
/// every event but the last holds at least `max_buffer` bytes: 141 bytes in
/// 32-byte buffers are 5 events at most, and, written a few bytes at a
/// time, 2 at least.
pub fn a_full_buffer_is_passed_on(events: &[Event], who: &str) {
    let max_buffer = PACED_IN_SMALL_BUFFERS.coalesce.expect("coalesced").max_buffer;
    let out = outputs(events);
    let want = numbers("", 50);
    assert_eq!((want.len(), want.len().div_ceil(max_buffer)), (141, 5));
    assert!(joined(&out, Stream::Stdout) == want, "{who}: byte-exact, in order");
    let sizes: Vec<usize> = out.iter().map(|(_, d)| d.len()).collect();
    assert!((2..=5).contains(&out.len()), "{who}: {sizes:?}");
    assert!(sizes[..sizes.len() - 1].iter().all(|n| *n >= max_buffer), "{who}: {sizes:?}");
}

/// 30 paced writes to stdout, then 30 to stderr, held until the end.
pub const BOTH_STREAMS: Case = Case {
    argv: &[
        "sh",
        "-c",
        "for i in $(seq 1 30); do echo o$i; sleep 0.02; done; \
         for i in $(seq 1 30); do echo e$i >&2; sleep 0.02; done",
    ],
    heartbeat: None,
    coalesce: Some(held(1 << 20)),
};

/// For [`BOTH_STREAMS`]: each stream keeps its bytes and their order, and
/// since held output is passed on when the other stream writes, two Output
/// events in a row are never of the same stream (the order between the
/// streams is the engine's, or, locally, that of two pipes read apart).
pub fn both_streams_keep_their_bytes_and_order(events: &[Event], who: &str) {
    let out = outputs(events);
    assert!(joined(&out, Stream::Stdout) == numbers("o", 30), "{who}: stdout byte-exact, in order");
    assert!(joined(&out, Stream::Stderr) == numbers("e", 30), "{who}: stderr byte-exact, in order");
    let streams: Vec<Stream> = out.iter().map(|(s, _)| *s).collect();
    assert!(streams.windows(2).all(|w| w[0] != w[1]), "{who}: {streams:?}");
    // 60 writes; should a late piece of stdout come among stderr's, that is
    // one more event, but not many.
    assert!((2..=10).contains(&out.len()), "{who}: {streams:?}");
}

/// A line, a 2 s pause, a line, held for 200 ms at most.
pub const PAUSED: Case = Case {
    argv: &["sh", "-c", "echo first; sleep 2; echo second"],
    heartbeat: None,
    coalesce: Some(Coalesce { flush_interval: Duration::from_millis(200), max_buffer: 1 << 20 }),
};

/// For [`PAUSED`]: coalescing delays output by the interval, not to the end:
/// the line written before the pause comes as an event during the pause.
pub fn held_output_comes_after_the_interval_not_at_the_end(events: &[Event], who: &str) {
    let out: Vec<(Duration, &[u8])> = events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Output { data, .. } => Some((e.at, &data[..])),
            _ => None,
        })
        .collect();
    assert_eq!(out.iter().map(|(_, d)| *d).collect::<Vec<_>>(), [&b"first\n"[..], b"second\n"], "{who}");
    assert!(out[1].0 - out[0].0 >= Duration::from_secs(1), "{who}: the first line came during the pause: {out:?}");
}

/// What `for i in $(seq 1 n); do echo $prefix$i; done` writes, one write per line.
pub fn numbers(prefix: &str, n: u32) -> Vec<u8> {
    (1..=n).map(|i| format!("{prefix}{i}\n")).collect::<String>().into_bytes()
}

/// A coalescing that only a stream switch, a full buffer or the end flushes:
/// the interval is far longer than the run.
pub const fn held(max_buffer: usize) -> Coalesce {
    Coalesce { flush_interval: Duration::from_secs(600), max_buffer }
}
