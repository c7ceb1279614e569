//! Reading a run's events in the heartbeat and coalescing tests, shared by
//! the engine's and the local process's (`#[path]`-included there, with
//! `behaviour.rs`, the checks both kinds of run are held to).

#![allow(dead_code)]

use cstream_engine::{Event, EventKind, Stream};

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

/// The exit code ProcessEnd gave, if a ProcessEnd came and gave one.
pub fn exit_code(events: &[Event]) -> Option<i32> {
    events.iter().find_map(|e| match &e.kind {
        EventKind::ProcessEnd(p) => Some(p.exit_code),
        _ => None,
    })?
}
