//! Gathers output into fewer, larger events when the spec asks for it.

use core::time::Duration;

use bytes::{Bytes, BytesMut};

use crate::event::Stream;
use crate::spec::Coalesce;

/// Gathers pieces of output per [`Coalesce`]; used by the machine, and by
/// drivers that produce output events themselves (the local-process driver).
#[derive(Debug)]
pub struct Coalescer {
    cfg: Coalesce,
    held: Option<(Stream, BytesMut, Duration)>,
}

impl Coalescer {
    /// A coalescer following `cfg`.
    pub fn new(cfg: Coalesce) -> Self {
        Coalescer { cfg, held: None }
    }

    /// Takes a piece of output; calls `emit` for whatever is due now, in order.
    pub fn push(&mut self, now: Duration, stream: Stream, data: Bytes, mut emit: impl FnMut(Stream, Bytes)) {
        if self.cfg.flush_interval.is_zero() {
            return emit(stream, data);
        }
        if self.held.as_ref().is_some_and(|(s, _, _)| *s != stream) {
            self.flush(&mut emit);
        }
        let (_, buf, _) = self.held.get_or_insert_with(|| (stream, BytesMut::new(), now));
        buf.extend_from_slice(&data);
        if buf.len() >= self.cfg.max_buffer {
            self.flush(&mut emit);
        }
    }

    /// Passes on everything held.
    pub fn flush(&mut self, mut emit: impl FnMut(Stream, Bytes)) {
        if let Some((stream, buf, _)) = self.held.take() {
            emit(stream, buf.freeze());
        }
    }

    /// When held output must be passed on.
    pub fn deadline(&self) -> Option<Duration> {
        self.held.as_ref().map(|(_, _, since)| *since + self.cfg.flush_interval)
    }
}
