//! Run commands in Docker or Podman containers over the engine's plain-TCP
//! API (`tcp://host:port`, no TLS), and watch them as a stream of typed events.
//!
//! A plain-TCP Engine API is unauthenticated root access to the engine's
//! host, so only loopback addresses are accepted unless the caller opts in
//! with [`Remote::Allow`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), cstream_driver_tcp::Error> {
//! use cstream_driver_tcp::Remote;
//! let engine = cstream_driver_tcp::connect("tcp://127.0.0.1:2375", Remote::Refuse).await?;
//! # Ok(()) }
//! ```

#![warn(missing_docs, clippy::print_stdout, clippy::print_stderr)]

use std::io;
use std::net::SocketAddr;

use cstream_driver_hyper::driver::{BlockingIo, BoxFuture, BoxIo, Connector};
pub use cstream_driver_hyper::*;

/// Whether a non-loopback address may be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Remote {
    /// Loopback addresses only (the safe default).
    Refuse,
    /// Any address: the caller accepts that the API is unauthenticated.
    Allow,
}

const INSECURE: &str = "plain TCP to a non-loopback address gives anyone on the network unauthenticated root access \
                        to the engine's host; use a Unix socket or SSH tunnel, or opt in explicitly to allow it";

/// Connects to an engine's TCP port.
#[derive(Clone, Debug)]
pub struct TcpConnector {
    host: String,
    port: u16,
    remote: Remote,
    endpoint: String,
}

impl TcpConnector {
    /// A connector for `tcp://host:port` (the scheme may be left out).
    pub fn new(url: &str, remote: Remote) -> Result<Self, Error> {
        let bad = |why: &str| Error::Endpoint { endpoint: url.to_string(), why: why.to_string() };
        let rest = url.strip_prefix("tcp://").unwrap_or(url);
        let rest = rest.trim_end_matches('/');
        if rest.contains('/') {
            return Err(bad("expected tcp://host:port with no path"));
        }
        let (host, port) = rest.rsplit_once(':').ok_or_else(|| bad("expected tcp://host:port"))?;
        let port: u16 = port.parse().map_err(|_| bad("the port is not a number from 1 to 65535"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || port == 0 {
            return Err(bad("expected tcp://host:port"));
        }
        if remote == Remote::Refuse {
            let literal = host.parse::<std::net::IpAddr>().ok();
            if literal.is_some_and(|ip| !ip.is_loopback()) {
                return Err(bad(INSECURE));
            }
        }
        let endpoint = match host.contains(':') {
            true => format!("tcp://[{host}]:{port}"),
            false => format!("tcp://{host}:{port}"),
        };
        Ok(TcpConnector { host: host.to_string(), port, remote, endpoint })
    }
}

impl Connector for TcpConnector {
    fn connect(&self) -> BoxFuture<'_, io::Result<BoxIo>> {
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((self.host.as_str(), self.port)).await?.collect();
            let allowed: Vec<SocketAddr> =
                addrs.iter().copied().filter(|a| self.remote == Remote::Allow || a.ip().is_loopback()).collect();
            if allowed.is_empty() {
                let kind = if addrs.is_empty() { io::ErrorKind::NotFound } else { io::ErrorKind::PermissionDenied };
                let why = if addrs.is_empty() { "the host name did not resolve" } else { INSECURE };
                return Err(io::Error::new(kind, why));
            }
            let stream = tokio::net::TcpStream::connect(&allowed[..]).await?;
            stream.set_nodelay(true)?;
            Ok(Box::new(stream) as BoxIo)
        })
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn connect_blocking(&self, timeout: std::time::Duration) -> io::Result<Box<dyn BlockingIo>> {
        use std::net::ToSocketAddrs;
        let addr = (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .find(|a| self.remote == Remote::Allow || a.ip().is_loopback())
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no usable address"))?;
        let s = std::net::TcpStream::connect_timeout(&addr, timeout)?;
        s.set_read_timeout(Some(timeout))?;
        s.set_write_timeout(Some(timeout))?;
        Ok(Box::new(s))
    }

    fn is_local(&self) -> bool {
        self.host == "localhost" || self.host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// An engine at `tcp://host:port`. Nothing is sent until it is used.
pub fn engine(url: &str, remote: Remote) -> Result<Engine, Error> {
    Ok(Engine::new(TcpConnector::new(url, remote)?))
}

/// Connects to the engine at `tcp://host:port` and pings it.
pub async fn connect(url: &str, remote: Remote) -> Result<Engine, Error> {
    let e = engine(url, remote)?;
    e.ping().await?;
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            TcpConnector::new("tcp://127.0.0.1:2375", Remote::Refuse).map(|c| c.endpoint).ok().as_deref(),
            Some("tcp://127.0.0.1:2375")
        );
        assert!(TcpConnector::new("tcp://[::1]:2375", Remote::Refuse).is_ok());
        assert!(TcpConnector::new("localhost:2375", Remote::Refuse).is_ok());
        for bad in ["tcp://127.0.0.1", "tcp://:2375", "tcp://h:0", "tcp://h:99999", "tcp://h:1/path"] {
            assert!(matches!(TcpConnector::new(bad, Remote::Refuse), Err(Error::Endpoint { .. })), "{bad}");
        }
        let refused = TcpConnector::new("tcp://192.0.2.10:2375", Remote::Refuse).map(|_| ()).unwrap_err();
        assert!(refused.to_string().contains("unauthenticated root access"), "{refused}");
        assert!(TcpConnector::new("tcp://192.0.2.10:2375", Remote::Allow).is_ok());
    }
}
