//! Keep-alive HTTP/1 connections to one engine.
//!
//! A request takes an idle connection, or opens one; a connection whose
//! answer was read to its end goes back to the pool. Upgraded, aborted or
//! failed connections never do.
//!
//! A connection has no task of its own: whoever uses it drives its I/O
//! ([`Conn::send`], [`Conn::drive`]) while waiting for its answer, so an
//! answer wakes the task that waits for it and nothing in between.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use crate::connect::Connector;

type Sender = SendRequest<Full<Bytes>>;
/// The connection's I/O (hyper's connection, which carries upgrades; its type has no name).
type Io = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// Most idle connections kept per engine.
const MAX_IDLE: usize = 16;

pub(crate) struct Pool {
    connector: Arc<dyn Connector>,
    idle: Mutex<Vec<Conn>>,
}

/// One connection: where requests go, and its I/O, driven by its user.
pub(crate) struct Conn {
    sender: Sender,
    /// `None` once the connection ended: closed, failed, or upgraded (its
    /// socket then belongs to the upgrade).
    io: Option<Io>,
}

impl Conn {
    /// Sends `request` and waits for its answer's head.
    pub(crate) async fn send(
        &mut self,
        request: http::Request<Full<Bytes>>,
    ) -> hyper::Result<http::Response<Incoming>> {
        let Conn { sender, io } = self;
        drive(io, sender.send_request(request)).await
    }

    /// Waits for `work` (reading the answer's body, or its upgrade) while
    /// driving the connection.
    pub(crate) async fn drive<F: Future>(&mut self, work: F) -> F::Output {
        drive(&mut self.io, work).await
    }
}

/// Polls the connection's I/O, then `work`, until `work` is done.
async fn drive<F: Future>(io: &mut Option<Io>, work: F) -> F::Output {
    let mut work = pin!(work);
    poll_fn(|cx| {
        if let Some(conn) = io
            && let Poll::Ready(ended) = conn.as_mut().poll(cx)
        {
            if let Err(e) = ended {
                tracing::debug!("engine connection ended: {e}");
            }
            *io = None;
        }
        work.as_mut().poll(cx)
    })
    .await
}

/// Why a connection could not be had.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("HTTP handshake failed: {0}")]
    Handshake(#[from] hyper::Error),
}

impl Pool {
    pub(crate) fn new(connector: Arc<dyn Connector>) -> Self {
        Pool { connector, idle: Mutex::new(Vec::new()) }
    }

    pub(crate) fn endpoint(&self) -> &str {
        self.connector.endpoint()
    }

    pub(crate) fn connector(&self) -> &dyn Connector {
        &*self.connector
    }

    pub(crate) fn is_local(&self) -> bool {
        self.connector.is_local()
    }

    /// An idle connection ready for a request, or a new one.
    pub(crate) async fn checkout(&self) -> Result<Conn, ConnectError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(mut conn) = idle else { break };
            let Conn { sender, io } = &mut conn;
            if drive(io, poll_fn(|cx| sender.poll_ready(cx))).await.is_ok() {
                return Ok(conn);
            }
        }
        let io = self.connector.connect().await?;
        let (sender, io) = http1::handshake(TokioIo::new(io)).await?;
        Ok(Conn { sender, io: Some(Box::pin(io.with_upgrades())) })
    }

    /// Returns a connection whose last answer was read to its end.
    pub(crate) fn checkin(&self, conn: Conn) {
        if conn.io.is_none() || conn.sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}
