//! Keep-alive HTTP/1 connections to one engine.
//!
//! A request takes an idle connection, or opens one; a connection whose
//! answer was read to its end goes back to the pool. Upgraded, aborted or
//! failed connections never do.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use crate::connect::Connector;

type Sender = SendRequest<Full<Bytes>>;

/// Most idle connections kept per engine.
const MAX_IDLE: usize = 16;

pub(crate) struct Pool {
    connector: Arc<dyn Connector>,
    idle: Mutex<Vec<Sender>>,
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
    pub(crate) async fn checkout(&self) -> Result<Sender, ConnectError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let Some(mut sender) = idle else { break };
            if sender.ready().await.is_ok() {
                return Ok(sender);
            }
        }
        let io = self.connector.connect().await?;
        let (sender, conn) = http1::handshake(TokioIo::new(io)).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!("engine connection ended: {e}");
            }
        });
        Ok(sender)
    }

    /// Returns a connection whose last answer was read to its end.
    pub(crate) fn checkin(&self, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(sender);
        }
    }
}
