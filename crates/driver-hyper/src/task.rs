//! The task that drives one run: it owns the machine, drains it in the
//! contract's order, carries out its requests and hands its events to the
//! caller's [`Run`](crate::Run) through a [`RunDriver`].
//!
//! Answers come back from one task per request over a bounded channel, and
//! events go to the consumer over another, so a slow consumer slows the
//! reading of the engine's sockets and nothing between them grows without
//! bound.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::{CommandFailed, CommandId, Event, Input, Machine, Output, RequestId};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::control::{Ack, Control, ResizeAck, RunDriver};
use crate::error::Error;
use crate::exchange::{StdinOp, exchange};
use crate::known::Known;
use crate::pool::Pool;
use crate::transcript::Transcript;

/// Engine answers waiting for the machine, at most.
const INPUT_BUFFER: usize = 4;

/// What a run outside a Tokio runtime panics with.
const NO_RUNTIME: &str = "cstream: starting a run needs a Tokio runtime, for the task that drives it: \
    start it from within the runtime (`#[tokio::main]`, `Runtime::block_on`, a task, or after `Runtime::enter`)";

/// Starts the task that drives `machine` over `pool`'s connections, on the
/// current Tokio runtime.
///
/// # Panics
///
/// Outside a Tokio runtime, with [`NO_RUNTIME`]'s message.
pub(crate) fn spawn(
    driver: RunDriver,
    pool: Arc<Pool>,
    known: Arc<Known>,
    machine: Machine,
    transcript: Option<Transcript>,
) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else { panic!("{NO_RUNTIME}") };
    let task = Task {
        machine,
        pool,
        known,
        start: Instant::now(),
        events: driver.events,
        detached: false,
        requests: HashMap::new(),
        stdin: None,
        transcript,
        commands: HashMap::new(),
    };
    runtime.spawn(task.run(driver.control));
}

/// One run's driving state, owned by its task.
struct Task {
    machine: Machine,
    /// Connections for the machine's requests.
    pool: Arc<Pool>,
    /// What runs on this engine learned, to keep what this one learns.
    known: Arc<Known>,
    start: Instant,
    events: mpsc::Sender<Result<Event, Error>>,
    /// The consumer is gone: events are dropped, the run is being torn down.
    detached: bool,
    requests: HashMap<RequestId, JoinHandle<()>>,
    /// The attach's stdin writer, once sent.
    stdin: Option<(RequestId, mpsc::UnboundedSender<StdinOp>)>,
    transcript: Option<Transcript>,
    /// The caller's commands the machine took, until it acknowledges them.
    commands: HashMap<CommandId, Waiting>,
}

/// A caller waiting for the machine's acknowledgement of a command.
enum Waiting {
    Stdin(Ack),
    Resize(ResizeAck),
}

impl Task {
    fn now(&self) -> Duration {
        self.start.elapsed()
    }

    async fn run(mut self, mut control: mpsc::UnboundedReceiver<Control>) {
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
                    self.machine.handle_input(now, input);
                    self.known.learn(&self.machine);
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
                Ok(command) => {
                    self.commands.insert(command, Waiting::Resize(ack));
                }
                Err(e) => {
                    let _ = ack.send(Err(Error::Command(e)));
                }
            },
            Control::Stdin(op, ack) => {
                let result = match op {
                    Some(data) => self.machine.write_stdin(data),
                    None => self.machine.close_stdin(),
                };
                match result {
                    Ok(command) => {
                        self.commands.insert(command, Waiting::Stdin(ack));
                    }
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
                Output::Write { id, data, command } => self.stdin_op(id, command, Some(data)),
                Output::CloseWrite { id, command } => self.stdin_op(id, command, None),
                Output::Ack { command, result } => self.acknowledge(command, result),
                Output::Abort { id } => {
                    if let Some(task) = self.requests.remove(&id) {
                        task.abort();
                    }
                    if self.stdin.as_ref().is_some_and(|(s, _)| *s == id) {
                        self.stdin = None;
                    }
                }
                Output::Event(e) => self.deliver(Ok(e)).await,
                Output::Error(e) => self.deliver(Err(Error::Run(e))).await,
                Output::Pending { deadline } => return Some(deadline),
                Output::Done => return None,
            }
        }
    }

    /// Hands the machine's acknowledgement of a command to its caller.
    fn acknowledge(&mut self, command: CommandId, result: Result<(), CommandFailed>) {
        let result = result.map_err(|e| match e {
            CommandFailed::Refused(why) => Error::Command(why),
            CommandFailed::Failed(e) => Error::Run(e),
        });
        match self.commands.remove(&command) {
            Some(Waiting::Stdin(ack)) => ack.answer(result),
            Some(Waiting::Resize(ack)) => {
                let _ = ack.send(result);
            }
            None => {}
        }
    }

    /// Stdin for the attach's writer; the write reports back as an input.
    /// A writer already gone has its attach ending: the machine refuses
    /// what was not written when it gives the attach up.
    fn stdin_op(&mut self, id: RequestId, command: CommandId, op: Option<Bytes>) {
        if let Some((sid, tx)) = &self.stdin
            && *sid == id
        {
            let _ = tx.send((op, command));
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
        crate::cleanup::remove_abandoned(&mut self.machine, &self.pool);
    }
}
