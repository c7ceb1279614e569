//! Why a login could not be looked up.

use std::path::PathBuf;

/// A login lookup that failed: a credentials file that cannot be read, or a
/// credential helper that is missing or does not answer as it should. A
/// registry with no login is not an error (`Ok(None)`).
///
/// Messages are one line and never hold a secret.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A credentials file exists but cannot be read or is not what it should be.
    #[error("cannot use the registry credentials in {}: {why}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The helper a file names is not an executable on `PATH`.
    #[error("credential helper {program} ({origin}) is not on PATH")]
    HelperMissing {
        /// `docker-credential-NAME`.
        program: String,
        /// Where it is named, such as `credsStore in /root/.docker/config.json`.
        origin: String,
    },
    /// The helper could not be started, or its name is not a helper's name.
    #[error("credential helper {program} ({origin}) cannot be run: {why}")]
    HelperStart {
        /// `docker-credential-NAME`.
        program: String,
        /// Where it is named.
        origin: String,
        /// Why.
        why: String,
    },
    /// The helper exited with an error other than "credentials not found".
    #[error("credential helper {program} failed for {server}: {message}")]
    HelperFailed {
        /// `docker-credential-NAME`.
        program: String,
        /// The registry it was asked about.
        server: String,
        /// Its exit status and the first line it printed.
        message: String,
    },
    /// The helper exited 0 with an answer that is not its JSON.
    #[error("credential helper {program} gave an unreadable answer for {server}: {why}")]
    HelperAnswer {
        /// `docker-credential-NAME`.
        program: String,
        /// The registry it was asked about.
        server: String,
        /// What is wrong with the answer (never the answer itself).
        why: String,
    },
    /// The helper did not answer in time; it was killed.
    #[error("credential helper {program} did not answer for {server} within {} s", after.as_secs())]
    HelperTimeout {
        /// `docker-credential-NAME`.
        program: String,
        /// The registry it was asked about.
        server: String,
        /// How long it was given.
        after: std::time::Duration,
    },
}
