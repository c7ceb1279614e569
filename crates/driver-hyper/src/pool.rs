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
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;

use crate::connect::Connector;
use crate::relay::Relay;

type Sender = SendRequest<Full<Bytes>>;
/// The connection's I/O (hyper's connection, which carries upgrades; its type has no name).
type Io = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// Most idle connections kept per engine.
const MAX_IDLE: usize = 16;

pub(crate) struct Pool {
    connector: Arc<dyn Connector>,
    idle: Mutex<Vec<Conn>>,
    /// Connections being opened ahead of need ([`Pool::prewarm`]).
    warming: AtomicUsize,
}

/// One connection: where requests go, and its I/O, driven by its user.
pub(crate) struct Conn {
    sender: Sender,
    io: Driven,
}

/// A connection's I/O, and the waker it and its request are polled with.
struct Driven {
    /// `None` once the connection ended: closed, failed, or upgraded (its
    /// socket then belongs to the upgrade).
    conn: Option<Io>,
    relay: Relay,
}

impl Conn {
    /// Sends `request` and waits for its answer's head.
    pub(crate) async fn send(
        &mut self,
        request: http::Request<Full<Bytes>>,
    ) -> hyper::Result<http::Response<Incoming>> {
        let Conn { sender, io } = self;
        io.drive(sender.send_request(request)).await
    }

    /// Waits for `work` (reading the answer's body, or its upgrade) while
    /// driving the connection.
    pub(crate) async fn drive<F: Future>(&mut self, work: F) -> F::Output {
        self.io.drive(work).await
    }
}

impl Driven {
    /// Polls the connection's I/O, then `work`, until `work` is done.
    async fn drive<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = pin!(work);
        let Driven { conn, relay } = self;
        poll_fn(|cx| {
            relay.poll(cx, |cx| {
                if let Some(io) = conn
                    && let Poll::Ready(ended) = io.as_mut().poll(cx)
                {
                    if let Err(e) = ended {
                        tracing::debug!("engine connection ended: {e}");
                    }
                    *conn = None;
                }
                work.as_mut().poll(cx)
            })
        })
        .await
    }
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
        Pool { connector, idle: Mutex::new(Vec::new()), warming: AtomicUsize::new(0) }
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
            if io.drive(poll_fn(|cx| sender.poll_ready(cx))).await.is_ok() {
                return Ok(conn);
            }
        }
        self.open().await
    }

    async fn open(&self) -> Result<Conn, ConnectError> {
        let io = self.connector.connect().await?;
        let (sender, io) = http1::handshake(TokioIo::new(io)).await?;
        Ok(Conn { sender, io: Driven { conn: Some(Box::pin(io.with_upgrades())), relay: Relay::new() } })
    }

    /// Opens a connection in the background, on `runtime`, unless two are
    /// idle or being opened. A run's attach and wait go out together once
    /// its create is answered, and the attach keeps its connection for good,
    /// so each run needs a new connection then, on the way to its start.
    /// Opened while the ping and the create are out, it is ready by then
    /// (over ssh, where each connection is an ssh process, that is most of
    /// a second).
    pub(crate) fn prewarm(self: &Arc<Self>, runtime: &tokio::runtime::Handle) {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).len();
        if idle + self.warming.load(Ordering::Relaxed) >= 2 {
            return;
        }
        self.warming.fetch_add(1, Ordering::Relaxed);
        let pool = self.clone();
        runtime.spawn(async move {
            match pool.open().await {
                Ok(conn) => pool.checkin(conn),
                Err(e) => tracing::debug!("opening a connection ahead of need: {e}"),
            }
            pool.warming.fetch_sub(1, Ordering::Relaxed);
        });
    }

    /// Returns a connection whose last answer was read to its end.
    pub(crate) fn checkin(&self, conn: Conn) {
        if conn.io.conn.is_none() || conn.sender.is_closed() {
            return;
        }
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::time::Duration;

    use super::*;
    use crate::connect::{BoxFuture, BoxIo};

    /// An engine that accepts connections, counts them, and never answers.
    struct Counting {
        connects: Arc<AtomicUsize>,
        /// The engine's ends, open as long as the pool.
        ends: Mutex<Vec<tokio::io::DuplexStream>>,
    }

    impl Connector for Counting {
        fn connect(&self) -> BoxFuture<'_, std::io::Result<BoxIo>> {
            self.connects.fetch_add(1, Ordering::SeqCst);
            let (client, server) = tokio::io::duplex(1024);
            self.ends.lock().unwrap().push(server);
            Box::pin(async { Ok(Box::new(client) as BoxIo) })
        }

        fn endpoint(&self) -> &str {
            "test://counting"
        }
    }

    /// An engine whose ends are left to the test to answer from.
    #[derive(Default)]
    struct ByHand {
        ends: Mutex<Vec<tokio::io::DuplexStream>>,
    }

    impl Connector for ByHand {
        fn connect(&self) -> BoxFuture<'_, std::io::Result<BoxIo>> {
            let (client, server) = tokio::io::duplex(4096);
            self.ends.lock().unwrap().push(server);
            Box::pin(async { Ok(Box::new(client) as BoxIo) })
        }

        fn endpoint(&self) -> &str {
            "test://by-hand"
        }
    }

    /// A connection and the request on it wake each other as they go, and
    /// both are polled by the task that waits: none of those wakes may
    /// reschedule it (on a multi-threaded runtime that wakes another worker
    /// to steal it, for nothing). The task is woken once per request: when
    /// the answer comes.
    #[tokio::test]
    async fn a_request_wakes_its_task_once_when_the_answer_comes() {
        use http_body_util::BodyExt;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let engine = Arc::new(ByHand::default());
        let pool = Pool::new(engine.clone());
        let wakes = Arc::new(crate::relay::tests::Count::default());
        let waker = std::task::Waker::from(wakes.clone());
        let mut cx = std::task::Context::from_waker(&waker);
        let mut conn = pool.checkout().await.unwrap();
        let mut server = engine.ends.lock().unwrap().pop().unwrap();
        // The same connection twice: the second request goes on a kept-alive one.
        for round in 0..2 {
            let request = http::Request::get("/_ping").body(Full::new(Bytes::new())).unwrap();
            let mut answer = pin!(async {
                let head = conn.send(request).await?;
                conn.drive(head.into_body().collect()).await.map(|b| b.to_bytes())
            });
            assert!(answer.as_mut().poll(&mut cx).is_pending(), "round {round}");
            let mut seen = Vec::new();
            while !seen.ends_with(b"\r\n\r\n") {
                seen.push(server.read_u8().await.unwrap());
            }
            assert_eq!(wakes.0.load(Ordering::SeqCst), round, "round {round}: woken before the answer");
            server.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}").await.unwrap();
            let polled = answer.as_mut().poll(&mut cx);
            assert!(matches!(&polled, Poll::Ready(Ok(body)) if body == "{}"), "round {round}: {polled:?}");
            assert_eq!(wakes.0.load(Ordering::SeqCst), round + 1, "round {round}: woken other than by the answer");
        }
    }

    async fn idle_after_warming(pool: &Arc<Pool>) -> usize {
        for _ in 0..200 {
            if pool.warming.load(Ordering::SeqCst) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        pool.idle.lock().unwrap().len()
    }

    #[tokio::test]
    async fn prewarm_keeps_two_connections_ready_and_no_more() {
        let connects = Arc::new(AtomicUsize::new(0));
        let engine = Counting { connects: connects.clone(), ends: Mutex::default() };
        let pool = Arc::new(Pool::new(Arc::new(engine)));
        let runtime = tokio::runtime::Handle::current();
        pool.prewarm(&runtime);
        assert_eq!(idle_after_warming(&pool).await, 1, "one opened ahead of need");
        pool.prewarm(&runtime);
        assert_eq!(idle_after_warming(&pool).await, 2);
        pool.prewarm(&runtime);
        assert_eq!(idle_after_warming(&pool).await, 2, "two ready: nothing more opened");
        assert_eq!(connects.load(Ordering::SeqCst), 2);
        let conn = pool.checkout().await.unwrap();
        assert_eq!(connects.load(Ordering::SeqCst), 2, "a request takes one opened ahead");
        pool.checkin(conn);
    }
}
