//! How a driver reaches the engine: the one thing the Unix and TCP drivers
//! do differently.

use std::future::Future;
use std::io;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream to the engine.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A connection of any [`Connector`], boxed.
pub type BoxIo = Box<dyn Io>;

/// A blocking byte stream to the engine, for cleanup when no async runtime is left.
pub trait BlockingIo: std::io::Read + std::io::Write + Send {}

impl<T: std::io::Read + std::io::Write + Send> BlockingIo for T {}

/// A boxed, sendable future.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Opens new connections to one engine.
pub trait Connector: Send + Sync + 'static {
    /// Opens a connection.
    fn connect(&self) -> BoxFuture<'_, io::Result<BoxIo>>;

    /// Where it connects, as a URL such as `unix:///var/run/docker.sock`.
    fn endpoint(&self) -> &str;

    /// Whether the engine runs on this host, so host paths (bind-mount
    /// sources) can be checked here before the engine sees them.
    fn is_local(&self) -> bool {
        false
    }

    /// Opens a blocking connection with read and write timeouts of `timeout`.
    /// Used only to remove a container when its run's task is dropped without
    /// finishing (the runtime shutting down).
    fn connect_blocking(&self, timeout: std::time::Duration) -> io::Result<Box<dyn BlockingIo>> {
        let _ = timeout;
        Err(io::Error::new(io::ErrorKind::Unsupported, "this connector has no blocking mode"))
    }
}
