//! The task beside each run: it carries out what must go on whether or not
//! the consumer is polling (the caller's commands, the machine's timers)
//! and, once the consumer is gone, reads the attach stream to the run's
//! cleanup. The attach stream is read by the consumer's own poll (see
//! [`drive`](crate::drive)) until then, and each short request's task hands
//! its answer to the machine itself ([`Inbox`](crate::drive::Inbox)), so
//! neither passes through here.

use std::future::poll_fn;
use std::sync::Arc;

use tokio::sync::mpsc;

use crate::control::Control;
use crate::drive::Shared;

/// What a run outside a Tokio runtime panics with.
pub(crate) const NO_RUNTIME: &str = "cstream: starting a run needs a Tokio runtime, for the task that drives it: \
    start it from within the runtime (`#[tokio::main]`, `Runtime::block_on`, a task, or after `Runtime::enter`)";

/// Starts the task beside `shared`'s run, on `runtime`.
pub(crate) fn spawn(runtime: &tokio::runtime::Handle, shared: Arc<Shared>, control: mpsc::UnboundedReceiver<Control>) {
    runtime.spawn(run(Guard(shared), control));
}

/// Removes the container if the task is dropped before its run is done
/// (the runtime is shutting down).
struct Guard(Arc<Shared>);

impl Drop for Guard {
    fn drop(&mut self) {
        self.0.lock().abandon();
    }
}

async fn run(guard: Guard, mut control: mpsc::UnboundedReceiver<Control>) {
    let shared = &guard.0;
    let mut control_open = true;
    loop {
        let (deadline, detached, start) = {
            let mut d = shared.lock();
            if d.done {
                break;
            }
            d.task_sleeps_until = d.deadline;
            (d.deadline, d.detached, d.start())
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
            () = sleep => shared.lock().timeout(),
            () = shared.task.notified() => {}
            () = poll_fn(|cx| shared.lock().poll_read(cx)), if detached => {}
        }
        // A waiting consumer may have events, an attach to read, or the
        // end. Woken with the run unlocked, so that it does not wait on it.
        let consumer = shared.lock().consumer.take();
        if let Some(w) = consumer {
            w.wake();
        }
    }
}
