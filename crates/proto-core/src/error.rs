//! Errors, by the phase of the run they happened in.

use alloc::string::String;
use core::fmt;
use core::time::Duration;

use crate::api::version::VersionError;
use crate::decode::FrameError;
use crate::spec::SpecError;

/// The step of a run an error belongs to, named by the request that failed
/// (see [`Display`](fmt::Display) for how each reads in a message).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Phase {
    /// `GET /_ping` and, when a version is refused, `GET /version`: reaching
    /// the engine and agreeing on an API version.
    Connect,
    /// `POST /images/create`, and the pull's progress stream.
    Pull,
    /// `POST /containers/create`.
    Create,
    /// `POST /containers/{id}/attach`, and writing stdin to it.
    Attach,
    /// `POST /containers/{id}/wait?condition=next-exit`.
    Wait,
    /// `POST /containers/{id}/start`.
    Start,
    /// Reading the attach stream to its end: its frames, and the drain
    /// after the exit.
    Output,
    /// `POST /containers/{id}/kill`, on cancel or timeout.
    Stop,
    /// `POST /containers/{id}/resize`.
    Resize,
    /// `GET /containers/{id}/json` after the exit: the OOM flag and the
    /// exit code when the wait gave none.
    Inspect,
    /// `DELETE /containers/{id}`.
    Remove,
    /// `GET /info`: the host's CPU count, before the create of a run with a
    /// CPU limit, or outside a run.
    HostInfo,
    /// `GET /containers/json` outside a run.
    List,
    /// `POST /services/create`: a run as a swarm job.
    Service,
    /// `GET /tasks?filters=..`: following the swarm job's task.
    Task,
    /// `GET /nodes/{id}`: checking the node that runs the task.
    Node,
    /// `DELETE /services/{id}`, and the sweep of a create of unknown outcome.
    ServiceRemove,
    /// `POST /containers/{id}/exec`, `POST /exec/{id}/start` and
    /// `GET /exec/{id}/json`: a step run in a living container.
    Exec,
    /// The exec that signals a step (`kill` inside the container), on
    /// cancel or timeout.
    StepStop,
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
            Phase::HostInfo => "asking the engine about its host",
            Phase::List => "listing containers",
            Phase::Service => "creating the swarm service",
            Phase::Task => "following the swarm task",
            Phase::Node => "checking the swarm node",
            Phase::ServiceRemove => "removing the swarm service",
            Phase::Exec => "running the step",
            Phase::StepStop => "stopping the step",
        })
    }
}

/// Why a run, or part of it, failed.
///
/// It serializes with serde as it is (externally tagged, field names as
/// here, [`Duration`] as serde writes it), so it crosses a boundary, such as
/// the WebAssembly module's, and is read back equal to itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Error {
    /// The spec was refused before anything was sent.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The engine answered with an error status. Made by [`Error::answered`].
    #[error("{phase}: the engine answered {status}: {message}")]
    Engine {
        /// The step whose request was refused.
        phase: Phase,
        /// The HTTP status of the answer (0 when there was none).
        status: u16,
        /// The engine's message from the error body, or the body as text.
        message: String,
    },
    /// The image is not on the engine and the pull policy forbids pulling.
    #[error("image {image} is not present on the engine and the pull policy is never")]
    ImageMissing {
        /// The image reference, as the spec named it.
        image: String,
    },
    /// The image could not be pulled, or is still missing after the pull.
    #[error("pulling image {image} failed: {message}")]
    Pull {
        /// The image reference, as the spec named it.
        image: String,
        /// The engine's or registry's message.
        message: String,
    },
    /// A container with the requested name exists already.
    #[error("creating the container: the name is already in use: {message}")]
    NameInUse {
        /// The engine's message, which names the container holding the name.
        message: String,
    },
    /// The engine's answer could not be read.
    #[error("{phase}: malformed answer from the engine: {detail}")]
    Protocol {
        /// The step whose answer it was.
        phase: Phase,
        /// Which answer, and what the parser found wrong with it.
        detail: String,
    },
    /// The output stream could not be decoded, or was cut short.
    #[error("reading the container's output: {0}")]
    Output(FrameError),
    /// The connection to the engine failed (reported by the driver).
    #[error("{phase}: connection to the engine failed: {message}")]
    Transport {
        /// The step whose request was lost.
        phase: Phase,
        /// The driver's description of the failure, such as a reset connection.
        message: String,
    },
    /// A request that should answer at once did not.
    #[error("{phase}: no answer from the engine within {after:?}")]
    Timeout {
        /// The step whose request went unanswered.
        phase: Phase,
        /// The limit that passed.
        after: Duration,
    },
    /// The engine could not say how the process ended: its wait and inspect
    /// answers were missing or impossible (a negative code, a container
    /// still running). The process end then has no exit code.
    #[error("waiting for the container: the engine could not say how the process ended ({detail})")]
    ExitUnknown {
        /// What the engine answered instead of an exit code.
        detail: String,
    },
    /// No API version could be agreed with the engine.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// An input the run did not expect where it was (an answer to a request
    /// never sent, a second head, bytes after a request's end), or a move
    /// between states the machine does not allow. Reported, then ignored:
    /// the run goes on.
    #[error("unexpected: {detail}")]
    Unexpected {
        /// What came, and where the run was.
        detail: String,
    },
    /// The swarm node running the job's task is down (or its manager lost
    /// it): the task's end would not be known until the node came back, so
    /// the run ends here and its service is removed.
    #[error("the swarm node {hostname} ({node}) running the task is {state}")]
    NodeDown {
        /// The node's id.
        node: String,
        /// Its hostname (`Description.Hostname`), or its id when it has none.
        hostname: String,
        /// Its `Status.State`: `down`, `unknown` or `disconnected`.
        state: String,
    },
    /// The job's output could not be read so that each byte is delivered
    /// exactly once: the final read of the service's logs did not line up
    /// with what the live one had delivered.
    #[error("reading the swarm job's output: output may be lost or repeated: {detail}")]
    OutputUnvouched {
        /// What did not line up.
        detail: String,
    },
    /// The swarm ended the job's task other than by its process exiting:
    /// it rejected it (it never started), or shut it down, orphaned or
    /// removed it.
    #[error("the swarm task {task} ended {state}: {message}")]
    TaskEnded {
        /// The task's id.
        task: String,
        /// Its `Status.State`, such as `rejected` or `shutdown`.
        state: String,
        /// Its `Status.Err`, or else its `Status.Message`.
        message: String,
    },
    /// A step cannot run in the container: it is no longer running, or no
    /// longer there (it died or was removed between steps).
    #[error("the container {container} is not running: {message}")]
    ContainerGone {
        /// The container's id, as given.
        container: String,
        /// The engine's words.
        message: String,
    },
    /// A step could not be signalled: the stop runs `sh` and `kill` inside
    /// the container, which the image may lack. The step goes on until it
    /// ends, or until the container is stopped.
    #[error("stopping the step: {message}")]
    StepNotStopped {
        /// What the signalling exec said or how it failed.
        message: String,
    },
    /// No container carries the run id being resumed (`io.cstream.run`):
    /// it was never made on this engine, or it has been removed.
    #[error("no container of run {run_id} on the engine: it was removed, or made elsewhere")]
    RunNotFound {
        /// The run id looked for.
        run_id: String,
    },
    /// The run being resumed is still held by a live client: the process
    /// named in its container's `io.cstream.owner` label runs. Nothing was
    /// done to the container.
    #[error("run {run_id} is still held by a live client ({owner}): resume it once that process has ended")]
    RunHeld {
        /// The run id.
        run_id: String,
        /// The owner label: the host, boot, pid and start time of the client.
        owner: String,
    },
    /// The output of a resumed run cannot be read back: its log driver
    /// keeps none (`none`), or none the engine can read. Its exit is still
    /// read and the container still removed; the output the caller did not
    /// have is lost.
    #[error("the output of container {container} cannot be recovered (log driver {log_driver:?}): {detail}")]
    OutputUnrecoverable {
        /// The container's id.
        container: String,
        /// Its log driver, as the engine named it (empty when it did not).
        log_driver: String,
        /// Why: the engine's answer to the logs request, or the driver.
        detail: String,
    },
    /// A resumed run's logs hold fewer bytes of a stream than the caller
    /// said it had seen: they do not line up with the caller's copy, so
    /// the output delivered may not continue it.
    #[error("the logs hold {logged} bytes of {stream:?}, fewer than the {seen} already seen: they do not line up")]
    SeenBeyondLogs {
        /// The stream.
        stream: crate::event::Stream,
        /// The bytes of it the caller said it had.
        seen: u64,
        /// The bytes of it the logs held.
        logged: u64,
    },
}

impl Error {
    /// The error for an answer with an error status: the engine's message
    /// from `body` (see [`error_message`](crate::api::answers::error_message)),
    /// or, for an empty body, the status alone. The one place such an error is
    /// made, in a run or outside one.
    pub fn answered(phase: Phase, status: u16, body: &[u8]) -> Error {
        let message = match body.is_empty() {
            true => alloc::format!("HTTP {status} with an empty body"),
            false => crate::api::answers::error_message(body),
        };
        Error::Engine { phase, status, message }
    }

    /// The phase the error happened in; `None` for a refused spec or an
    /// unexpected input.
    pub fn phase(&self) -> Option<Phase> {
        match self {
            Error::Spec(_) | Error::Unexpected { .. } => None,
            Error::Engine { phase, .. }
            | Error::Protocol { phase, .. }
            | Error::Transport { phase, .. }
            | Error::Timeout { phase, .. } => Some(*phase),
            Error::ImageMissing { .. } | Error::Pull { .. } => Some(Phase::Pull),
            Error::NameInUse { .. } => Some(Phase::Create),
            Error::Output(_) => Some(Phase::Output),
            Error::Version(_) => Some(Phase::Connect),
            Error::ExitUnknown { .. } => Some(Phase::Wait),
            Error::NodeDown { .. } => Some(Phase::Node),
            Error::OutputUnvouched { .. } => Some(Phase::Output),
            Error::TaskEnded { .. } => Some(Phase::Task),
            Error::ContainerGone { .. } => Some(Phase::Exec),
            Error::StepNotStopped { .. } => Some(Phase::StepStop),
            Error::RunNotFound { .. } | Error::RunHeld { .. } => Some(Phase::List),
            Error::OutputUnrecoverable { .. } | Error::SeenBeyondLogs { .. } => Some(Phase::Output),
        }
    }
}

/// Why a command from the caller (stdin, resize) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
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

#[cfg(test)]
mod tests {
    use alloc::string::{String, ToString};
    use alloc::vec::Vec;

    use super::*;
    use crate::api::version::{ApiVersion, BadVersion};

    /// One error of every variant, and of every variant of the errors it holds.
    fn every_error() -> Vec<Error> {
        let v = ApiVersion::new;
        let text = |s: &str| s.to_string();
        let spec = [
            SpecError::Image { reference: text("Alpine"), why: "must be lower case".into() },
            SpecError::Invalid { field: "CPU limit".into(), value: text("4 CPUs"), why: "is too many".into() },
            SpecError::Conflict("a terminal size needs tty mode".into()),
            SpecError::Unsupported { field: "platform".into(), engine: text("Podman"), why: "it ignores it".into() },
        ];
        let version = [
            VersionError::Missing,
            VersionError::Unreadable(BadVersion(text("one.two"))),
            VersionError::EngineTooOld { engine_newest: v(1, 24) },
            VersionError::PinnedUnsupported { pinned: v(1, 99) },
            VersionError::PinnedTooNew { pinned: v(1, 52), engine_newest: v(1, 41) },
            VersionError::Refused { used: v(1, 41), engine_oldest: v(1, 44), engine_newest: v(1, 52) },
        ];
        let frame = [
            FrameError::UnknownStream(7),
            FrameError::MalformedHeader([1, 9, 0, 0, 0, 0, 0, 5]),
            FrameError::Truncated { declared: 10, missing: 3 },
            FrameError::Engine(text("exec failed")),
        ];
        let mut all: Vec<Error> = spec.into_iter().map(Error::Spec).collect();
        all.extend(version.into_iter().map(Error::Version));
        all.extend(frame.into_iter().map(Error::Output));
        all.extend([
            Error::answered(Phase::Create, 409, br#"{"message":"Conflict. The name is in use"}"#),
            Error::ImageMissing { image: text("alpine:3.20") },
            Error::Pull { image: text("nope:1"), message: text("manifest unknown") },
            Error::NameInUse { message: text("in use by 4f2a") },
            Error::Protocol { phase: Phase::Inspect, detail: text("State.ExitCode is not a number") },
            Error::Transport { phase: Phase::HostInfo, message: text("connection reset") },
            Error::Timeout { phase: Phase::Remove, after: Duration::new(30, 5) },
            Error::ExitUnknown { detail: text("ExitCode -1") },
            Error::Unexpected { detail: text("a second head for request 3") },
            Error::NodeDown { node: text("n1"), hostname: text("worker-1"), state: text("down") },
            Error::OutputUnvouched { detail: text("the final read had 2 messages, fewer than 3") },
            Error::TaskEnded { task: text("t1"), state: text("rejected"), message: text("invalid mount") },
            Error::RunNotFound { run_id: text("r1") },
            Error::RunHeld { run_id: text("r1"), owner: text("host=h;boot=b;pid=7;start=9") },
            Error::OutputUnrecoverable {
                container: text("c1"),
                log_driver: text("none"),
                detail: text("configured logging driver does not support reading"),
            },
            Error::SeenBeyondLogs { stream: crate::event::Stream::Stderr, seen: 10, logged: 4 },
            Error::ContainerGone { container: text("c1"), message: text("container is not running") },
            Error::StepNotStopped { message: text("sh: not found") },
        ]);
        all
    }

    /// How many variants [`variant`] tells apart.
    const VARIANTS: usize = 32;

    /// Which variant `e` is, from 0. The match is exhaustive: a new variant
    /// does not compile until it has an arm here (count it in [`VARIANTS`])
    /// and a sample in [`every_error`].
    fn variant(e: &Error) -> usize {
        match e {
            Error::Spec(SpecError::Image { .. }) => 0,
            Error::Spec(SpecError::Invalid { .. }) => 1,
            Error::Spec(SpecError::Conflict(_)) => 2,
            Error::Spec(SpecError::Unsupported { .. }) => 3,
            Error::Version(VersionError::Missing) => 4,
            Error::Version(VersionError::Unreadable(_)) => 5,
            Error::Version(VersionError::EngineTooOld { .. }) => 6,
            Error::Version(VersionError::PinnedUnsupported { .. }) => 7,
            Error::Version(VersionError::PinnedTooNew { .. }) => 8,
            Error::Version(VersionError::Refused { .. }) => 9,
            Error::Output(FrameError::UnknownStream(_)) => 10,
            Error::Output(FrameError::MalformedHeader(_)) => 11,
            Error::Output(FrameError::Truncated { .. }) => 12,
            Error::Output(FrameError::Engine(_)) => 13,
            Error::Engine { .. } => 14,
            Error::ImageMissing { .. } => 15,
            Error::Pull { .. } => 16,
            Error::NameInUse { .. } => 17,
            Error::Protocol { .. } => 18,
            Error::Transport { .. } => 19,
            Error::Timeout { .. } => 20,
            Error::ExitUnknown { .. } => 21,
            Error::Unexpected { .. } => 22,
            Error::NodeDown { .. } => 23,
            Error::OutputUnvouched { .. } => 24,
            Error::TaskEnded { .. } => 25,
            Error::RunNotFound { .. } => 26,
            Error::RunHeld { .. } => 27,
            Error::OutputUnrecoverable { .. } => 28,
            Error::SeenBeyondLogs { .. } => 29,
            Error::ContainerGone { .. } => 30,
            Error::StepNotStopped { .. } => 31,
        }
    }

    #[test]
    fn every_error_reads_back_equal_from_postcard_and_json() {
        let all = every_error();
        let mut seen: Vec<usize> = all.iter().map(variant).collect();
        seen.sort_unstable();
        assert_eq!(seen, (0..VARIANTS).collect::<Vec<_>>(), "one sample of each variant");
        for e in all {
            let bytes = postcard::to_allocvec(&e);
            let back = bytes
                .as_deref()
                .map_err(|x| x.to_string())
                .and_then(|b| postcard::from_bytes::<Error>(b).map_err(|x| x.to_string()));
            assert_eq!(back.as_ref(), Ok(&e), "postcard");
            let json = serde_json::to_string(&e).map_err(|x| x.to_string());
            let back = json.and_then(|j| serde_json::from_str::<Error>(&j).map_err(|x| x.to_string()));
            assert_eq!(back.as_ref(), Ok(&e), "JSON");
            assert_eq!(back.map(|b| b.to_string()), Ok(e.to_string()), "the message is the same");
        }
    }

    /// The JSON is readable and stable: externally tagged, the fields named
    /// as in Rust, durations as serde writes them.
    #[test]
    fn the_json_shape_is_the_types_own() {
        let json = |e: &Error| serde_json::to_value(e).map_err(|x| x.to_string());
        let cases: [(Error, serde_json::Value); 4] = [
            (
                Error::Spec(SpecError::Invalid {
                    field: "CPU limit".into(),
                    value: "4".into(),
                    why: "too many".into(),
                }),
                serde_json::json!({"Spec": {"Invalid": {"field": "CPU limit", "value": "4", "why": "too many"}}}),
            ),
            (
                Error::Timeout { phase: Phase::Create, after: Duration::new(30, 5) },
                serde_json::json!({"Timeout": {"phase": "Create", "after": {"secs": 30, "nanos": 5}}}),
            ),
            (
                Error::Version(VersionError::PinnedTooNew {
                    pinned: ApiVersion::new(1, 52),
                    engine_newest: ApiVersion::new(1, 41),
                }),
                serde_json::json!({"Version": {"PinnedTooNew": {
                    "pinned": {"major": 1, "minor": 52}, "engine_newest": {"major": 1, "minor": 41}
                }}}),
            ),
            (
                Error::Output(FrameError::Truncated { declared: 10, missing: 3 }),
                serde_json::json!({"Output": {"Truncated": {"declared": 10, "missing": 3}}}),
            ),
        ];
        for (e, want) in cases {
            assert_eq!(json(&e), Ok(want), "{e}");
        }
        let conflict: Result<SpecError, String> =
            serde_json::from_str(r#"{"Conflict":"a terminal size needs tty mode"}"#).map_err(|x| x.to_string());
        assert_eq!(conflict, Ok(SpecError::Conflict("a terminal size needs tty mode".into())));
    }
}
