//! The events a run reports, shared by container and local-process runs.
//!
//! Every event carries `at`, the offset on the caller's clock at which the
//! core produced it (the `now` the caller passed in). Events are plain data:
//! they serialize with serde, so they can be recorded (postcard), printed
//! (JSON) and replayed.

use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// One thing that happened in a run, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// The caller's clock when the event was produced.
    pub at: Duration,
    #[allow(missing_docs)]
    pub kind: EventKind,
}

/// What happened. New kinds may be added: match with a wildcard arm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventKind {
    /// The engine began pulling an image.
    ImagePullStart {
        /// The spec's image as [`ImageRef`](crate::spec::ImageRef) shows it:
        /// `alpine` becomes `alpine:latest`.
        image: String,
    },
    /// Progress of an image pull, rate-limited per layer.
    ImagePullProgress(PullProgress),
    /// The pull finished successfully.
    ImagePullComplete {
        /// As in `ImagePullStart`.
        image: String,
        /// The content digest the engine reported, when it did.
        digest: Option<String>,
        /// From sending the pull to the end of its answer, on the caller's clock.
        duration: Duration,
    },
    /// The container exists (it has not started yet).
    ContainerCreate {
        /// The id from the create's answer; `ProcessStart` and
        /// `ContainerRemove` carry the same one.
        id: String,
        /// The spec's image, as in `ImagePullStart`.
        image: String,
    },
    /// The process is running.
    ProcessStart {
        /// The command (first word of the command line), or empty when the
        /// image's default command runs.
        command: String,
        /// The remaining words of the command line.
        args: Vec<String>,
        /// Which process: a container id, a local pid, or a swarm task.
        process: ProcessId,
    },
    /// Bytes the process wrote.
    Output {
        /// `Stdout` or `Stderr` as the engine's frame header says; `Tty` for
        /// all output of a run with a terminal, where the two are one.
        stream: Stream,
        /// The bytes, exactly as written, in pieces that need not end at a
        /// line or a UTF-8 character: join them before reading text.
        data: Bytes,
    },
    /// The process is still running; sent at the configured interval.
    Heartbeat {
        /// Time since the process started.
        elapsed: Duration,
    },
    /// The terminal size was set. A container run reports it when the
    /// resize is sent (or the size went in the create body), before the
    /// engine has confirmed it; a local run once the size is applied.
    TerminalResize {
        #[allow(missing_docs)]
        size: TtySize,
    },
    /// The process is over.
    ProcessEnd(ProcessEnd),
    /// The engine answered the remove (a 404 or 409, already gone or going,
    /// counts). Not sent when the spec keeps the container, nor for what the
    /// sweep after a create of unknown outcome removes.
    ContainerRemove {
        /// The id `ContainerCreate` reported.
        id: String,
    },
}

impl EventKind {
    /// The kind's name, such as `"ProcessStart"`: stable, for logs and schemas.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::ImagePullStart { .. } => "ImagePullStart",
            EventKind::ImagePullProgress(_) => "ImagePullProgress",
            EventKind::ImagePullComplete { .. } => "ImagePullComplete",
            EventKind::ContainerCreate { .. } => "ContainerCreate",
            EventKind::ProcessStart { .. } => "ProcessStart",
            EventKind::Output { .. } => "Output",
            EventKind::Heartbeat { .. } => "Heartbeat",
            EventKind::TerminalResize { .. } => "TerminalResize",
            EventKind::ProcessEnd(_) => "ProcessEnd",
            EventKind::ContainerRemove { .. } => "ContainerRemove",
        }
    }
}

/// Which process a run started.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessId {
    /// A container, by engine id.
    Container(String),
    /// A local process, by pid.
    Pid(u32),
    /// A swarm job's task (see [`swarm`](crate::swarm)): the container the
    /// task runs, on which node, for which service.
    Task {
        /// The service's id, as `ContainerCreate` and `ContainerRemove` carry it.
        service: String,
        /// The task's id.
        task: String,
        /// The id of the node the task runs on.
        node: String,
        /// The task's container id, on that node's engine; empty when the
        /// task's status did not name it yet (a task seen `running` first).
        container: String,
    },
    /// A step run in a living container (see [`exec`](crate::exec)).
    Exec {
        /// The container's id.
        container: String,
        /// The exec instance's id.
        exec: String,
    },
}

/// Where output came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stream {
    #[allow(missing_docs)]
    Stdout,
    #[allow(missing_docs)]
    Stderr,
    /// A terminal: stdout and stderr merged by the pseudo-terminal.
    Tty,
}

/// A terminal size in character cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct TtySize {
    pub cols: u16,
    pub rows: u16,
}

/// Pull progress of one layer, with totals over all layers seen so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullProgress {
    /// As in `ImagePullStart`.
    pub image: String,
    /// The layer id this line is about; empty for image-wide status lines.
    pub layer: String,
    /// The engine's status text for the layer ("Downloading", "Pull complete", ...).
    pub status: String,
    /// Bytes done for this layer, when the engine said; the layer's total
    /// once it is downloaded or already there.
    pub current: Option<u64>,
    /// Bytes in this layer, when the engine said.
    pub total: Option<u64>,
    /// Bytes done over all layers with a known size.
    pub aggregate_current: u64,
    /// Bytes over all layers with a known size.
    pub aggregate_total: u64,
}

/// How a process ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessEnd {
    /// The exit code. `None` when the process never started and no cause
    /// was named (a command not found gives 127, one that cannot be
    /// executed 126), or when the engine's answers about the exit cannot be
    /// trusted ([`Error::ExitUnknown`](crate::Error::ExitUnknown) comes first).
    pub exit_code: Option<i32>,
    /// The signal that ended the process, when one did. For containers this is
    /// read from exit codes 129 to 192 (128 + signal), as shells report it.
    pub signal: Option<i32>,
    /// Inspect's `State.OOMKilled`: the kernel's OOM killer ended it. Always
    /// false for a local process.
    pub oom_killed: bool,
    /// From process start to exit; zero when it never started.
    pub duration: Duration,
    #[allow(missing_docs)]
    pub reason: EndReason,
}

/// Why a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EndReason {
    /// It exited by itself (or was killed by something other than this run).
    Exited,
    /// The caller cancelled the run: the stop signal, SIGKILL after the grace
    /// period; or it never started (`exit_code` is then `None`).
    Cancelled,
    /// The spec's timeout, counted from the start of the run (pull included),
    /// passed; stopped as for a cancel.
    TimedOut,
    /// The process could not be started: the engine refused the start, or
    /// attach or wait failed before it ran (locally: the spawn failed).
    /// `duration` is zero.
    StartFailed,
}

impl ProcessEnd {
    /// The end of a process that never ran (it could not be started, or the
    /// run was stopped before it started): no signal, no duration.
    pub fn unstarted(exit_code: Option<i32>, reason: EndReason) -> Self {
        ProcessEnd { exit_code, signal: None, oom_killed: false, duration: Duration::ZERO, reason }
    }

    /// A process end derived from an exit code, with the signal read from
    /// codes 129 to 192.
    pub fn from_exit_code(code: i32, oom_killed: bool, duration: Duration, reason: EndReason) -> Self {
        let signal = (129..=192).contains(&code).then(|| code - 128);
        ProcessEnd { exit_code: Some(code), signal, oom_killed, duration, reason }
    }
}
