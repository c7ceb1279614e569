//! The task that drives one run: it owns the machine, drains it in the
//! contract's order, carries out its requests and hands its events to the
//! caller's [`Run`](crate::Run) through a [`RunDriver`].
//!
//! Answers come back from one task per request over a bounded channel, and
//! events go to the consumer over another, so a slow consumer slows the
//! reading of the engine's sockets and nothing between them grows without
//! bound.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::{CommandError, Event, Input, Machine, Output, RequestId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::connect::BoxFuture;
use crate::control::{Ack, Control, ResizeAck, RunDriver};
use crate::error::Error;
use crate::exchange::{StdinOp, exchange};
use crate::pool::Pool;
use crate::transcript::Transcript;

/// Engine answers waiting for the machine, at most.
const INPUT_BUFFER: usize = 4;

/// What a run outside a Tokio runtime panics with.
const NO_RUNTIME: &str = "cstream: starting a run needs a Tokio runtime, for the task that drives it: \
    start it from within the runtime (`#[tokio::main]`, `Runtime::block_on`, a task, or after `Runtime::enter`)";

/// What must hold before the machine starts (the engine's host has the CPUs
/// asked for); an error ends the run before anything is sent.
pub(crate) type Preflight = BoxFuture<'static, Result<(), Error>>;

/// Starts the task that drives `machine` over `pool`'s connections, on the
/// current Tokio runtime.
///
/// # Panics
///
/// Outside a Tokio runtime, with [`NO_RUNTIME`]'s message.
pub(crate) fn spawn(
    driver: RunDriver,
    pool: Arc<Pool>,
    machine: Machine,
    preflight: Option<Preflight>,
    transcript: Option<Transcript>,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { panic!("{NO_RUNTIME}") };
    let task = Task {
        machine,
        pool,
        start: Instant::now(),
        events: driver.events,
        detached: false,
        requests: HashMap::new(),
        stdin: None,
        acks: VecDeque::new(),
        transcript,
        resizes: HashMap::new(),
    };
    runtime.spawn(task.run(preflight, driver.control));
}

/// One run's driving state, owned by its task.
struct Task {
    machine: Machine,
    /// Connections for the machine's requests.
    pool: Arc<Pool>,
    start: Instant,
    events: mpsc::Sender<Result<Event, Error>>,
    /// The consumer is gone: events are dropped, the run is being torn down.
    detached: bool,
    requests: HashMap<RequestId, JoinHandle<()>>,
    /// The attach's stdin writer, once sent.
    stdin: Option<(RequestId, mpsc::UnboundedSender<StdinOp>)>,
    /// Acknowledgements for stdin operations, in the order the machine will output them.
    acks: VecDeque<Ack>,
    transcript: Option<Transcript>,
    /// Resizes sent for the caller, acknowledged when the engine answers.
    /// With the status of their answer, once it came.
    resizes: HashMap<RequestId, (Option<u16>, ResizeAck)>,
}

impl Task {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    async fn run(mut self, preflight: Option<Preflight>, mut control: mpsc::UnboundedReceiver<Control>) {
        if let Some(check) = preflight
            && let Err(e) = check.await
        {
            self.deliver(Err(e)).await;
            return;
        }
        let (inputs_tx, mut inputs) = mpsc::channel::<Input>(INPUT_BUFFER);
        let mut control_open = true;
        loop {
            let deadline = match self.drain(&inputs_tx).await {
                Some(deadline) => deadline,
                None => break,
            };
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(self.start + d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                Some(input) = inputs.recv() => {
                    let now = self.now();
                    if let Some(t) = &self.transcript {
                        t.input(now, &input);
                    }
                    self.resize_answered(&input);
                    self.machine.handle_input(now, input);
                }
                () = sleep => {
                    let now = self.now();
                    if let Some(t) = &self.transcript {
                        t.timeout(now);
                    }
                    self.machine.handle_timeout(now);
                }
                c = control.recv(), if control_open => match c {
                    Some(c) => self.command(c),
                    None => {
                        control_open = false;
                        self.detach();
                    }
                },
                () = self.events.closed(), if !self.detached => self.detach(),
            }
        }
        for (_, task) in self.requests.drain() {
            task.abort();
        }
    }

    /// The consumer is gone: stop the process at once and clean up.
    fn detach(&mut self) {
        if !self.detached {
            self.detached = true;
            let now = self.now();
            self.record(now, "cancel", None);
            self.machine.cancel(now);
            self.record(now, "cancel", None);
            self.machine.cancel(now);
        }
    }

    fn record(&self, now: Duration, name: &str, data: Option<&Bytes>) {
        if let Some(t) = &self.transcript {
            t.command(now, name, data);
        }
    }

    fn command(&mut self, c: Control) {
        let now = self.now();
        match &c {
            Control::Cancel => self.record(now, "cancel", None),
            Control::Stdin(Some(data), _) => self.record(now, "stdin", Some(data)),
            Control::Stdin(None, _) => self.record(now, "close_stdin", None),
            Control::Resize(..) => {}
        }
        match c {
            Control::Cancel => self.machine.cancel(now),
            Control::Resize(size, ack) => match self.machine.resize(now, size) {
                Ok(Some(id)) => {
                    self.resizes.insert(id, (None, ack));
                }
                Ok(None) => {
                    let _ = ack.send(Ok(()));
                }
                Err(e) => {
                    let _ = ack.send(Err(Error::Command(e)));
                }
            },
            Control::Stdin(op, ack) => {
                let result = match &op {
                    Some(data) => self.machine.write_stdin(data.clone()),
                    None => self.machine.close_stdin(),
                };
                match result {
                    Ok(()) => self.acks.push_back(ack),
                    Err(e) => ack.refuse(e),
                }
            }
        }
    }

    /// Acts on the machine's outputs until it is pending (its deadline) or done (`None`).
    async fn drain(&mut self, inputs: &mpsc::Sender<Input>) -> Option<Option<Duration>> {
        loop {
            let output = self.machine.poll_output();
            if let Some(t) = &self.transcript {
                t.output(&output);
            }
            match output {
                Output::Send { id, request } => {
                    let stdin = match request.kind {
                        cstream_proto_core::api::RequestKind::Upgrade => {
                            let (tx, rx) = mpsc::unbounded_channel();
                            self.stdin = Some((id, tx));
                            Some(rx)
                        }
                        _ => None,
                    };
                    let task = tokio::spawn(exchange(self.pool.clone(), id, request, inputs.clone(), stdin));
                    self.requests.insert(id, task);
                }
                Output::Write { id, data } => self.stdin_op(id, Some(data)),
                Output::CloseWrite { id } => self.stdin_op(id, None),
                Output::Abort { id } => {
                    if let Some(task) = self.requests.remove(&id) {
                        task.abort();
                    }
                    if self.stdin.as_ref().is_some_and(|(s, _)| *s == id) {
                        self.stdin = None;
                        self.acks.clear();
                    }
                }
                Output::Event(e) => self.deliver(Ok(e)).await,
                Output::Error(e) => self.deliver(Err(Error::Run(e))).await,
                Output::Pending { deadline } => return Some(deadline),
                Output::Done => return None,
            }
        }
    }

    /// Acknowledges a caller's resize once its answer is complete.
    fn resize_answered(&mut self, input: &Input) {
        match input {
            Input::Head { id, status, .. } => {
                if let Some((s, _)) = self.resizes.get_mut(id) {
                    *s = Some(*status);
                }
            }
            Input::End { id } | Input::Failed { id, .. } => {
                if let Some((status, ack)) = self.resizes.remove(id) {
                    let result = match (input, status) {
                        (Input::End { .. }, Some(200..=299)) => Ok(()),
                        (Input::Failed { message, .. }, _) => Err(Error::Run(cstream_proto_core::Error::Transport {
                            phase: cstream_proto_core::Phase::Resize,
                            message: message.clone(),
                        })),
                        (_, status) => Err(Error::Run(cstream_proto_core::Error::Engine {
                            phase: cstream_proto_core::Phase::Resize,
                            status: status.unwrap_or(0),
                            message: "the engine refused the terminal size".into(),
                        })),
                    };
                    let _ = ack.send(result);
                }
            }
            Input::Body { .. } => {}
        }
    }

    fn stdin_op(&mut self, id: RequestId, op: Option<Bytes>) {
        let ack = self.acks.pop_front();
        match &self.stdin {
            Some((sid, tx)) if *sid == id => {
                let _ = tx.send((op, ack));
            }
            _ => {
                if let Some(ack) = ack {
                    ack.refuse(CommandError::Ended);
                }
            }
        }
    }

    async fn deliver(&mut self, item: Result<Event, Error>) {
        if self.detached {
            return;
        }
        if self.events.send(item).await.is_err() {
            self.detach();
        }
    }
}

/// The task was dropped before its run finished: the runtime is shutting
/// down, or the task panicked. No async I/O is possible any more, so the
/// container is removed over a blocking connection (see
/// [`cleanup::remove_abandoned`](crate::cleanup::remove_abandoned)).
impl Drop for Task {
    fn drop(&mut self) {
        crate::cleanup::remove_abandoned(&self.machine, &self.pool);
    }
}
