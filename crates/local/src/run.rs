//! The task that runs one local process and reports it.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use cstream_driver_hyper::core::machine::coalesce::Coalescer;
use cstream_driver_hyper::driver::{Ack, Control, RunDriver, refuse};
use cstream_driver_hyper::{CommandError, EndReason, Error, Event, EventKind, ProcessEnd, ProcessId, Stream, TtySize};
use rustix::process::{Pid, Signal};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::{EnvMode, LocalProcess};

/// Read size for output.
const READ_SIZE: usize = 64 * 1024;
/// After the process exited and its group was killed, how long output may take to end.
const DRAIN: Duration = Duration::from_secs(5);

/// Where stdin goes: the child's pipe, or the terminal.
enum Input {
    Pipe(tokio::process::ChildStdin),
    Pty(pty_process::OwnedWritePty),
}

struct Started {
    child: tokio::process::Child,
    input: Option<Input>,
    /// The terminal's master, for resizes (a copy of its descriptor, so a
    /// resize never waits behind a stdin write).
    tty: Option<OwnedFd>,
}

fn spawn(p: &LocalProcess, out: &mpsc::Sender<(Stream, Bytes)>) -> std::io::Result<Started> {
    match p.pty {
        None => {
            let mut cmd = tokio::process::Command::new(&p.command);
            cmd.args(&p.args)
                .stdin(if p.stdin { Stdio::piped() } else { Stdio::null() })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true);
            if p.env_mode == EnvMode::Replace {
                cmd.env_clear();
            }
            cmd.envs(p.env.iter().map(|(k, v)| (k, v)));
            if let Some(d) = &p.dir {
                cmd.current_dir(d);
            }
            let mut child = cmd.spawn()?;
            if let Some(o) = child.stdout.take() {
                tokio::spawn(read(o, Stream::Stdout, out.clone()));
            }
            if let Some(e) = child.stderr.take() {
                tokio::spawn(read(e, Stream::Stderr, out.clone()));
            }
            let input = child.stdin.take().map(Input::Pipe);
            Ok(Started { child, input, tty: None })
        }
        Some(size) => {
            let (pty, pts) = pty_process::open().map_err(std::io::Error::other)?;
            pty.resize(pty_process::Size::new(size.rows, size.cols)).map_err(std::io::Error::other)?;
            let tty = pty.as_fd().try_clone_to_owned()?;
            let mut cmd = pty_process::Command::new(&p.command).args(&p.args);
            if p.env_mode == EnvMode::Replace {
                cmd = cmd.env_clear();
            }
            cmd = cmd.envs(p.env.iter().map(|(k, v)| (k, v)));
            if let Some(d) = &p.dir {
                cmd = cmd.current_dir(d);
            }
            let child = cmd.kill_on_drop(true).spawn(pts).map_err(|e| match e {
                pty_process::Error::Io(io) => io,
                pty_process::Error::Rustix(errno) => std::io::Error::from(errno),
                other => std::io::Error::other(other.to_string()),
            })?;
            let (reader, writer) = pty.into_split();
            tokio::spawn(read(reader, Stream::Tty, out.clone()));
            Ok(Started { child, input: Some(Input::Pty(writer)), tty: Some(tty) })
        }
    }
}

/// Reads one output until end of file (for a terminal, until its last
/// holder closes it: the read then fails with EIO, which is the end too).
async fn read(mut from: impl AsyncRead + Unpin, stream: Stream, out: mpsc::Sender<(Stream, Bytes)>) {
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    loop {
        if buf.capacity() < READ_SIZE / 4 {
            buf.reserve(READ_SIZE);
        }
        match from.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if out.send((stream, buf.split().freeze())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Stdin bytes to write (`None`: end of input), each acknowledged once done.
type StdinOp = (Option<Bytes>, Ack);

/// Writes stdin, in order, in a task of its own: a child that does not read
/// its stdin yet holds up this task only, never the reading of its output
/// (which it may be waiting on before it reads).
async fn write_input(input: Input, mut ops: mpsc::UnboundedReceiver<StdinOp>) {
    let mut input = Some(input);
    while let Some((op, ack)) = ops.recv().await {
        let result = match (input.as_mut(), op) {
            (None, _) => {
                refuse(ack, CommandError::StdinClosed);
                continue;
            }
            (Some(Input::Pipe(w)), Some(data)) => w.write_all(&data).await,
            (Some(Input::Pty(w)), Some(data)) => w.write_all(&data).await,
            (Some(Input::Pipe(_)), None) => {
                input = None;
                Ok(())
            }
            // A terminal has no end of file of its own: ^D, as a user would type it.
            (Some(Input::Pty(w)), None) => w.write_all(b"\x04").await,
        };
        let _ = ack.send(result);
    }
}

/// The stdin task, stopped when the run ends (a write may wait forever on a
/// pipe that something outside the process group holds open).
struct StdinTask(tokio::task::JoinHandle<()>);

impl Drop for StdinTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The run's state while the process lives.
struct Runner {
    start: Instant,
    events: mpsc::Sender<Result<Event, Error>>,
    detached: bool,
    pgid: Option<Pid>,
    stop: Stop,
    reason: EndReason,
    /// The stop signal, as this host numbers it.
    stop_signal: Signal,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Stop {
    None,
    Signalled { kill_at: Instant },
    Killed,
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

    /// Cancel or timeout: the stop signal, then SIGKILL after the grace period;
    /// again: SIGKILL at once.
    fn stop(&mut self, reason: EndReason, p: &LocalProcess) {
        match self.stop {
            Stop::None => {
                self.reason = reason;
                if p.stop_grace.is_zero() {
                    return self.kill();
                }
                self.signal(self.stop_signal);
                self.stop = Stop::Signalled { kill_at: Instant::now() + p.stop_grace };
            }
            Stop::Signalled { .. } => self.kill(),
            Stop::Killed => {}
        }
    }

    fn kill(&mut self) {
        self.signal(Signal::KILL);
        self.stop = Stop::Killed;
    }
}

/// The host's signal for `sig`, when this process can send it: real-time
/// signals have no safe constructor, and are refused before the run starts.
fn host_signal(sig: cstream_driver_hyper::Signal) -> Option<Signal> {
    use cstream_driver_hyper::Signal as S;
    Some(match sig {
        S::HUP => Signal::HUP,
        S::INT => Signal::INT,
        S::QUIT => Signal::QUIT,
        S::ILL => Signal::ILL,
        S::TRAP => Signal::TRAP,
        S::ABRT => Signal::ABORT,
        S::BUS => Signal::BUS,
        S::FPE => Signal::FPE,
        S::KILL => Signal::KILL,
        S::USR1 => Signal::USR1,
        S::SEGV => Signal::SEGV,
        S::USR2 => Signal::USR2,
        S::PIPE => Signal::PIPE,
        S::ALRM => Signal::ALARM,
        S::TERM => Signal::TERM,
        S::CHLD => Signal::CHILD,
        S::CONT => Signal::CONT,
        S::STOP => Signal::STOP,
        S::TSTP => Signal::TSTP,
        S::TTIN => Signal::TTIN,
        S::TTOU => Signal::TTOU,
        S::URG => Signal::URG,
        S::XCPU => Signal::XCPU,
        S::XFSZ => Signal::XFSZ,
        S::VTALRM => Signal::VTALARM,
        S::PROF => Signal::PROF,
        S::WINCH => Signal::WINCH,
        S::IO => Signal::IO,
        #[cfg(target_os = "linux")]
        S::PWR => Signal::POWER,
        S::SYS => Signal::SYS,
        _ => return None,
    })
}

pub(crate) async fn drive(p: LocalProcess, mut d: RunDriver) {
    let (out_tx, mut out) = mpsc::channel::<(Stream, Bytes)>(4);
    let Some(stop_signal) = host_signal(p.stop_signal) else {
        let why = format!("the stop signal {} cannot be sent to a local process", p.stop_signal);
        let source = std::io::Error::new(std::io::ErrorKind::Unsupported, why);
        let _ = d.events.send(Err(Error::Spawn { command: p.command.clone(), source })).await;
        let end = ProcessEnd::unstarted(None, EndReason::StartFailed);
        let _ = d.events.send(Ok(Event { at: Duration::ZERO, kind: EventKind::ProcessEnd(end) })).await;
        return;
    };
    let mut r = Runner {
        start: Instant::now(),
        events: d.events.clone(),
        detached: false,
        pgid: None,
        stop: Stop::None,
        reason: EndReason::Exited,
        stop_signal,
    };
    let Started { mut child, input, tty } = match spawn(&p, &out_tx) {
        Ok(s) => s,
        Err(e) => {
            let code = match e.kind() {
                std::io::ErrorKind::NotFound => Some(127),
                std::io::ErrorKind::PermissionDenied => Some(126),
                _ => None,
            };
            let _ = d.events.send(Err(Error::Spawn { command: p.command.clone(), source: e })).await;
            r.emit(EventKind::ProcessEnd(ProcessEnd::unstarted(code, EndReason::StartFailed))).await;
            return;
        }
    };
    drop(out_tx);
    let (mut stdin, _stdin_task) = match input {
        Some(input) => {
            let (tx, rx) = mpsc::unbounded_channel();
            (Some(tx), Some(StdinTask(tokio::spawn(write_input(input, rx)))))
        }
        None => (None, None),
    };
    let pid = child.id().unwrap_or(0);
    r.pgid = Pid::from_raw(pid as i32);
    let started = Instant::now();
    let process = ProcessId::Pid(pid);
    r.emit(EventKind::ProcessStart { command: p.command.clone(), args: p.args.clone(), process }).await;
    if let Some(size) = p.pty {
        r.emit(EventKind::TerminalResize { size }).await;
    }
    let mut coalescer = Coalescer::new(p.coalesce);
    let mut heartbeat = p.heartbeat.map(|h| started + h);
    let timeout = p.timeout.map(|t| r.start + t);
    let mut exited: Option<(ExitStatus, Instant)> = None;
    let mut output_open = true;
    let mut control_open = true;
    loop {
        if exited.is_some() && !output_open {
            break;
        }
        let mut deadlines = vec![heartbeat, coalescer.deadline().map(|d| r.start + d)];
        if exited.is_none() {
            deadlines.push(timeout);
            if let Stop::Signalled { kill_at } = r.stop {
                deadlines.push(Some(kill_at));
            }
        }
        if let Some((_, at)) = exited {
            deadlines.push(Some(at + DRAIN));
        }
        let next = deadlines.into_iter().flatten().min();
        let sleep = async {
            match next {
                Some(t) => tokio::time::sleep_until(t).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            status = child.wait(), if exited.is_none() => {
                let status = status.unwrap_or_else(|_| ExitStatus::from_raw(255 << 8));
                exited = Some((status, Instant::now()));
                heartbeat = None;
                // What is left of the group goes with it, as in a container.
                r.signal(Signal::KILL);
            }
            item = out.recv(), if output_open => match item {
                Some((stream, data)) => {
                    let mut due = Vec::new();
                    coalescer.push(r.at(), stream, data, |s, d| due.push((s, d)));
                    for (stream, data) in due {
                        r.emit(EventKind::Output { stream, data }).await;
                    }
                }
                None => output_open = false,
            },
            c = d.control.recv(), if control_open => match c {
                None => {
                    control_open = false;
                    r.detached = true;
                    r.kill();
                }
                Some(c) => command(c, &mut r, &p, &mut stdin, tty.as_ref(), exited.is_some()).await,
            },
            () = r.events.closed(), if !r.detached => {
                r.detached = true;
                r.kill();
            }
            () = sleep => {
                let now = Instant::now();
                if heartbeat.is_some_and(|t| t <= now) {
                    heartbeat = p.heartbeat.map(|h| now + h);
                    r.emit(EventKind::Heartbeat { elapsed: now - started }).await;
                }
                if exited.is_none() && timeout.is_some_and(|t| t <= now) && r.stop == Stop::None {
                    r.stop(EndReason::TimedOut, &p);
                }
                if let Stop::Signalled { kill_at } = r.stop {
                    if kill_at <= now && exited.is_none() {
                        r.kill();
                    }
                }
                if coalescer.deadline().is_some_and(|t| r.start + t <= now) {
                    let mut due = Vec::new();
                    coalescer.flush(|s, d| due.push((s, d)));
                    for (stream, data) in due {
                        r.emit(EventKind::Output { stream, data }).await;
                    }
                }
                if exited.is_some_and(|(_, at)| at + DRAIN <= now) {
                    // Something outside the group holds the output open: stop reading.
                    output_open = false;
                }
            }
        }
    }
    let mut due = Vec::new();
    coalescer.flush(|s, d| due.push((s, d)));
    for (stream, data) in due {
        r.emit(EventKind::Output { stream, data }).await;
    }
    let Some((status, at)) = exited else { return };
    let (code, signal) = match (status.code(), status.signal()) {
        (Some(c), _) => (c, None),
        (None, Some(s)) => (128 + s, Some(s)),
        (None, None) => (255, None),
    };
    let reason = if r.stop == Stop::None { EndReason::Exited } else { r.reason };
    // Locally the signal is known, not read from the code: a process that
    // exited with 128+n by itself was not signalled.
    let end = ProcessEnd { exit_code: Some(code), signal, oom_killed: false, duration: at - started, reason };
    r.emit(EventKind::ProcessEnd(end)).await;
}

async fn command(
    c: Control,
    r: &mut Runner,
    p: &LocalProcess,
    stdin: &mut Option<mpsc::UnboundedSender<StdinOp>>,
    tty: Option<&OwnedFd>,
    exited: bool,
) {
    match c {
        Control::Cancel if !exited => r.stop(EndReason::Cancelled, p),
        Control::Cancel => {}
        Control::Stdin(op, ack) => {
            if !p.stdin {
                return refuse(ack, CommandError::StdinNotEnabled);
            }
            if exited {
                return refuse(ack, CommandError::Ended);
            }
            let Some(to) = stdin.as_ref() else { return refuse(ack, CommandError::StdinClosed) };
            // Closing a pipe closes it for good; ^D on a terminal does not.
            let closes = op.is_none() && p.pty.is_none();
            if let Err(mpsc::error::SendError((_, ack))) = to.send((op, ack)) {
                return refuse(ack, CommandError::Ended);
            }
            if closes {
                *stdin = None;
            }
        }
        Control::Resize(size, ack) => {
            let result = match (tty, p.pty) {
                (Some(fd), Some(_)) if !exited => resize(fd, size)
                    .map_err(|e| Error::Spawn { command: p.command.clone(), source: std::io::Error::from(e) }),
                (_, None) => Err(Error::Command(CommandError::NoTty)),
                _ => Err(Error::Command(CommandError::Ended)),
            };
            if result.is_ok() {
                r.emit(EventKind::TerminalResize { size }).await;
            }
            let _ = ack.send(result);
        }
        _ => {}
    }
}

/// Sets the terminal's size.
fn resize(tty: &OwnedFd, size: TtySize) -> rustix::io::Result<()> {
    let winsize = rustix::termios::Winsize { ws_row: size.rows, ws_col: size.cols, ws_xpixel: 0, ws_ypixel: 0 };
    rustix::termios::tcsetwinsize(tty, winsize)
}
