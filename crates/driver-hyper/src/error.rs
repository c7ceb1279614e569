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
    /// The engine's address asks for TLS (`DOCKER_TLS_VERIFY`,
    /// `DOCKER_CERT_PATH`, a docker context's TLS files, Docker's TLS port
    /// 2376), which cstream does not speak: nothing was sent.
    #[error("cannot use engine address {endpoint:?}{}: TLS is not supported ({why}); use a Unix socket or ssh:// instead", from_clause(.from.as_deref()))]
    Tls {
        /// The address.
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
        /// Why.
        why: String,
    },
    /// The docker config file could not be read.
    #[error("cannot read the docker config {path}: {why}")]
    Config {
        /// The file.
        path: String,
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

fn from_clause(from: Option<&str>) -> String {
    from.map(|f| format!(" from {f}")).unwrap_or_default()
}

fn named_by(by: Option<&str>) -> String {
    by.map(|b| format!(" (named by {b})")).unwrap_or_default()
}
