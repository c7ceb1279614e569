//! The driver's errors: the core's, plus reaching the engine.

use std::io;

use cstream_proto_core::{CommandError, SpecError};

/// Why a run, or reaching the engine, failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The run failed; the core says where and why.
    #[error(transparent)]
    Run(#[from] cstream_proto_core::Error),
    /// The spec was refused before anything was sent.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A command (stdin, resize) was refused.
    #[error(transparent)]
    Command(#[from] CommandError),
    /// The engine could not be reached.
    #[error("cannot reach the container engine at {endpoint}: {message}")]
    Unreachable {
        /// Where we tried.
        endpoint: String,
        /// What went wrong.
        message: String,
        /// The underlying error, when it was an I/O error.
        #[source]
        source: Option<io::Error>,
    },
    /// The engine answered an API call with an error.
    #[error("the engine at {endpoint} answered {status} to {call}: {message}")]
    Engine {
        /// Where.
        endpoint: String,
        /// Which call.
        call: String,
        /// The HTTP status.
        status: u16,
        /// The engine's message.
        message: String,
    },
    /// The engine's answer could not be read.
    #[error("malformed answer from the engine at {endpoint}: {detail}")]
    Protocol {
        /// Where.
        endpoint: String,
        /// What was wrong.
        detail: String,
    },
    /// `DOCKER_API_VERSION` is set to something that is not a version.
    #[error("DOCKER_API_VERSION: {0}")]
    BadApiVersion(#[from] cstream_proto_core::api::version::BadVersion),
    /// An endpoint address could not be used.
    #[error("cannot use engine address {endpoint:?}: {why}")]
    Endpoint {
        /// The address as given.
        endpoint: String,
        /// Why.
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
        /// The command.
        command: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The run's task is gone (its runtime shut down).
    #[error("the run's background task has stopped")]
    Gone,
}
