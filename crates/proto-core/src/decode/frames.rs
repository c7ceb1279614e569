//! The multiplexed stdout/stderr stream of a non-TTY attach ("stdcopy").
//!
//! Each frame is an 8-byte header, `[stream, 0, 0, 0, len as u32 big-endian]`,
//! then `len` payload bytes. Stream 0 (stdin, echoed) and 1 are stdout, 2 is
//! stderr, 3 is an error from the engine.
//!
//! A frame up to `max_hold` bytes is passed on only once it is complete, so
//! a frame cut off at end of stream is reported as an error and never shown
//! as output. Payloads are not copied: a frame within one input chunk is
//! sliced out of it, and a frame cut across inputs is kept as slices of them
//! and passed on slice by slice, in order, once its last byte is in. (Only
//! past eight slices are the rest of its bytes copied, into one buffer, so
//! that tiny reads cannot make the list long.) A consumer may so see one
//! frame as several chunks; the bytes and their order are the stream's. A declared length is never trusted for allocation:
//! longer frames are passed on in pieces as their bytes arrive.
//!
//! ```
//! use bytes::Bytes;
//! use cstream_proto_core::Stream;
//! use cstream_proto_core::decode::FrameDecoder;
//!
//! let mut d = FrameDecoder::default();
//! // One stdout frame, "hi\n", cut after its first payload byte: it is held.
//! let mut first = Bytes::from_static(&[1, 0, 0, 0, 0, 0, 0, 3, b'h']);
//! assert_eq!(d.decode(&mut first), Ok(None));
//! assert_eq!(d.held(), 1);
//! let mut rest = Bytes::from_static(b"i\n");
//! let mut out = Vec::new();
//! while let Some(chunk) = d.decode(&mut rest).unwrap() {
//!     assert_eq!(chunk.stream, Stream::Stdout);
//!     out.extend_from_slice(&chunk.data);
//! }
//! assert_eq!(out, b"hi\n");
//! assert_eq!(d.finish(), Ok(()));
//! ```

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};

use bytes::{Buf, Bytes, BytesMut};

use crate::event::Stream;

const HEADER: usize = 8;
const MAX_ENGINE_ERROR: usize = 64 * 1024;
/// Header bits that must be zero: bytes 1 to 3, and all but the two low bits
/// of the stream byte (streams 0 to 3).
const HEADER_ZERO: u64 = 0xfcff_ffff_0000_0000;

/// How many slices of its inputs a frame cut across them is kept as; the
/// bytes of any further inputs are copied into one buffer behind them.
const MAX_PIECES: usize = 8;

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
    /// Between frames; `buf[..len]` is the start of a header cut by the input's end.
    Header {
        buf: [u8; HEADER],
        len: usize,
    },
    /// Inside a payload; `hold` says whether the frame is passed on only when whole.
    Payload {
        stream: u8,
        declared: u32,
        remaining: u32,
        hold: bool,
    },
    /// A held frame is whole: its pieces are being passed on, in order.
    Release {
        stream: Stream,
    },
    Failed,
}

const BETWEEN: State = State::Header { buf: [0; HEADER], len: 0 };

/// The bytes of a held frame that has not yet arrived whole.
#[derive(Debug, Default)]
struct Held {
    /// Slices of the inputs, in order; at most [`MAX_PIECES`] while gathering.
    pieces: VecDeque<Bytes>,
    /// What arrived once `pieces` was full, copied; it follows `pieces`.
    rest: BytesMut,
    /// Bytes in `pieces` and `rest`.
    len: usize,
}

impl Held {
    fn push(&mut self, piece: Bytes) {
        self.len += piece.len();
        if self.pieces.len() < MAX_PIECES && self.rest.is_empty() {
            self.pieces.push_back(piece);
        } else {
            self.rest.extend_from_slice(&piece);
        }
    }

    /// Ends gathering: `rest`, if any, becomes the last piece.
    fn seal(&mut self) {
        if !self.rest.is_empty() {
            self.pieces.push_back(self.rest.split().freeze());
        }
    }

    fn pop(&mut self) -> Option<Bytes> {
        let piece = self.pieces.pop_front()?;
        self.len -= piece.len();
        Some(piece)
    }

    /// All of it in one buffer (for an engine error, which is read whole).
    fn join(&mut self) -> Bytes {
        self.seal();
        let mut all = BytesMut::with_capacity(self.len);
        while let Some(piece) = self.pop() {
            all.extend_from_slice(&piece);
        }
        all.freeze()
    }

    fn clear(&mut self) {
        self.pieces.clear();
        self.rest.clear();
        self.len = 0;
    }
}

/// Decodes the multiplexed attach stream.
#[derive(Debug)]
pub struct FrameDecoder {
    state: State,
    held: Held,
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
        FrameDecoder { state: BETWEEN, held: Held::default(), max_hold }
    }

    /// Takes bytes from the front of `input` and returns the next chunk of
    /// output, or `Ok(None)` once `input` is used up. After an error the
    /// decoder stays failed and takes nothing more.
    pub fn decode(&mut self, input: &mut Bytes) -> Result<Option<Chunk>, FrameError> {
        loop {
            if let State::Header { len: 0, .. } = self.state {
                if let Some(&header) = input.first_chunk::<HEADER>() {
                    // A whole header in the input: read in place.
                    let (stream, len) = self.parse(header)?;
                    input.advance(HEADER);
                    let len = len as usize;
                    if len > input.len() {
                        self.start_payload(stream, len as u32);
                        continue;
                    }
                    // And the whole payload: sliced out, no state to keep.
                    if len == 0 {
                        continue;
                    }
                    let data = input.split_to(len);
                    return match stream {
                        3 => self.engine_error(data),
                        _ => Ok(Some(Chunk { stream: stream_of(stream), data })),
                    };
                }
            }
            match &mut self.state {
                // A header cut by the end of an input: gathered byte by byte.
                State::Header { buf, len } => {
                    let start = *len;
                    for (dst, src) in buf.iter_mut().skip(start).zip(input.iter()) {
                        *dst = *src;
                        *len += 1;
                    }
                    input.advance(*len - start);
                    if *len < HEADER {
                        return Ok(None);
                    }
                    let header = *buf;
                    let (stream, len) = self.parse(header)?;
                    self.start_payload(stream, len);
                }
                State::Payload { stream, remaining, hold, .. } => {
                    if input.is_empty() {
                        return Ok(None);
                    }
                    let stream = *stream;
                    let n = (*remaining as usize).min(input.len());
                    *remaining -= n as u32;
                    let done = *remaining == 0;
                    let hold = *hold;
                    let piece = input.split_to(n);
                    if done {
                        self.state = BETWEEN;
                    }
                    if stream == 3 {
                        // Always held, whatever its length, up to the error cap.
                        let keep = n.min(MAX_ENGINE_ERROR.saturating_sub(self.held.len));
                        if keep > 0 {
                            self.held.push(piece.slice(..keep));
                        }
                        if !done {
                            return Ok(None);
                        }
                        let message = self.held.join();
                        return self.engine_error(message);
                    }
                    let chunk = Chunk { stream: stream_of(stream), data: piece };
                    if !hold || (done && self.held.len == 0) {
                        return Ok(Some(chunk));
                    }
                    self.held.push(chunk.data);
                    if !done {
                        return Ok(None);
                    }
                    self.held.seal();
                    self.state = State::Release { stream: chunk.stream };
                }
                State::Release { stream } => {
                    let stream = *stream;
                    let Some(data) = self.held.pop() else {
                        self.state = BETWEEN;
                        continue;
                    };
                    if self.held.pieces.is_empty() {
                        self.state = BETWEEN;
                    }
                    return Ok(Some(Chunk { stream, data }));
                }
                State::Failed => return Ok(None),
            }
        }
    }

    /// The stream and payload length a header declares.
    fn parse(&mut self, h: [u8; HEADER]) -> Result<(u8, u32), FrameError> {
        let word = u64::from_be_bytes(h);
        let stream = (word >> 56) as u8;
        if word & HEADER_ZERO == 0 {
            return Ok((stream, word as u32));
        }
        self.state = State::Failed;
        if stream > 3 { Err(FrameError::UnknownStream(stream)) } else { Err(FrameError::MalformedHeader(h)) }
    }

    fn start_payload(&mut self, stream: u8, len: u32) {
        self.state = match len {
            0 => BETWEEN,
            _ => {
                let hold = stream == 3 || len as usize <= self.max_hold;
                State::Payload { stream, declared: len, remaining: len, hold }
            }
        };
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
            State::Header { len: 0, .. } | State::Release { .. } | State::Failed => Ok(()),
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

    /// Bytes held back: of a frame waiting for the rest of its bytes, or of
    /// a whole one not yet passed on.
    pub fn held(&self) -> usize {
        self.held.len
    }
}

/// Streams 0 (stdin, echoed) and 1 are stdout; 2 is stderr.
fn stream_of(stream: u8) -> Stream {
    match stream {
        2 => Stream::Stderr,
        _ => Stream::Stdout,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use alloc::vec::Vec;

    use super::*;

    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = alloc::vec![stream, 0, 0, 0];
        v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// `payload`, numbered so that a piece out of place shows.
    fn numbered(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    /// Feeds each input whole to `d`; returns every chunk, with the index of
    /// the input that released it, or the first error.
    fn feed(d: &mut FrameDecoder, inputs: &[Bytes]) -> Result<Vec<(usize, Chunk)>, FrameError> {
        let mut out = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            let mut input = input.clone();
            while let Some(chunk) = d.decode(&mut input)? {
                assert!(!chunk.data.is_empty(), "no empty chunks");
                out.push((i, chunk));
            }
            assert!(input.is_empty(), "None means all input was taken");
        }
        Ok(out)
    }

    /// `data` cut at `points` (ascending), as separate allocations.
    fn cut(data: &[u8], points: &[usize]) -> Vec<Bytes> {
        let mut bounds = Vec::from(points);
        bounds.insert(0, 0);
        bounds.push(data.len());
        bounds.windows(2).map(|w| Bytes::copy_from_slice(&data[w[0]..w[1]])).collect()
    }

    fn bytes_of(chunks: &[(usize, Chunk)], stream: Stream) -> Vec<u8> {
        chunks.iter().filter(|(_, c)| c.stream == stream).flat_map(|(_, c)| c.data.iter().copied()).collect()
    }

    #[test]
    fn a_header_cut_at_every_offset() {
        let first = frame(1, b"hello ");
        let mut stream = first.clone();
        stream.extend(frame(2, b"oops\n"));
        stream.extend(frame(1, b"world\n"));
        for offset in 1..HEADER {
            // The second frame's header cut `offset` bytes in.
            let at = first.len() + offset;
            let inputs = cut(&stream, &[at]);
            let mut d = FrameDecoder::new(1024);
            let chunks = feed(&mut d, &inputs).unwrap();
            assert_eq!(d.finish(), Ok(()), "offset {offset}");
            let got: Vec<(usize, Stream, &[u8])> = chunks.iter().map(|(i, c)| (*i, c.stream, &c.data[..])).collect();
            let want: Vec<(usize, Stream, &[u8])> = alloc::vec![
                (0, Stream::Stdout, b"hello "),
                (1, Stream::Stderr, b"oops\n"),
                (1, Stream::Stdout, b"world\n")
            ];
            assert_eq!(got, want, "offset {offset}");
            // After the cut header the payload is whole in the input: sliced, not copied.
            assert_eq!(chunks[1].1.data.as_ptr(), inputs[1][HEADER - offset..].as_ptr(), "offset {offset}");
        }
    }

    #[test]
    fn a_header_cut_into_single_bytes() {
        let stream = frame(2, b"slow");
        let points: Vec<usize> = (1..=HEADER).collect();
        let mut d = FrameDecoder::new(1024);
        let chunks = feed(&mut d, &cut(&stream, &points)).unwrap();
        assert_eq!(chunks, alloc::vec![(HEADER, Chunk { stream: Stream::Stderr, data: Bytes::from_static(b"slow") })]);
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn a_payload_cut_in_2_to_max_pieces_comes_out_as_those_slices_once_whole() {
        let payload = numbered(200);
        let data = frame(1, &payload);
        for n in 2..=MAX_PIECES {
            // The header with the first piece, then n - 1 more.
            let points: Vec<usize> = (1..n).map(|k| HEADER + k * payload.len() / n).collect();
            let inputs = cut(&data, &points);
            let mut d = FrameDecoder::new(1024);
            let mut chunks = Vec::new();
            for (i, input) in inputs.iter().enumerate() {
                let mut input = input.clone();
                let before = d.held();
                while let Some(chunk) = d.decode(&mut input).unwrap() {
                    chunks.push((i, chunk));
                }
                if i + 1 < n {
                    assert!(chunks.is_empty(), "{n} pieces: nothing before the last byte");
                    assert_eq!(d.held(), before + inputs[i].len() - if i == 0 { HEADER } else { 0 }, "{n} pieces");
                }
            }
            assert_eq!(d.held(), 0);
            assert_eq!(d.finish(), Ok(()));
            assert_eq!(chunks.len(), n, "one chunk per piece");
            for (k, (i, chunk)) in chunks.iter().enumerate() {
                let piece = if k == 0 { inputs[0].slice(HEADER..) } else { inputs[k].clone() };
                assert_eq!((*i, chunk.stream, &chunk.data), (n - 1, Stream::Stdout, &piece), "{n} pieces, piece {k}");
                assert_eq!(
                    chunk.data.as_ptr(),
                    piece.as_ptr(),
                    "{n} pieces, piece {k}: a slice of the input, not a copy"
                );
            }
        }
    }

    #[test]
    fn pieces_past_the_cap_are_joined_into_one_behind_the_others() {
        let payload = numbered(100);
        let data = frame(2, &payload);
        let pieces = MAX_PIECES + 5;
        // The header alone, then the payload in `pieces` inputs of 7 or 8 bytes (the last 16).
        let points: Vec<usize> = (0..pieces).map(|k| HEADER + k * 7).collect();
        let inputs = cut(&data, &points);
        assert_eq!(inputs.len(), pieces + 1);
        let mut d = FrameDecoder::new(1024);
        let chunks = feed(&mut d, &inputs).unwrap();
        assert_eq!(d.finish(), Ok(()));
        assert_eq!(chunks.len(), MAX_PIECES + 1);
        for (k, (i, chunk)) in chunks.iter().take(MAX_PIECES).enumerate() {
            assert_eq!((*i, &chunk.data), (pieces, &inputs[k + 1]), "piece {k}");
            assert_eq!(chunk.data.as_ptr(), inputs[k + 1].as_ptr(), "piece {k} is a slice");
        }
        assert_eq!(chunks[MAX_PIECES].1.data, payload[MAX_PIECES * 7..], "the rest, joined");
        assert_eq!(bytes_of(&chunks, Stream::Stderr), payload);
    }

    #[test]
    fn single_byte_inputs_give_the_frame_whole_and_in_order() {
        let payload = numbered(3000);
        let mut data = frame(1, &payload);
        data.extend(frame(2, b"after"));
        let points: Vec<usize> = (1..data.len()).collect();
        let mut d = FrameDecoder::new(4096);
        let chunks = feed(&mut d, &cut(&data, &points)).unwrap();
        assert_eq!(d.finish(), Ok(()));
        assert_eq!(chunks.len(), MAX_PIECES + 1 + 5, "the cap's slices, the rest joined, then the next frame's 5");
        assert!(chunks[..MAX_PIECES + 1].iter().all(|(i, _)| *i == HEADER + payload.len() - 1), "all once whole");
        assert_eq!(bytes_of(&chunks, Stream::Stdout), payload);
        assert_eq!(bytes_of(&chunks, Stream::Stderr), b"after");
    }

    #[test]
    fn a_frame_cut_at_end_of_stream_is_never_output() {
        let payload = numbered(500);
        let mut data = frame(1, b"whole\n");
        let start = data.len();
        data.extend(frame(2, &payload));
        for pieces in [1, 2, 3, MAX_PIECES, MAX_PIECES + 3] {
            // Everything but the last byte of the second frame, its payload in `pieces` inputs.
            let points: Vec<usize> = (0..pieces).map(|k| start + HEADER + k * 40).collect();
            let inputs = cut(&data[..data.len() - 1], &points);
            let mut d = FrameDecoder::new(1024);
            let chunks = feed(&mut d, &inputs).unwrap();
            assert_eq!(bytes_of(&chunks, Stream::Stdout), b"whole\n", "{pieces} pieces");
            assert_eq!(bytes_of(&chunks, Stream::Stderr), b"", "{pieces} pieces: nothing of the cut frame");
            assert_eq!(d.held(), 499);
            assert_eq!(d.finish(), Err(FrameError::Truncated { declared: 500, missing: 1 }), "{pieces} pieces");
            assert_eq!(d.held(), 0, "dropped");
            assert_eq!(d.decode(&mut Bytes::from(frame(1, b"late"))), Ok(None), "finished");
        }
    }

    #[test]
    fn an_engine_error_cut_across_inputs() {
        let message = b"error from daemon in stream: Error grabbing logs: unexpected EOF\n";
        let mut data = frame(1, b"before\n");
        let start = data.len();
        data.extend(frame(3, message));
        data.extend(frame(1, b"after\n"));
        for pieces in [2, MAX_PIECES, MAX_PIECES + 4] {
            let points: Vec<usize> = (0..pieces).map(|k| start + 3 + k * 5).collect();
            let mut d = FrameDecoder::new(16);
            let got = feed(&mut d, &cut(&data, &points));
            let want = "error from daemon in stream: Error grabbing logs: unexpected EOF";
            assert_eq!(got, Err(FrameError::Engine(want.into())), "{pieces} pieces");
            assert_eq!(d.decode(&mut Bytes::from(frame(1, b"more"))), Ok(None), "failed for good");
        }
        // Cut at end of stream: an error saying so, and nothing of it as output.
        let mut d = FrameDecoder::new(16);
        let chunks = feed(&mut d, &cut(&data[..start + 30], &[start + 10, start + 20])).unwrap();
        assert_eq!(bytes_of(&chunks, Stream::Stdout), b"before\n");
        let missing = (message.len() - 22) as u64;
        assert_eq!(d.finish(), Err(FrameError::Truncated { declared: message.len() as u64, missing }));
    }

    #[test]
    fn a_long_engine_error_cut_across_inputs_keeps_only_the_cap() {
        let message: Vec<u8> = (0..MAX_ENGINE_ERROR + 5000).map(|i| b'a' + (i % 26) as u8).collect();
        let data = frame(3, &message);
        for size in [1000, 10_000, 40_000] {
            let points: Vec<usize> = (1..data.len().div_ceil(size)).map(|k| k * size).collect();
            let mut d = FrameDecoder::new(16);
            let mut input = Vec::new();
            let inputs = cut(&data, &points);
            for (i, piece) in inputs.iter().enumerate() {
                let mut piece = piece.clone();
                match d.decode(&mut piece) {
                    Ok(None) => assert!(d.held() <= MAX_ENGINE_ERROR, "inputs of {size}: the cap holds"),
                    other => {
                        assert_eq!(i, inputs.len() - 1, "inputs of {size}: an answer only at the end");
                        input.push(other);
                    }
                }
            }
            let want = String::from_utf8(message[..MAX_ENGINE_ERROR].to_vec()).unwrap();
            assert_eq!(input, alloc::vec![Err(FrameError::Engine(want))], "inputs of {size}");
        }
    }

    #[test]
    fn frames_after_a_released_one_follow_it_in_order() {
        // A cut frame completed in an input that holds more frames, whole and cut.
        let a = numbered(300);
        let mut data = frame(1, &a);
        data.extend(frame(2, b"err"));
        data.extend(frame(1, b"out"));
        data.extend(frame(2, &a));
        let inputs = cut(&data, &[100, 200, data.len() - 50]);
        let mut d = FrameDecoder::new(1024);
        let chunks = feed(&mut d, &inputs).unwrap();
        assert_eq!(d.finish(), Ok(()));
        let got: Vec<(usize, Stream, usize)> = chunks.iter().map(|(i, c)| (*i, c.stream, c.data.len())).collect();
        let want = alloc::vec![
            (2, Stream::Stdout, 92),
            (2, Stream::Stdout, 100),
            (2, Stream::Stdout, 108),
            (2, Stream::Stderr, 3),
            (2, Stream::Stdout, 3),
            (3, Stream::Stderr, 250),
            (3, Stream::Stderr, 50),
        ];
        assert_eq!(got, want);
        assert_eq!(bytes_of(&chunks, Stream::Stdout), [&a[..], b"out"].concat());
        assert_eq!(bytes_of(&chunks, Stream::Stderr), [&b"err"[..], &a].concat());
    }
}
