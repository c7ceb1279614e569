//! Errors, by the phase of the run they happened in.

use alloc::string::String;
use core::fmt;
use core::time::Duration;

use crate::api::version::VersionError;
use crate::decode::FrameError;
use crate::spec::SpecError;

/// The step of a run an error belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Phase {
    /// Reaching the engine and agreeing on an API version.
    Connect,
    /// Pulling the image.
    Pull,
    /// Creating the container.
    Create,
    /// Attaching to its output.
    Attach,
    /// Waiting for it to exit.
    Wait,
    /// Starting it.
    Start,
    /// Reading its output.
    Output,
    /// Stopping it on cancel or timeout.
    Stop,
    /// Setting the terminal size.
    Resize,
    /// Reading its final state.
    Inspect,
    /// Removing it.
    Remove,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Connect => "connecting to the engine",
            Phase::Pull => "pulling the image",
            Phase::Create => "creating the container",
            Phase::Attach => "attaching to the container",
            Phase::Wait => "waiting for the container",
            Phase::Start => "starting the container",
            Phase::Output => "reading the container's output",
            Phase::Stop => "stopping the container",
            Phase::Resize => "resizing the terminal",
            Phase::Inspect => "inspecting the container",
            Phase::Remove => "removing the container",
        })
    }
}

/// Why a run, or part of it, failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The spec was refused before anything was sent.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The engine answered with an error status.
    #[error("{phase}: the engine answered {status}: {message}")]
    Engine {
        /// Where it happened.
        phase: Phase,
        /// The HTTP status.
        status: u16,
        /// The engine's message.
        message: String,
    },
    /// The image is not on the engine and the pull policy forbids pulling.
    #[error("image {image} is not present on the engine and the pull policy is never")]
    ImageMissing {
        /// The image reference.
        image: String,
    },
    /// The image could not be pulled, or is still missing after the pull.
    #[error("pulling image {image} failed: {message}")]
    Pull {
        /// The image reference.
        image: String,
        /// The engine's or registry's message.
        message: String,
    },
    /// A container with the requested name exists already.
    #[error("creating the container: the name is already in use: {message}")]
    NameInUse {
        /// The engine's message.
        message: String,
    },
    /// The engine's answer could not be read.
    #[error("{phase}: malformed answer from the engine: {detail}")]
    Protocol {
        /// Where it happened.
        phase: Phase,
        /// What was wrong.
        detail: String,
    },
    /// The output stream could not be decoded, or was cut short.
    #[error("reading the container's output: {0}")]
    Output(FrameError),
    /// The connection to the engine failed (reported by the driver).
    #[error("{phase}: connection to the engine failed: {message}")]
    Transport {
        /// Where it happened.
        phase: Phase,
        /// The driver's description.
        message: String,
    },
    /// A request that should answer at once did not.
    #[error("{phase}: no answer from the engine within {after:?}")]
    Timeout {
        /// Where it happened.
        phase: Phase,
        /// The limit that passed.
        after: Duration,
    },
    /// The engine could not say how the process ended: its wait and inspect
    /// answers were missing or impossible (a negative code, a container
    /// still running). The process end then has no exit code.
    #[error("waiting for the container: the engine could not say how the process ended ({detail})")]
    ExitUnknown {
        /// What the engine answered.
        detail: String,
    },
    /// No API version could be agreed with the engine.
    #[error(transparent)]
    Version(#[from] VersionError),
}

impl Error {
    /// The phase the error happened in; `None` for a refused spec.
    pub fn phase(&self) -> Option<Phase> {
        match self {
            Error::Spec(_) => None,
            Error::Engine { phase, .. }
            | Error::Protocol { phase, .. }
            | Error::Transport { phase, .. }
            | Error::Timeout { phase, .. } => Some(*phase),
            Error::ImageMissing { .. } | Error::Pull { .. } => Some(Phase::Pull),
            Error::NameInUse { .. } => Some(Phase::Create),
            Error::Output(_) => Some(Phase::Output),
            Error::Version(_) => Some(Phase::Connect),
            Error::ExitUnknown { .. } => Some(Phase::Wait),
        }
    }
}

/// Why a command from the caller (stdin, resize) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CommandError {
    /// The spec did not ask for stdin.
    #[error("stdin was not enabled for this run")]
    StdinNotEnabled,
    /// Stdin was closed already.
    #[error("stdin is closed")]
    StdinClosed,
    /// The spec did not ask for a terminal.
    #[error("the run has no terminal to resize")]
    NoTty,
    /// The process has ended.
    #[error("the process has ended")]
    Ended,
    /// The size has a zero dimension.
    #[error("terminal columns and rows must be positive")]
    BadSize,
}
