//! The driver's errors: the core's, wrapped and never rebuilt, plus what
//! only a driver meets (reaching the engine, finding it, starting a local
//! process).

use std::io;

use cstream_proto_core::{CommandError, Phase, SpecError};

/// Why a run, or reaching the engine, failed.
///
/// A failure the core can describe (a refused spec, an error answer, a
/// malformed one, a lost request) is the core's [`Error`](cstream_proto_core::Error),
/// in [`Run`](Error::Run) for a run and in [`Call`](Error::Call) for a call
/// made outside one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The run failed, or its spec was refused (`core::Error::Spec`); the
    /// core says in which phase and why.
    #[error(transparent)]
    Run(#[from] cstream_proto_core::Error),
    /// A command (stdin, resize) was refused.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The engine could not be reached.
    #[error("cannot reach the container engine at {endpoint}: {message}")]
    Unreachable {
        /// The engine's address, as a URL.
        endpoint: String,
        /// What went wrong, in one line.
        message: String,
        /// The underlying error, when it was an I/O error.
        #[source]
        source: Option<io::Error>,
    },
    /// A call made outside a run (ping, version, host info, list, remove)
    /// was answered with an error, or with something unreadable.
    #[error("{error} (engine at {endpoint})")]
    Call {
        /// The engine's address, as a URL.
        endpoint: String,
        /// The core's error: the call's phase, and the engine's status and
        /// message or what was wrong with its answer.
        error: cstream_proto_core::Error,
    },
    /// `DOCKER_API_VERSION` is set to something that is not a version.
    #[error("DOCKER_API_VERSION: {0}")]
    BadApiVersion(#[from] cstream_proto_core::api::version::BadVersion),
    /// An endpoint address could not be used.
    #[error("cannot use engine address {endpoint:?}: {why}")]
    Endpoint {
        /// The address as given.
        endpoint: String,
        /// What is wrong with it.
        why: String,
    },
    /// The engine's address asks for TLS (`DOCKER_TLS_VERIFY`,
    /// `DOCKER_CERT_PATH`, a docker context's TLS files, Docker's TLS port
    /// 2376), which cstream does not speak: nothing was sent.
    #[error("cannot use engine address {endpoint:?}{}: TLS is not supported ({why}); use a Unix socket or ssh:// instead", from_clause(.from.as_deref()))]
    Tls {
        /// The address, as given.
        endpoint: String,
        /// Where the address came from (`DOCKER_HOST`, a docker context),
        /// when it was not given directly.
        from: Option<String>,
        /// What asks for TLS.
        why: String,
    },
    /// The docker context chosen cannot be used: it does not exist, has no
    /// docker endpoint, or its files cannot be read.
    #[error("cannot use docker context {name:?}{}: {why}", named_by(.by.as_deref()))]
    Context {
        /// The context's name.
        name: String,
        /// What named it (`DOCKER_CONTEXT`, the docker config's
        /// `currentContext`), when it was not given directly.
        by: Option<String>,
        /// What is wrong with it.
        why: String,
    },
    /// The docker config file could not be read.
    #[error("cannot read the docker config {path}: {why}")]
    Config {
        /// The file's path.
        path: String,
        /// What could not be read, or parsed.
        why: String,
    },
    /// No engine answered at any of the places tried.
    #[error("no container engine found; tried: {}", tried.iter().map(|(e, why)| format!("{e} ({why})")).collect::<Vec<_>>().join(", "))]
    NoEngine {
        /// Each place tried, and why it did not do.
        tried: Vec<(String, String)>,
    },
    /// A local process could not be started.
    #[error("cannot start {command}: {source}")]
    Spawn {
        /// The command, as given.
        command: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The run's stream ended without saying how the process ended, and
    /// without an error: its task is gone (its runtime shut down). Made by
    /// [`Run::output`](crate::Run::output) and [`Run::wait`](crate::Run::wait).
    #[error("the run's background task has stopped")]
    Gone,
}

/// A refused spec is the core's error, whoever refuses it.
impl From<SpecError> for Error {
    fn from(e: SpecError) -> Self {
        Error::Run(cstream_proto_core::Error::Spec(e))
    }
}

impl Error {
    /// A stdin write or close that the process's end did not take: the
    /// transport's failure, never a refused command, whatever the I/O
    /// error's kind.
    pub(crate) fn stdin_write(e: &io::Error) -> Error {
        let message = format!("writing stdin: {e}");
        Error::Run(cstream_proto_core::Error::Transport { phase: Phase::Attach, message })
    }

    /// A call outside a run, refused or answered with something unreadable.
    pub(crate) fn call(endpoint: &str, error: cstream_proto_core::Error) -> Error {
        Error::Call { endpoint: endpoint.to_string(), error }
    }
}

fn from_clause(from: Option<&str>) -> String {
    from.map(|f| format!(" from {f}")).unwrap_or_default()
}

fn named_by(by: Option<&str>) -> String {
    by.map(|b| format!(" (named by {b})")).unwrap_or_default()
}
