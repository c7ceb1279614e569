//! A connector that notes when a swarm job's requests go out (item 7).
//!
//! The events of a swarm job do not say when the task was seen ended: the
//! `ProcessEnd` comes after the final read of the service's logs. So the
//! bench connects through [`Tap`], a Unix socket connector that watches the
//! request lines written on it: the first `GET .../logs?follow=0` (the final
//! read, sent as soon as a poll saw the task ended) and the task polls
//! (`GET .../tasks?`). Reads are not touched.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use cstream_engine::UnixConnector;
use cstream_engine::driver::{BoxFuture, BoxIo, Connector};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::clients::Res;

/// What was written since the last [`Shared::take`].
#[derive(Clone, Debug, Default)]
pub struct Marks {
    /// When the first final read of a service's logs was written.
    pub final_read: Option<Instant>,
    /// How many task polls were written.
    pub task_polls: u32,
}

/// The marks of every connection of one engine.
#[derive(Clone, Debug, Default)]
pub struct Shared(Arc<Mutex<Marks>>);

impl Shared {
    /// The marks so far, cleared.
    pub fn take(&self) -> Marks {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }

    fn saw(&self, head: &[u8]) {
        let is = |prefix: &[u8], part: &[u8]| head.starts_with(prefix) && head.windows(part.len()).any(|w| w == part);
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if is(b"GET /", b"/logs?follow=0") {
            m.final_read.get_or_insert_with(Instant::now);
        } else if is(b"GET /", b"/tasks?") {
            m.task_polls += 1;
        }
    }
}

/// A Unix socket connector whose connections note what is written on them.
pub struct Tap {
    inner: UnixConnector,
    marks: Shared,
}

impl Tap {
    /// A tapped engine at `endpoint` (`unix:///path`), pinged, and its marks.
    pub async fn engine(endpoint: &str) -> Res<(cstream_engine::Engine, Shared)> {
        let path =
            endpoint.strip_prefix("unix://").ok_or_else(|| format!("{endpoint}: item 7 wants unix:// endpoints"))?;
        let marks = Shared::default();
        let engine = cstream_engine::Engine::new(Tap { inner: UnixConnector::new(path), marks: marks.clone() });
        engine.ping().await.map_err(|e| format!("ping {endpoint}: {e}"))?;
        Ok((engine, marks))
    }
}

impl Connector for Tap {
    fn connect(&self) -> BoxFuture<'_, io::Result<BoxIo>> {
        Box::pin(async move {
            let io = self.inner.connect().await?;
            Ok(Box::new(Tapped { io, marks: self.marks.clone() }) as BoxIo)
        })
    }

    fn endpoint(&self) -> &str {
        self.inner.endpoint()
    }

    fn is_local(&self) -> bool {
        self.inner.is_local()
    }
}

/// One connection, tapped.
struct Tapped {
    io: BoxIo,
    marks: Shared,
}

impl AsyncRead for Tapped {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Tapped {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let done = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(done, Poll::Ready(Ok(_))) {
            self.marks.saw(buf);
        }
        done
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let done = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(done, Poll::Ready(Ok(_))) {
            if let Some(first) = bufs.iter().find(|b| !b.is_empty()) {
                self.marks.saw(first);
            }
        }
        done
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
