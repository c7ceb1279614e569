//! Cleanup that must work without an async runtime: the blocking removal of
//! a dropped run's container, run beside the others off the runtime's
//! threads, and the wait for those removals before a process exits.

use std::cell::RefCell;
use std::io::{Read, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use cstream_proto_core::Lifecycle;
use cstream_proto_core::api::Request;

use crate::connect::Connector;
use crate::pool::Pool;

/// How long the blocking removal of an abandoned run's container may take.
const ABANDONED_REMOVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Removes the container of a run whose task was dropped before the run
/// finished (its runtime is shutting down, or the task panicked), when the
/// machine says there is one to remove ([`Machine::abandon`]): over a
/// blocking connection, off the calling thread, beside the others (see
/// [`in_background`] and [`wait`]).
pub(crate) fn remove_abandoned(machine: &mut dyn Lifecycle, pool: &Arc<Pool>) {
    let Some(req) = machine.abandon() else { return };
    let id = machine.made().unwrap_or_default().to_string();
    let pool = pool.clone();
    in_background(move || match blocking_call(pool.connector(), &req, ABANDONED_REMOVE_TIMEOUT) {
        Ok(status) => tracing::debug!("removed {id} while shutting down: HTTP {status}"),
        Err(e) => tracing::warn!("could not remove {id} while shutting down: {e}; `gc` will"),
    });
}

/// Sends `req` over a blocking connection and returns the answer's status.
/// Bounded by `timeout` for the connection, the write and the read.
pub(crate) fn blocking_call(connector: &dyn Connector, req: &Request, timeout: Duration) -> std::io::Result<u16> {
    let mut io = connector.connect_blocking(timeout)?;
    let head = format!(
        "{} {} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        req.method.as_str(),
        req.path,
        req.body.len()
    );
    io.write_all(head.as_bytes())?;
    io.write_all(&req.body)?;
    io.flush()?;
    let mut answer = [0u8; 64];
    let mut n = 0;
    while n < 12 {
        match io.read(&mut answer[n..])? {
            0 => break,
            k => n += k,
        }
    }
    let status = std::str::from_utf8(&answer[..n])
        .ok()
        .and_then(|s| s.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "no HTTP status in the answer"))?;
    Ok(status)
}

/// Removals handed off by dropped runs and not done yet, and a signal for
/// each one that ends.
static PENDING: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());

fn pending() -> MutexGuard<'static, usize> {
    PENDING.0.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Counts one removal as pending from its creation to its drop, whether it
/// ran or not.
struct Pending;

impl Pending {
    fn new() -> Pending {
        *pending() += 1;
        Pending
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        *pending() -= 1;
        PENDING.1.notify_all();
    }
}

/// Waits until no removal handed off by [`in_background`] is pending, at
/// most `timeout`; `true` when none is.
pub(crate) fn wait(timeout: Duration) -> bool {
    let guard = pending();
    let (guard, _) = PENDING.1.wait_timeout_while(guard, timeout, |n| *n > 0).unwrap_or_else(PoisonError::into_inner);
    *guard == 0
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A job for the runtime's blocking pool. Dropped without having run (the
/// pool shuts down and refuses it), it runs on a thread of its own instead.
struct Handoff(Option<Job>);

impl Handoff {
    fn run(mut self) {
        if let Some(job) = self.0.take() {
            job();
        }
    }
}

impl Drop for Handoff {
    fn drop(&mut self) {
        if let Some(job) = self.0.take() {
            on_own_thread(job);
        }
    }
}

/// Runs `job` (a blocking removal) off the calling thread, beside any others,
/// and counts it as pending until it is done (see [`wait`]).
///
/// Inside a runtime, the job goes to the runtime's blocking pool, so that
/// dropping the runtime waits for it. Once that pool has shut down (a
/// current-thread runtime's tasks are dropped after `shutdown_timeout` or
/// `shutdown_background` stopped it; a multi-thread runtime's workers drop
/// theirs while its drop stops it), the job gets a thread of its own: on a
/// multi-thread runtime's worker, that worker joins it as it exits, so the
/// runtime's drop still waits for it; elsewhere it is detached, and only
/// [`wait`] waits for it.
pub(crate) fn in_background(job: impl FnOnce() + Send + 'static) {
    let pending = Pending::new();
    let job: Job = Box::new(move || {
        let _pending = pending;
        job();
    });
    let handoff = Handoff(Some(job));
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => drop(rt.spawn_blocking(move || handoff.run())),
        Err(_) => drop(handoff),
    }
}

thread_local! {
    /// Cleanup threads this thread started, joined when it exits.
    static JOIN_AT_EXIT: RefCell<JoinAtExit> = const { RefCell::new(JoinAtExit(Vec::new())) };
}

struct JoinAtExit(Vec<std::thread::JoinHandle<()>>);

impl Drop for JoinAtExit {
    fn drop(&mut self) {
        for thread in self.0.drain(..) {
            let _ = thread.join();
        }
    }
}

fn take(slot: &Mutex<Option<Job>>) -> Option<Job> {
    slot.lock().unwrap_or_else(PoisonError::into_inner).take()
}

fn on_own_thread(job: Job) {
    let slot = Arc::new(Mutex::new(Some(job)));
    let theirs = slot.clone();
    let spawned = std::thread::Builder::new().name("cstream-cleanup".into()).spawn(move || {
        if let Some(job) = take(&theirs) {
            job();
        }
    });
    match spawned {
        Ok(thread) => {
            let worker = tokio::runtime::Handle::try_current()
                .is_ok_and(|rt| rt.runtime_flavor() != tokio::runtime::RuntimeFlavor::CurrentThread);
            if worker {
                // While the thread-locals are being destroyed it stays detached.
                let _ = JOIN_AT_EXIT.try_with(|j| j.borrow_mut().0.push(thread));
            }
        }
        // No thread to be had: run it here, as a last resort.
        Err(_) => {
            if let Some(job) = take(&slot) {
                job();
            }
        }
    }
}
