//! The multiplexed stdout/stderr stream of a non-TTY attach ("stdcopy").
//!
//! Each frame is an 8-byte header, `[stream, 0, 0, 0, len as u32 big-endian]`,
//! then `len` payload bytes. Stream 0 (stdin, echoed) and 1 are stdout, 2 is
//! stderr, 3 is an error from the engine.
//!
//! A frame up to `max_hold` bytes is passed on only once it is complete, so
//! a frame cut off at end of stream is reported as an error and never shown
//! as output. A frame within one input chunk is sliced out without copying.
//! A declared length is never trusted for allocation: longer frames are
//! passed on in pieces as their bytes arrive.

use alloc::string::{String, ToString};

use bytes::{Buf, Bytes, BytesMut};

use crate::event::Stream;

const HEADER: usize = 8;
const MAX_ENGINE_ERROR: usize = 64 * 1024;

/// A piece of output: a whole frame, or a piece of a frame longer than the hold limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// Stdout or stderr.
    pub stream: Stream,
    /// The payload bytes.
    pub data: Bytes,
}

/// Why a multiplexed stream cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum FrameError {
    /// The stream byte is not 0, 1, 2 or 3.
    #[error("unknown stream {0} in an output frame header")]
    UnknownStream(u8),
    /// Header bytes 1 to 3 are not zero: this is not a multiplexed stream.
    #[error("malformed output frame header {0:02x?}")]
    MalformedHeader([u8; 8]),
    /// The stream ended inside a frame; what was held of it is dropped.
    #[error("output stream cut inside a frame: {missing} of {declared} bytes missing")]
    Truncated {
        /// The frame's declared payload length (8 for a cut header).
        declared: u64,
        /// How many bytes did not arrive.
        missing: u64,
    },
    /// The engine sent an error in-band (stream 3).
    #[error("the engine reported an error on the output stream: {0}")]
    Engine(String),
}

#[derive(Debug)]
enum State {
    Header { buf: [u8; HEADER], len: usize },
    Payload { stream: u8, declared: u32, remaining: u32, hold: bool },
    Failed,
}

/// Decodes the multiplexed attach stream.
#[derive(Debug)]
pub struct FrameDecoder {
    state: State,
    held: BytesMut,
    max_hold: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        FrameDecoder::new(256 * 1024)
    }
}

impl FrameDecoder {
    /// A decoder that holds frames up to `max_hold` bytes until they are whole.
    pub fn new(max_hold: usize) -> Self {
        FrameDecoder { state: State::Header { buf: [0; HEADER], len: 0 }, held: BytesMut::new(), max_hold }
    }

    /// Takes bytes from the front of `input` and returns the next chunk of
    /// output, or `Ok(None)` once `input` is used up. After an error the
    /// decoder stays failed and takes nothing more.
    pub fn decode(&mut self, input: &mut Bytes) -> Result<Option<Chunk>, FrameError> {
        loop {
            match &mut self.state {
                State::Failed => return Ok(None),
                State::Header { buf, len } => {
                    let n = (HEADER - *len).min(input.len());
                    for (dst, src) in buf.iter_mut().skip(*len).zip(input.iter().take(n)) {
                        *dst = *src;
                    }
                    input.advance(n);
                    *len += n;
                    if *len < HEADER {
                        return Ok(None);
                    }
                    let header = *buf;
                    self.start_frame(header)?;
                }
                State::Payload { stream, remaining, hold, .. } => {
                    if input.is_empty() {
                        return Ok(None);
                    }
                    let stream = *stream;
                    let n = (*remaining as usize).min(input.len());
                    *remaining -= n as u32;
                    let done = *remaining == 0;
                    let piece = if *hold && !(done && self.held.is_empty()) {
                        // Gather a held frame; keep at most the error cap for stream 3.
                        let keep =
                            if stream == 3 { n.min(MAX_ENGINE_ERROR.saturating_sub(self.held.len())) } else { n };
                        self.held.extend_from_slice(&input.split_to(n).slice(..keep));
                        if !done {
                            continue;
                        }
                        self.held.split().freeze()
                    } else {
                        input.split_to(n)
                    };
                    if done {
                        self.state = State::Header { buf: [0; HEADER], len: 0 };
                    }
                    match stream {
                        3 if done => return self.engine_error(piece),
                        3 => continue,
                        2 => return Ok(Some(Chunk { stream: Stream::Stderr, data: piece })),
                        _ => return Ok(Some(Chunk { stream: Stream::Stdout, data: piece })),
                    }
                }
            }
        }
    }

    fn start_frame(&mut self, h: [u8; HEADER]) -> Result<(), FrameError> {
        if h[0] > 3 {
            self.state = State::Failed;
            return Err(FrameError::UnknownStream(h[0]));
        }
        if h[1..4] != [0, 0, 0] {
            self.state = State::Failed;
            return Err(FrameError::MalformedHeader(h));
        }
        let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
        self.state = match len {
            0 => State::Header { buf: [0; HEADER], len: 0 },
            _ => {
                let hold = h[0] == 3 || len as usize <= self.max_hold;
                State::Payload { stream: h[0], declared: len, remaining: len, hold }
            }
        };
        Ok(())
    }

    fn engine_error(&mut self, piece: Bytes) -> Result<Option<Chunk>, FrameError> {
        self.state = State::Failed;
        let piece = piece.slice(..piece.len().min(MAX_ENGINE_ERROR));
        let msg = String::from_utf8_lossy(&piece).trim().to_string();
        Err(FrameError::Engine(msg))
    }

    /// Says whether the stream ended on a frame boundary. A frame cut short
    /// is an error, and its held bytes are dropped, never output.
    pub fn finish(&mut self) -> Result<(), FrameError> {
        let result = match &self.state {
            State::Header { len: 0, .. } | State::Failed => Ok(()),
            State::Header { len, .. } => {
                Err(FrameError::Truncated { declared: HEADER as u64, missing: (HEADER - len) as u64 })
            }
            State::Payload { declared, remaining, .. } => {
                Err(FrameError::Truncated { declared: u64::from(*declared), missing: u64::from(*remaining) })
            }
        };
        self.held.clear();
        self.state = State::Failed;
        result
    }

    /// Bytes held back, waiting for the rest of their frame.
    pub fn held(&self) -> usize {
        self.held.len()
    }
}
