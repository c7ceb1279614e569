//! Reading a run's events in the heartbeat and coalescing tests, shared by
//! the engine's and the local process's (`#[path]`-included there), so both
//! kinds of run are held to the same checks.

#![allow(dead_code)]

use std::time::Duration;

use cstream_engine::{Coalesce, Event, EventKind, Stream};

pub fn position(events: &[Event], name: &str) -> usize {
    events.iter().position(|e| e.kind.name() == name).unwrap_or_else(|| panic!("no {name}"))
}

/// The Output events, as (stream, bytes).
pub fn outputs(events: &[Event]) -> Vec<(Stream, Vec<u8>)> {
    events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Output { stream, data } => Some((*stream, data.to_vec())),
            _ => None,
        })
        .collect()
}

pub fn joined(outputs: &[(Stream, Vec<u8>)], stream: Stream) -> Vec<u8> {
    outputs.iter().filter(|(s, _)| *s == stream).flat_map(|(_, d)| d.clone()).collect()
}

/// What `for i in $(seq 1 n); do echo $prefix$i; done` writes, one write per line.
pub fn numbers(prefix: &str, n: u32) -> Vec<u8> {
    (1..=n).map(|i| format!("{prefix}{i}\n")).collect::<String>().into_bytes()
}

/// 50 lines, one write each, 20 ms apart: a process whose output trickles,
/// which is what coalescing is for. The pause is the process's behaviour
/// under test, not a wait for anything.
pub const PACED: &str = "for i in $(seq 1 50); do echo $i; sleep 0.02; done";

/// A coalescing that only a stream switch, a full buffer or the end flushes:
/// the interval is far longer than the run.
pub fn held(max_buffer: usize) -> Coalesce {
    Coalesce { flush_interval: Duration::from_secs(600), max_buffer }
}
