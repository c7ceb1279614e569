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
    /// What happened.
    pub kind: EventKind,
}

/// What happened. New kinds may be added: match with a wildcard arm.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EventKind {
    /// The engine began pulling an image.
    ImagePullStart {
        /// The image reference being pulled.
        image: String,
    },
    /// Progress of an image pull, rate-limited per layer.
    ImagePullProgress(PullProgress),
    /// The pull finished successfully.
    ImagePullComplete {
        /// The image reference that was pulled.
        image: String,
        /// The content digest the engine reported, when it did.
        digest: Option<String>,
        /// How long the pull took.
        duration: Duration,
    },
    /// The container exists (it has not started yet).
    ContainerCreate {
        /// The engine's container id.
        id: String,
        /// The image it was created from.
        image: String,
    },
    /// The process is running.
    ProcessStart {
        /// The command (first word of the command line), or empty when the
        /// image's default command runs.
        command: String,
        /// The remaining words of the command line.
        args: Vec<String>,
        /// Which process: a container id or a local pid.
        process: ProcessId,
    },
    /// Bytes the process wrote.
    Output {
        /// Which stream they came from.
        stream: Stream,
        /// The bytes, exactly as written.
        data: Bytes,
    },
    /// The process is still running; sent at the configured interval.
    Heartbeat {
        /// Time since the process started.
        elapsed: Duration,
    },
    /// The terminal size was set.
    TerminalResize {
        /// The new size.
        size: TtySize,
    },
    /// The process is over.
    ProcessEnd(ProcessEnd),
    /// The container is gone.
    ContainerRemove {
        /// The engine's container id.
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
}

/// Where output came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
    /// A terminal: stdout and stderr merged by the pseudo-terminal.
    Tty,
}

/// A terminal size in character cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TtySize {
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
}

/// Pull progress of one layer, with totals over all layers seen so far.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullProgress {
    /// The image being pulled.
    pub image: String,
    /// The layer id this line is about; empty for image-wide status lines.
    pub layer: String,
    /// The engine's status text for the layer ("Downloading", "Pull complete", ...).
    pub status: String,
    /// Bytes done for this layer, when the engine said.
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
    /// The exit code, when there was one.
    pub exit_code: Option<i32>,
    /// The signal that ended the process, when one did. For containers this is
    /// read from exit codes 129 to 192 (128 + signal), as shells report it.
    pub signal: Option<i32>,
    /// The engine says the kernel's OOM killer ended it.
    pub oom_killed: bool,
    /// From process start to exit; zero when it never started.
    pub duration: Duration,
    /// Why it ended.
    pub reason: EndReason,
}

/// Why a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum EndReason {
    /// It exited by itself (or was killed by something other than this run).
    Exited,
    /// The caller cancelled the run.
    Cancelled,
    /// The run's timeout expired.
    TimedOut,
    /// The process could not be started.
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
