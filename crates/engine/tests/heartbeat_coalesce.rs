//! Heartbeats and output coalescing through the hyper driver, on each engine.
//! Every other engine test turns both off (`spec()` sets no heartbeat, and
//! coalescing is off by default); here they are on. The runs and what they
//! must show are in `common/behaviour.rs`, where the local process is held
//! to the same checks: when heartbeats come and what they say, and that
//! coalesced output is the process's bytes, in order, in fewer events.

#[macro_use]
mod common;

use std::time::Duration;

use common::behaviour::{self, Case, Clock};
use common::events::exit_code;
use common::*;
use cstream_engine::Event;
use futures_util::StreamExt;

/// Every event of `case` run in a container on `target`, in order (two
/// minutes at most): no error, exit code 0, the container removed last and
/// gone from the engine.
async fn every_event(target: Target, case: Case) -> Vec<Event> {
    let engine = target.engine().await;
    let label = unique_label("beat");
    let mut spec = spec(&target).heartbeat(case.heartbeat).command(case.argv.iter().copied());
    if let Some(c) = case.coalesce {
        spec = spec.coalesce(c);
    }
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
    assert_eq!(exit_code(&events), Some(0), "{target:?}: {names:?}");
    events
}

/// The engine's heartbeats are the state machine's, on the events' clock.
async fn heartbeats_while_the_process_runs(target: Target) {
    let events = every_event(target, behaviour::BEATING).await;
    behaviour::heartbeats_while_the_process_runs(&events, Clock::Events, &format!("{target:?}"));
}

async fn coalescing_gathers_many_writes_into_one_event(target: Target) {
    let who = format!("{target:?}");
    behaviour::each_write_comes_by_itself(&every_event(target, behaviour::PACED).await, &who);
    behaviour::held_writes_come_as_one_event(&every_event(target, behaviour::PACED_HELD).await, &who);
}

async fn a_full_buffer_is_passed_on(target: Target) {
    let events = every_event(target, behaviour::PACED_IN_SMALL_BUFFERS).await;
    behaviour::a_full_buffer_is_passed_on(&events, &format!("{target:?}"));
}

async fn both_streams_keep_their_bytes_and_order(target: Target) {
    let events = every_event(target, behaviour::BOTH_STREAMS).await;
    behaviour::both_streams_keep_their_bytes_and_order(&events, &format!("{target:?}"));
}

async fn held_output_comes_after_the_interval_not_at_the_end(target: Target) {
    let events = every_event(target, behaviour::PAUSED).await;
    behaviour::held_output_comes_after_the_interval_not_at_the_end(&events, &format!("{target:?}"));
}

on_each_engine!(
    heartbeats_while_the_process_runs,
    coalescing_gathers_many_writes_into_one_event,
    a_full_buffer_is_passed_on,
    both_streams_keep_their_bytes_and_order,
    held_output_comes_after_the_interval_not_at_the_end,
);
