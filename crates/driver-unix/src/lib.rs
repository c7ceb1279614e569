//! Run commands in Docker or Podman containers over the engine's Unix socket,
//! and watch them as a stream of typed events.
//!
//! ```no_run
//! use cstream_driver_unix::{EventKind, RunSpec};
//! use futures_util::StreamExt;
//!
//! # async fn demo() -> Result<(), cstream_driver_unix::Error> {
//! let engine = cstream_driver_unix::connect(cstream_driver_unix::DOCKER_SOCKET).await?;
//! let mut run = engine.run(RunSpec::builder("alpine:3.20").command(["echo", "hi"]).build()?);
//! while let Some(event) = run.next().await {
//!     if let EventKind::Output { data, .. } = event?.kind {
//!         print!("{}", String::from_utf8_lossy(&data));
//!     }
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

use std::io;
use std::path::{Path, PathBuf};

use cstream_driver_hyper::driver::{BlockingIo, BoxFuture, BoxIo, Connector};
pub use cstream_driver_hyper::*;

/// Docker's socket.
pub const DOCKER_SOCKET: &str = "/var/run/docker.sock";
/// Rootful Podman's socket.
pub const PODMAN_SOCKET: &str = "/run/podman/podman.sock";

/// Rootless Podman's socket, `$XDG_RUNTIME_DIR/podman/podman.sock`, when that variable is set.
pub fn podman_rootless_socket() -> Option<PathBuf> {
    std::env::var_os("XDG_RUNTIME_DIR").map(|dir| Path::new(&dir).join("podman/podman.sock"))
}

/// Connects to an engine's Unix socket.
#[derive(Clone, Debug)]
pub struct UnixConnector {
    path: PathBuf,
    endpoint: String,
}

impl UnixConnector {
    /// A connector for the socket at `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let endpoint = format!("unix://{}", path.display());
        UnixConnector { path, endpoint }
    }
}

impl Connector for UnixConnector {
    fn connect(&self) -> BoxFuture<'_, io::Result<BoxIo>> {
        Box::pin(async move {
            match tokio::net::UnixStream::connect(&self.path).await {
                Ok(s) => Ok(Box::new(s) as BoxIo),
                Err(e) => Err(explain(&self.path, e)),
            }
        })
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn is_local(&self) -> bool {
        true
    }

    fn connect_blocking(&self, timeout: std::time::Duration) -> io::Result<Box<dyn BlockingIo>> {
        let s = std::os::unix::net::UnixStream::connect(&self.path)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        Ok(Box::new(s))
    }
}

/// Turns the OS's terse answer into one that says what to do.
fn explain(path: &Path, e: io::Error) -> io::Error {
    use std::os::unix::fs::FileTypeExt;
    let why = match std::fs::metadata(path) {
        Err(m) if m.kind() == io::ErrorKind::NotFound => "no such file: is the engine running?".to_string(),
        Ok(m) if !m.file_type().is_socket() => "this is not a socket".to_string(),
        _ if e.kind() == io::ErrorKind::ConnectionRefused => {
            "connection refused: the engine that made this socket is not running".to_string()
        }
        _ if e.kind() == io::ErrorKind::PermissionDenied => {
            "permission denied: this user may not use the engine's socket".to_string()
        }
        _ => e.to_string(),
    };
    io::Error::new(e.kind(), why)
}

/// An engine at the Unix socket `path`. Nothing is sent until it is used.
pub fn engine(path: impl Into<PathBuf>) -> Engine {
    Engine::new(UnixConnector::new(path))
}

/// Connects to the engine at the Unix socket `path` and pings it.
pub async fn connect(path: impl Into<PathBuf>) -> Result<Engine, Error> {
    let e = engine(path);
    e.ping().await?;
    Ok(e)
}
