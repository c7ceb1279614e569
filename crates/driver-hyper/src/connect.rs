//! How a driver reaches the engine: the one thing the Unix and TCP drivers
//! do differently.

use std::future::Future;
use std::io;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

/// A byte stream to the engine.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A boxed connection.
pub type BoxIo = Box<dyn Io>;

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
}
