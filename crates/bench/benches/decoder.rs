//! Item 5: the multiplexed attach stream (8-byte header, payload) through
//! cstream's decoder and bollard's, with a plain memcpy as the ceiling.
//!
//! Every variant gets the same 4 MiB of frames per iteration, handed over in
//! reads of at most 64 KiB the way a socket gives them, and each pays for
//! copying those reads into its own buffer (as the kernel's read does):
//!
//! - `cstream`: the read loop of `crates/driver-hyper/src/exchange.rs` (a
//!   `BytesMut` of 64 KiB, refilled when under 16 KiB are free, each read
//!   split off and frozen), then `FrameDecoder::decode` until it wants more.
//! - `bollard`: `tokio_util::codec::FramedRead` with bollard's decoder, as
//!   `Docker::attach_container` builds it. That decoder,
//!   `NewlineLogOutputDecoder` in bollard 0.21.1's `src/read.rs`, is private
//!   to bollard, so [`BollardDecoder`] below reimplements its algorithm step
//!   for step (with `is_tcp = true`, which is what `attach_container` passes).
//! - `memcpy`: each 64 KiB read copied into one reused buffer, nothing else.
//!
//! The `…-reads128KiB` groups do the same with reads of up to 128 KiB for
//! every variant (the driver's adaptive read loop, which doubles its buffer
//! while reads fill it, went up to 128 KiB until it was capped at 64 KiB
//! for memory); `cstream`'s buffer is then 128 KiB, refilled the same way.
//!
//! Throughput counts the bytes of the stream, headers included.

mod common;

use std::hint::black_box;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::{BufMut, Bytes, BytesMut};
use common::{READ, stream_of};
use criterion::{Criterion, Throughput};
use cstream_proto_core::decode::FrameDecoder;
use futures_util::Stream;
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::codec::{Decoder, FramedRead};

/// The largest read of the driver's adaptive read loop.
const BIG_READ: usize = 128 * 1024;

// ---- cstream ------------------------------------------------------------------

/// The driver's read loop (reads of up to `read` bytes) and the core's
/// decoder; returns the payload bytes seen.
fn cstream(input: &[u8], read: usize) -> u64 {
    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::with_capacity(read);
    let mut pos = 0;
    let mut seen = 0u64;
    while pos < input.len() {
        // As exchange.rs: top the buffer up, then read into its free space.
        if buf.capacity() < read / 4 {
            buf.reserve(read);
        }
        let n = (buf.capacity() - buf.len()).min(read).min(input.len() - pos);
        buf.put_slice(&input[pos..pos + n]);
        pos += n;
        let mut data = buf.split().freeze();
        while let Ok(Some(chunk)) = decoder.decode(&mut data) {
            seen += black_box(chunk.data).len() as u64;
        }
    }
    seen
}

// ---- bollard ------------------------------------------------------------------

/// What bollard's decoder yields (bollard's `LogOutput`).
#[allow(dead_code)]
enum LogOutput {
    StdErr { message: Bytes },
    StdOut { message: Bytes },
    StdIn { message: Bytes },
    Console { message: Bytes },
}

impl LogOutput {
    fn len(&self) -> usize {
        match self {
            LogOutput::StdErr { message }
            | LogOutput::StdOut { message }
            | LogOutput::StdIn { message }
            | LogOutput::Console { message } => message.len(),
        }
    }
}

#[derive(Clone, Copy)]
enum BollardState {
    WaitingHeader,
    WaitingPayload(u8, usize),
}

/// A reimplementation, for this benchmark only, of bollard 0.21.1's
/// crate-private `NewlineLogOutputDecoder` (`src/read.rs`): the same states,
/// the same checks, the same `BytesMut` splits, the same `trace!` per
/// payload. Not a copy of its source; `is_tcp` is fixed to `true`, as
/// `Docker::attach_container` sets it.
struct BollardDecoder {
    state: BollardState,
    is_tcp: bool,
}

impl Decoder for BollardDecoder {
    type Item = LogOutput;
    type Error = io::Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<LogOutput>, io::Error> {
        loop {
            match self.state {
                BollardState::WaitingHeader => {
                    // A first byte above 2 is taken for raw (unframed) output.
                    if !src.is_empty() && src[0] > 2 {
                        if self.is_tcp {
                            return Ok(Some(LogOutput::Console { message: src.split().freeze() }));
                        }
                        return match src.iter().position(|b| *b == b'\n') {
                            Some(nl) => Ok(Some(LogOutput::Console { message: src.split_to(nl + 1).freeze() })),
                            None => Ok(None),
                        };
                    }
                    if src.len() < 8 {
                        return Ok(None);
                    }
                    let header = src.split_to(8);
                    let len = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
                    self.state = BollardState::WaitingPayload(header[0], len);
                }
                BollardState::WaitingPayload(stream, len) => {
                    if src.len() < len {
                        return Ok(None);
                    }
                    log::trace!("NewlineLogOutputDecoder: Reading payload");
                    let message = src.split_to(len).freeze();
                    self.state = BollardState::WaitingHeader;
                    return Ok(Some(match stream {
                        0 => LogOutput::StdIn { message },
                        1 => LogOutput::StdOut { message },
                        2 => LogOutput::StdErr { message },
                        _ => unreachable!(),
                    }));
                }
            }
        }
    }
}

/// An in-memory "socket": at most `read` bytes per read, always ready.
struct Socket<'a> {
    input: &'a [u8],
    read: usize,
}

impl AsyncRead for Socket<'_> {
    fn poll_read(mut self: Pin<&mut Self>, _: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let n = buf.remaining().min(self.read).min(self.input.len());
        buf.put_slice(&self.input[..n]);
        self.input = &self.input[n..];
        Poll::Ready(Ok(()))
    }
}

/// `FramedRead` with bollard's decoder, polled to the end; returns the payload bytes seen.
fn bollard(input: &[u8], read: usize) -> u64 {
    let mut framed =
        FramedRead::new(Socket { input, read }, BollardDecoder { state: BollardState::WaitingHeader, is_tcp: true });
    let mut cx = Context::from_waker(Waker::noop());
    let mut seen = 0u64;
    // The socket is always ready, so the stream never returns Pending.
    while let Poll::Ready(Some(Ok(item))) = Pin::new(&mut framed).poll_next(&mut cx) {
        seen += black_box(item).len() as u64;
    }
    seen
}

// ---- the ceiling ----------------------------------------------------------------

/// Each read (of `buf.len()` bytes at most) copied into one reused buffer.
fn memcpy(input: &[u8], buf: &mut [u8]) -> u64 {
    let mut seen = 0u64;
    for chunk in input.chunks(buf.len()) {
        buf[..chunk.len()].copy_from_slice(chunk);
        seen += black_box(&buf[..chunk.len()]).len() as u64;
    }
    seen
}

fn decoders(c: &mut Criterion) {
    let sizes = [(16, "16B"), (1024, "1KiB"), (32 * 1024, "32KiB")];
    let reads = [(READ, ""), (BIG_READ, "-reads128KiB")];
    for ((read, suffix), (payload, name)) in reads.into_iter().flat_map(|r| sizes.map(|s| (r, s))) {
        let input = stream_of(payload);
        let payload_total = (input.len() / (8 + payload) * payload) as u64;
        assert_eq!(cstream(&input, read), payload_total, "cstream decodes every payload byte");
        assert_eq!(bollard(&input, read), payload_total, "bollard decodes every payload byte");
        let mut group = c.benchmark_group(format!("decode-{name}{suffix}"));
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function("cstream", |b| b.iter(|| cstream(black_box(&input), read)));
        group.bench_function("bollard", |b| b.iter(|| bollard(black_box(&input), read)));
        let mut buf = vec![0u8; read];
        group.bench_function("memcpy", |b| b.iter(|| memcpy(black_box(&input), &mut buf)));
        group.finish();
    }
}

fn main() {
    // What `criterion_group!` and `criterion_main!` expand to, without their undocumented `pub fn`.
    let mut c = Criterion::default().configure_from_args();
    decoders(&mut c);
    c.final_summary();
}
