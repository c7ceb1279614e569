//! A run's result, for callers who want it rather than its stream:
//! [`Run::output`](crate::Run::output) and [`Run::wait`](crate::Run::wait).
//!
//! Any error the run reported makes the result an `Err`: lost output, an
//! exit in doubt, a container not removed never read as success, and what
//! was collected travels in the error.

use std::fmt;
use std::time::Duration;

use cstream_proto_core::{EndReason, Event, EventKind, ProcessEnd, Stream};

use crate::error::Error;

/// How the process ended, as [`std::process::ExitStatus`] says it for a
/// child: [`success`](Self::success), [`code`](Self::code),
/// [`signal`](Self::signal), and what only a run knows (OOM, why it ended).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitStatus(ProcessEnd);

impl ExitStatus {
    /// Whether the process exited by itself with code 0. A run that was
    /// cancelled or timed out is not a success, whatever its code.
    pub fn success(&self) -> bool {
        self.0.exit_code == Some(0) && self.0.reason == EndReason::Exited
    }

    /// The exit code: 128 + n for a container process killed by signal n (as
    /// the engines report it), 127 for a command not found, 126 for one that
    /// cannot be executed; `None` when the engine could not tell.
    pub fn code(&self) -> Option<i32> {
        self.0.exit_code
    }

    /// The signal that ended the process, when one did.
    pub fn signal(&self) -> Option<i32> {
        self.0.signal
    }

    /// Whether the engine says the kernel's OOM killer ended it.
    pub fn oom_killed(&self) -> bool {
        self.0.oom_killed
    }

    /// Why it ended: by itself, cancelled, timed out, or never started.
    pub fn reason(&self) -> EndReason {
        self.0.reason
    }

    /// From process start to exit; zero when it never started.
    pub fn duration(&self) -> Duration {
        self.0.duration
    }

    /// The `ProcessEnd` event it was read from.
    pub fn end(&self) -> &ProcessEnd {
        &self.0
    }
}

impl From<ProcessEnd> for ExitStatus {
    fn from(end: ProcessEnd) -> Self {
        ExitStatus(end)
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.0.exit_code, self.0.signal) {
            (Some(code), Some(sig)) => write!(f, "exit code {code} (signal {sig})")?,
            (Some(code), None) => write!(f, "exit code {code}")?,
            (None, Some(sig)) => write!(f, "signal {sig}")?,
            (None, None) => f.write_str("no exit code")?,
        }
        if self.0.oom_killed {
            f.write_str(", out of memory")?;
        }
        match self.0.reason {
            EndReason::Exited => Ok(()),
            EndReason::Cancelled => f.write_str(", cancelled"),
            EndReason::TimedOut => f.write_str(", timed out"),
            EndReason::StartFailed => f.write_str(", did not start"),
            _ => write!(f, ", {:?}", self.0.reason),
        }
    }
}

/// What a run produced, when it reported no error: how the process ended
/// and its output, byte for byte. Made by [`Run::output`](crate::Run::output).
///
/// A process that exits non-zero is still an `Output` (check
/// [`status.success()`](ExitStatus::success)), as with
/// [`std::process::Command::output`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Output {
    /// How the process ended.
    pub status: ExitStatus,
    /// Everything it wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything it wrote to stderr.
    pub stderr: Vec<u8>,
    /// Everything it wrote to its terminal, when it had one (stdout and
    /// stderr are then empty).
    pub tty: Vec<u8>,
    /// The container's id; `None` for a local run.
    pub container_id: Option<String>,
}

/// A run that reported at least one error, with everything collected: the
/// errors in order, how the process ended if that is known, and its output
/// up to the end (only what arrived; with [`Run::wait`](crate::Run::wait), none).
///
/// Its `Display` is the first error (and how many followed); its
/// [`source`](std::error::Error::source) the first error itself.
#[derive(Debug)]
#[non_exhaustive]
pub struct RunError {
    /// Every error the run reported, in order; never empty.
    pub errors: Vec<Error>,
    /// How the process ended, when the run saw it end.
    pub status: Option<ExitStatus>,
    /// What the process wrote to stdout, as far as it arrived.
    pub stdout: Vec<u8>,
    /// What the process wrote to stderr, as far as it arrived.
    pub stderr: Vec<u8>,
    /// What the process wrote to its terminal, as far as it arrived.
    pub tty: Vec<u8>,
    /// The container's id, once it was created; `None` for a local run.
    pub container_id: Option<String>,
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.errors.first() {
            Some(first) => write!(f, "{first}")?,
            None => f.write_str("the run failed")?,
        }
        match self.errors.len() {
            0 | 1 => Ok(()),
            2 => f.write_str(" (and 1 more error)"),
            n => write!(f, " (and {} more errors)", n - 1),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errors.first().map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Gathers a run's items into its result.
#[derive(Default)]
pub(crate) struct Collector {
    keep_output: bool,
    end: Option<ProcessEnd>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    tty: Vec<u8>,
    errors: Vec<Error>,
}

impl Collector {
    /// A collector that keeps the output (`output`) or drops it (`wait`).
    pub(crate) fn new(keep_output: bool) -> Self {
        Collector { keep_output, ..Collector::default() }
    }

    /// Whether no error has come.
    pub(crate) fn is_clean(&self) -> bool {
        self.errors.is_empty()
    }

    pub(crate) fn push(&mut self, item: Result<Event, Error>) {
        match item {
            Ok(Event { kind: EventKind::Output { stream, data }, .. }) if self.keep_output => match stream {
                Stream::Stdout => self.stdout.extend_from_slice(&data),
                Stream::Stderr => self.stderr.extend_from_slice(&data),
                Stream::Tty => self.tty.extend_from_slice(&data),
            },
            Ok(Event { kind: EventKind::ProcessEnd(end), .. }) => self.end = Some(end),
            Ok(_) => {}
            Err(e) => self.errors.push(e),
        }
    }

    /// The result, once the stream has ended. A stream that ended without
    /// saying how the process ended, and without an error, lost its task.
    // Made once per run, at its end: its size costs nothing worth a box.
    #[allow(clippy::result_large_err)]
    pub(crate) fn finish(mut self, container_id: Option<String>) -> Result<Output, RunError> {
        match (self.end, self.errors.is_empty()) {
            (Some(end), true) => Ok(Output {
                status: ExitStatus(end),
                stdout: self.stdout,
                stderr: self.stderr,
                tty: self.tty,
                container_id,
            }),
            (end, _) => {
                if self.errors.is_empty() {
                    self.errors.push(Error::Gone);
                }
                Err(RunError {
                    errors: self.errors,
                    status: end.map(ExitStatus),
                    stdout: self.stdout,
                    stderr: self.stderr,
                    tty: self.tty,
                    container_id,
                })
            }
        }
    }
}
