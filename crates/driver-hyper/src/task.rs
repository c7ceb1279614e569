//! The task beside each run: it carries out what must go on whether or not
//! the consumer is polling (the caller's commands, the answers to short
//! requests, the machine's timers) and, once the consumer is gone, the whole
//! run to its cleanup. The attach stream is read by the consumer's own poll
//! (see [`drive`](crate::drive)); this task reads it only after that.
//!
//! It takes answers only while fewer than
//! [`EVENT_BUFFER`](crate::drive::EVENT_BUFFER) events wait for the
//! consumer, so a slow consumer slows the engine's sockets and nothing grows
//! without bound.

use std::future::poll_fn;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::control::Control;
use crate::drive::{Drive, EVENT_BUFFER, Shared};
use crate::exchange::Arrival;

/// Answers waiting for the run's task, at most.
pub(crate) const ARRIVAL_BUFFER: usize = 4;

/// What a run outside a Tokio runtime panics with.
pub(crate) const NO_RUNTIME: &str = "cstream: starting a run needs a Tokio runtime, for the task that drives it: \
    start it from within the runtime (`#[tokio::main]`, `Runtime::block_on`, a task, or after `Runtime::enter`)";

/// Starts the task beside `shared`'s run, on `runtime`.
pub(crate) fn spawn(
    runtime: &tokio::runtime::Handle,
    shared: Arc<Shared>,
    arrivals: mpsc::Receiver<Arrival>,
    control: mpsc::UnboundedReceiver<Control>,
) {
    runtime.spawn(run(Guard(shared), arrivals, control));
}

/// Removes the container if the task is dropped before its run is done
/// (the runtime is shutting down).
struct Guard(Arc<Shared>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.lock().abandon();
    }
}

async fn run(guard: Guard, mut arrivals: mpsc::Receiver<Arrival>, mut control: mpsc::UnboundedReceiver<Control>) {
    let shared = &guard.0;
    let mut control_open = true;
    loop {
        let (deadline, room, detached, start) = {
            let d = shared.lock();
            if d.done {
                break;
            }
            (d.deadline, d.events.len() < EVENT_BUFFER, d.detached, d.start())
        };
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(start + d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            c = control.recv(), if control_open => match c {
                Some(c) => shared.lock().command(c),
                None => control_open = false,
            },
            Some(a) = arrivals.recv(), if room => shared.lock().arrive(a),
            () = sleep => shared.lock().timeout(),
            () = shared.task.notified() => {}
            () = poll_fn(|cx| shared.lock().poll_read(cx)), if detached => {}
        }
        wake_consumer(&mut shared.lock());
    }
}

/// Wakes a waiting consumer: there may be events, an attach to read, or the end.
fn wake_consumer(d: &mut Drive) {
    if let Some(w) = d.consumer.take() {
        w.wake();
    }
}
