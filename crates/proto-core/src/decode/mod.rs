//! Streaming decoders: bytes in as they arrive, split anywhere; items out
//! without copying payloads where the input allows.
//!
//! Each decoder follows one contract, httparse-style: call `decode` with the
//! unread bytes; it takes what it uses from the front and returns
//! `Ok(Some(item))`, or `Ok(None)` when it needs more input (it has taken
//! everything it was given). At end of stream call `finish`, which says
//! whether the stream ended cleanly.

mod frames;
mod lines;

pub use frames::{Chunk, FrameDecoder, FrameError};
pub use lines::{LineDecoder, LineError};
