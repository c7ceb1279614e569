//! The task that runs one local process and reports it: the loop that waits
//! on the process, its output, the caller's commands and the timers, and
//! turns each into events.

use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::time::Duration;

use bytes::Bytes;
use cstream_driver_hyper::core::machine::coalesce::Coalescer;
use cstream_driver_hyper::driver::{Control, RunDriver};
use cstream_driver_hyper::{CommandError, EndReason, Error, Event, EventKind, ProcessEnd, ProcessId, Stream, TtySize};
use rustix::process::{Pid, Signal};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::LocalProcess;
use crate::signal::host_signal;
use crate::spawn::{Started, spawn};
use crate::stdin::{StdinOp, StdinTask, write_input};
use crate::stop::{Action, Stopping};

/// After the process exited and its group was killed, how long output may take to end.
const DRAIN: Duration = Duration::from_secs(5);

/// Runs `p` and reports it through `d`, to the end.
pub(crate) async fn drive(p: LocalProcess, d: RunDriver) {
    let Some(stop_signal) = host_signal(p.stop_signal) else {
        let why = format!("the stop signal {} cannot be sent to a local process", p.stop_signal);
        let source = std::io::Error::new(std::io::ErrorKind::Unsupported, why);
        let _ = d.events.send(Err(Error::Spawn { command: p.command.clone(), source })).await;
        let end = ProcessEnd::unstarted(None, EndReason::StartFailed);
        let _ = d.events.send(Ok(Event { at: Duration::ZERO, kind: EventKind::ProcessEnd(end) })).await;
        return;
    };
    let start = Instant::now();
    let (out_tx, out) = mpsc::channel::<(Stream, Bytes)>(4);
    let Started { child, input, tty } = match spawn(&p, &out_tx) {
        Ok(s) => s,
        Err(e) => {
            let code = match e.kind() {
                std::io::ErrorKind::NotFound => Some(127),
                std::io::ErrorKind::PermissionDenied => Some(126),
                _ => None,
            };
            let _ = d.events.send(Err(Error::Spawn { command: p.command.clone(), source: e })).await;
            let end = ProcessEnd::unstarted(code, EndReason::StartFailed);
            let _ = d.events.send(Ok(Event { at: start.elapsed(), kind: EventKind::ProcessEnd(end) })).await;
            return;
        }
    };
    drop(out_tx);
    let (stdin, stdin_task) = match input {
        Some(input) => {
            let (tx, rx) = mpsc::unbounded_channel();
            (Some(tx), Some(StdinTask(tokio::spawn(write_input(input, rx)))))
        }
        None => (None, None),
    };
    let pid = child.id().unwrap_or(0);
    let started = Instant::now();
    let mut r = Runner {
        start,
        started,
        events: d.events,
        detached: false,
        pgid: Pid::from_raw(pid as i32),
        stopping: Stopping::new(p.stop_grace),
        stop_signal,
        stdin,
        tty,
        coalescer: Coalescer::new(p.coalesce),
        heartbeat: p.heartbeat.map(|h| started + h),
        timeout: p.timeout.map(|t| start + t),
        exited: None,
        output_open: true,
    };
    r.emit(EventKind::ProcessStart { command: p.command.clone(), args: p.args.clone(), process: ProcessId::Pid(pid) })
        .await;
    if let Some(size) = p.pty {
        r.emit(EventKind::TerminalResize { size }).await;
    }
    r.watch(&p, child, out, d.control).await;
    r.finish().await;
    // Writes still waiting (on a pipe something outside the group holds) end here.
    drop(stdin_task);
}

/// The run's state while the process lives.
struct Runner {
    start: Instant,
    /// When the process started.
    started: Instant,
    events: mpsc::Sender<Result<Event, Error>>,
    /// The caller is gone: nothing more is sent.
    detached: bool,
    pgid: Option<Pid>,
    stopping: Stopping,
    /// The stop signal, as this host numbers it.
    stop_signal: Signal,
    /// Where stdin writes go; `None` once a pipe is closed.
    stdin: Option<mpsc::UnboundedSender<StdinOp>>,
    /// The terminal's master, for resizes (a copy of its descriptor, so a
    /// resize never waits behind a stdin write).
    tty: Option<OwnedFd>,
    coalescer: Coalescer,
    /// When the next heartbeat is due, while the process runs.
    heartbeat: Option<Instant>,
    /// When the run's time limit passes.
    timeout: Option<Instant>,
    /// How and when the process exited.
    exited: Option<(ExitStatus, Instant)>,
    /// Some output may still come.
    output_open: bool,
}

impl Runner {
    fn at(&self) -> Duration {
        self.start.elapsed()
    }

    async fn emit(&mut self, kind: EventKind) {
        let event = Event { at: self.at(), kind };
        if !self.detached && self.events.send(Ok(event)).await.is_err() {
            self.detached = true;
        }
    }

    fn signal(&self, sig: Signal) {
        if let Some(pgid) = self.pgid {
            let _ = rustix::process::kill_process_group(pgid, sig);
        }
    }

    fn act(&self, action: Option<Action>) {
        match action {
            Some(Action::Stop) => self.signal(self.stop_signal),
            Some(Action::Kill) => self.signal(Signal::KILL),
            None => {}
        }
    }

    /// The caller is gone: kill the group at once, and send nothing more.
    fn detach(&mut self) {
        self.detached = true;
        let kill = self.stopping.kill();
        self.act(Some(kill));
    }

    /// The earliest timer: heartbeat, coalesced output, and, while the
    /// process runs, the time limit and the kill after the stop signal; once
    /// it exited, the end of the output drain.
    fn next_deadline(&self) -> Option<Instant> {
        let mut deadlines = vec![self.heartbeat, self.coalescer.deadline().map(|d| self.start + d)];
        match self.exited {
            None => deadlines.extend([self.timeout, self.stopping.deadline()]),
            Some((_, at)) => deadlines.push(Some(at + DRAIN)),
        }
        deadlines.into_iter().flatten().min()
    }

    /// Waits on the process, its output, the caller's commands and the
    /// timers until the process exited and its output ended.
    async fn watch(
        &mut self,
        p: &LocalProcess,
        mut child: tokio::process::Child,
        mut out: mpsc::Receiver<(Stream, Bytes)>,
        mut control: mpsc::UnboundedReceiver<Control>,
    ) {
        let mut control_open = true;
        while self.exited.is_none() || self.output_open {
            let next = self.next_deadline();
            let sleep = async {
                match next {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                status = child.wait(), if self.exited.is_none() => {
                    let status = status.unwrap_or_else(|_| ExitStatus::from_raw(255 << 8));
                    self.exited = Some((status, Instant::now()));
                    self.heartbeat = None;
                    // What is left of the group goes with it, as in a container.
                    self.signal(Signal::KILL);
                }
                item = out.recv(), if self.output_open => match item {
                    Some((stream, data)) => {
                        let mut due = Vec::new();
                        self.coalescer.push(self.at(), stream, data, |s, d| due.push((s, d)));
                        self.emit_output(due).await;
                    }
                    None => self.output_open = false,
                },
                c = control.recv(), if control_open => match c {
                    Some(c) => self.command(c, p).await,
                    None => {
                        control_open = false;
                        self.detach();
                    }
                },
                () = self.events.closed(), if !self.detached => self.detach(),
                () = sleep => self.on_timer(p).await,
            }
        }
    }

    async fn on_timer(&mut self, p: &LocalProcess) {
        let now = Instant::now();
        if self.heartbeat.is_some_and(|t| t <= now) {
            self.heartbeat = p.heartbeat.map(|h| now + h);
            self.emit(EventKind::Heartbeat { elapsed: now - self.started }).await;
        }
        if self.exited.is_none() {
            if self.timeout.is_some_and(|t| t <= now) {
                // Once: a limit left in the past would wake the loop at once, every time.
                self.timeout = None;
                let action = self.stopping.timed_out(now);
                self.act(action);
            }
            let action = self.stopping.on_deadline(now);
            self.act(action);
        }
        if self.coalescer.deadline().is_some_and(|t| self.start + t <= now) {
            let mut due = Vec::new();
            self.coalescer.flush(|s, d| due.push((s, d)));
            self.emit_output(due).await;
        }
        if self.exited.is_some_and(|(_, at)| at + DRAIN <= now) {
            // Something outside the group holds the output open: stop reading.
            self.output_open = false;
        }
    }

    async fn emit_output(&mut self, due: Vec<(Stream, Bytes)>) {
        for (stream, data) in due {
            self.emit(EventKind::Output { stream, data }).await;
        }
    }

    /// What is left of the output, then how the process ended.
    async fn finish(mut self) {
        let mut due = Vec::new();
        self.coalescer.flush(|s, d| due.push((s, d)));
        self.emit_output(due).await;
        let Some((status, at)) = self.exited else { return };
        let (code, signal) = match (status.code(), status.signal()) {
            (Some(c), _) => (c, None),
            (None, Some(s)) => (128 + s, Some(s)),
            (None, None) => (255, None),
        };
        // Locally the signal is known, not read from the code: a process that
        // exited with 128+n by itself was not signalled.
        let duration = at - self.started;
        let reason = self.stopping.reason();
        let end = ProcessEnd { exit_code: Some(code), signal, oom_killed: false, duration, reason };
        self.emit(EventKind::ProcessEnd(end)).await;
    }

    async fn command(&mut self, c: Control, p: &LocalProcess) {
        let exited = self.exited.is_some();
        match c {
            Control::Cancel if !exited => {
                let action = self.stopping.request(EndReason::Cancelled, Instant::now());
                self.act(action);
            }
            Control::Cancel => {}
            Control::Stdin(op, ack) => {
                if !p.stdin {
                    return ack.refuse(CommandError::StdinNotEnabled);
                }
                if exited {
                    return ack.refuse(CommandError::Ended);
                }
                let Some(to) = self.stdin.as_ref() else { return ack.refuse(CommandError::StdinClosed) };
                // Closing a pipe closes it for good; ^D on a terminal does not.
                let closes = op.is_none() && p.pty.is_none();
                if let Err(mpsc::error::SendError((_, ack))) = to.send((op, ack)) {
                    return ack.refuse(CommandError::Ended);
                }
                if closes {
                    self.stdin = None;
                }
            }
            Control::Resize(size, ack) => {
                let result = match (&self.tty, p.pty) {
                    (Some(fd), Some(_)) if !exited => resize(fd, size)
                        .map_err(|e| Error::Spawn { command: p.command.clone(), source: std::io::Error::from(e) }),
                    (_, None) => Err(Error::Command(CommandError::NoTty)),
                    _ => Err(Error::Command(CommandError::Ended)),
                };
                if result.is_ok() {
                    self.emit(EventKind::TerminalResize { size }).await;
                }
                let _ = ack.send(result);
            }
            _ => {}
        }
    }
}

/// Sets the terminal's size.
fn resize(tty: &OwnedFd, size: TtySize) -> rustix::io::Result<()> {
    let winsize = rustix::termios::Winsize { ws_row: size.rows, ws_col: size.cols, ws_xpixel: 0, ws_ypixel: 0 };
    rustix::termios::tcsetwinsize(tty, winsize)
}
