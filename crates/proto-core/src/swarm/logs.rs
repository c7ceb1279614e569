//! The service's logs: 8-byte-header frames, one log message each, whose
//! payload starts with the message's RFC 3339 timestamp and a space.
//!
//! The timestamp is stripped and the rest passed on as slices of the input
//! (nothing is copied but the timestamp, and the header of a frame cut
//! between reads). Frames are followed here rather than by
//! [`FrameDecoder`](crate::decode::FrameDecoder), because each frame's start
//! matters: that is where its timestamp is.
//!
//! A follow read never ends, so the job's output is read twice: live, while
//! the task runs, then once more from the start when it has ended. The
//! reader keeps where the delivered output ends (how many messages, how
//! many bytes of one cut short, and the last timestamp); a later read skips
//! that much and checks that its last skipped message has the same
//! timestamp. Any mismatch is reported ([`Error::OutputUnvouched`]) and
//! nothing more of that read is delivered: output is never cut or repeated
//! in silence.

use alloc::string::{String, ToString};
use alloc::vec::Vec;

use bytes::{Buf, Bytes};

use crate::decode::FrameError;
use crate::error::Error;
use crate::event::Stream;

const HEADER: usize = 8;
/// The longest timestamp taken (`2006-01-02T15:04:05.000000000+07:00` is 35).
const MAX_STAMP: usize = 40;
/// The most of an engine's in-band message kept.
const MAX_MESSAGE: usize = 4096;

/// What a read gives: output, or an error found in it.
#[derive(Debug)]
pub(super) enum Piece {
    Output(Stream, Bytes),
    Error(Error),
}

/// Where the delivered output ends in the logs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Position {
    /// Messages delivered whole.
    frames: u64,
    /// Bytes delivered of the message after those.
    partial: usize,
    /// The timestamp of the last message delivered from (whole or in part).
    stamp: String,
}

#[derive(Debug)]
enum Frame {
    Header {
        buf: [u8; HEADER],
        len: usize,
    },
    /// Reading the timestamp, up to its space.
    Stamp {
        stream: Stream,
        stamp: Vec<u8>,
    },
    /// The message, after the timestamp: `skip` bytes of it were delivered
    /// before, or all of it when `old`.
    Message {
        stream: Stream,
        number: u64,
        skip: usize,
        old: bool,
        stamp: String,
    },
    /// A payload with no timestamp, or on stream 3: the engine's own words.
    Engine {
        text: Vec<u8>,
    },
    Failed,
}

/// Reads the logs, one read after another.
#[derive(Debug)]
pub(super) struct LogReader {
    frame: Frame,
    /// The current frame's declared payload length, and what is left of it.
    declared: u32,
    remaining: u32,
    /// Messages begun in this read.
    seen: u64,
    /// Where the delivered output ended when this read began.
    base: Position,
    /// Where it ends now.
    delivered: Position,
    /// This read stopped lining up: nothing more of it is delivered.
    unvouched: bool,
}

const BETWEEN: Frame = Frame::Header { buf: [0; HEADER], len: 0 };

impl Default for LogReader {
    fn default() -> Self {
        LogReader {
            frame: BETWEEN,
            declared: 0,
            remaining: 0,
            seen: 0,
            base: Position::default(),
            delivered: Position::default(),
            unvouched: false,
        }
    }
}

/// `2024-05-01T10:00:00.123456789Z`: digits, a dash, a `T`, nothing odd.
fn is_stamp(b: &[u8]) -> bool {
    let year = b.get(..4).is_some_and(|y| y.iter().all(u8::is_ascii_digit));
    (20..=MAX_STAMP).contains(&b.len())
        && year
        && b.get(4) == Some(&b'-')
        && b.contains(&b'T')
        && b.iter().all(u8::is_ascii_graphic)
}

impl LogReader {
    /// A new read of the logs from their start.
    pub(super) fn begin(&mut self) {
        self.frame = BETWEEN;
        self.seen = 0;
        self.base = self.delivered.clone();
        self.unvouched = false;
    }

    /// How many messages were delivered whole, and the timestamp of the
    /// last one delivered from, whole or in part.
    #[cfg(test)]
    pub(super) fn delivered(&self) -> (u64, &str) {
        (self.delivered.frames, &self.delivered.stamp)
    }

    /// Takes bytes of the read's body; `emit` gets what they hold, in order.
    pub(super) fn feed(&mut self, mut data: Bytes, emit: &mut impl FnMut(Piece)) {
        while !data.is_empty() {
            match &mut self.frame {
                Frame::Failed => return,
                Frame::Header { buf, len } => {
                    let n = (HEADER - *len).min(data.len());
                    for (dst, src) in buf.iter_mut().skip(*len).zip(data.iter()) {
                        *dst = *src;
                    }
                    *len += n;
                    data.advance(n);
                    if *len == HEADER {
                        let header = *buf;
                        self.header(header, emit);
                    }
                }
                Frame::Stamp { stream, stamp } => {
                    let window =
                        data.len().min(self.remaining as usize).min(MAX_STAMP + 1 - stamp.len().min(MAX_STAMP));
                    let space = data.iter().take(window).position(|&b| b == b' ');
                    let take = space.map_or(window, |i| i + 1);
                    stamp.extend_from_slice(data.get(..space.unwrap_or(take)).unwrap_or_default());
                    data.advance(take);
                    self.remaining -= take as u32;
                    let stream = *stream;
                    match space {
                        Some(_) if is_stamp(stamp) => {
                            let stamp = String::from_utf8_lossy(stamp).to_string();
                            self.message(stream, stamp, emit);
                        }
                        // No timestamp: the engine's words ("Error grabbing logs: ..").
                        Some(_) => {
                            stamp.push(b' ');
                            self.frame = Frame::Engine { text: core::mem::take(stamp) };
                        }
                        None if stamp.len() > MAX_STAMP => {
                            self.frame = Frame::Engine { text: core::mem::take(stamp) };
                        }
                        None => {}
                    }
                    if self.remaining == 0 {
                        self.frame_end(emit);
                    }
                }
                Frame::Message { stream, skip, old, .. } => {
                    let n = (self.remaining as usize).min(data.len());
                    let mut piece = data.split_to(n);
                    self.remaining -= n as u32;
                    let dropped = if *old { piece.len() } else { (*skip).min(piece.len()) };
                    *skip -= dropped.min(*skip);
                    piece.advance(dropped);
                    if !piece.is_empty() && !self.unvouched {
                        self.delivered.partial += piece.len();
                        emit(Piece::Output(*stream, piece));
                    }
                    if self.remaining == 0 {
                        self.frame_end(emit);
                    }
                }
                Frame::Engine { text } => {
                    let n = (self.remaining as usize).min(data.len());
                    let room = MAX_MESSAGE.saturating_sub(text.len()).min(n);
                    text.extend_from_slice(data.get(..room).unwrap_or_default());
                    data.advance(n);
                    self.remaining -= n as u32;
                    if self.remaining == 0 {
                        self.frame_end(emit);
                    }
                }
            }
        }
    }

    fn header(&mut self, h: [u8; HEADER], emit: &mut impl FnMut(Piece)) {
        let word = u64::from_be_bytes(h);
        let (stream, len) = ((word >> 56) as u8, word as u32);
        if word & 0x00ff_ffff_0000_0000 != 0 || stream > 3 {
            self.frame = Frame::Failed;
            let e = if stream > 3 { FrameError::UnknownStream(stream) } else { FrameError::MalformedHeader(h) };
            return emit(Piece::Error(Error::Output(e)));
        }
        (self.declared, self.remaining) = (len, len);
        self.frame = match (stream, len) {
            (_, 0) => BETWEEN,
            (3, _) => Frame::Engine { text: Vec::new() },
            (2, _) => Frame::Stamp { stream: Stream::Stderr, stamp: Vec::new() },
            _ => Frame::Stamp { stream: Stream::Stdout, stamp: Vec::new() },
        };
    }

    /// A message's timestamp is read: how much of it was delivered before.
    fn message(&mut self, stream: Stream, stamp: String, emit: &mut impl FnMut(Piece)) {
        self.seen += 1;
        let (n, base) = (self.seen, &self.base);
        let (skip, old) = if n <= base.frames {
            if n == base.frames && base.partial == 0 && stamp != base.stamp {
                self.mismatch(&stamp, emit);
            }
            (0, true)
        } else if n == base.frames + 1 && base.partial > 0 {
            if stamp != base.stamp {
                self.mismatch(&stamp, emit);
            }
            (self.base.partial, false)
        } else {
            if !self.unvouched {
                self.delivered = Position { frames: n - 1, partial: 0, stamp: stamp.clone() };
            }
            (0, false)
        };
        self.frame = Frame::Message { stream, number: n, skip, old, stamp };
    }

    fn mismatch(&mut self, stamp: &str, emit: &mut impl FnMut(Piece)) {
        if self.unvouched {
            return;
        }
        self.unvouched = true;
        let base = &self.base;
        let detail = alloc::format!(
            "message {} of the logs is stamped {stamp}, where the one delivered was stamped {}",
            self.seen,
            base.stamp
        );
        emit(Piece::Error(Error::OutputUnvouched { detail }));
    }

    fn frame_end(&mut self, emit: &mut impl FnMut(Piece)) {
        match core::mem::replace(&mut self.frame, BETWEEN) {
            Frame::Message { number, skip, old, stamp, .. } => {
                if skip > 0 && !self.unvouched {
                    self.unvouched = true;
                    let detail =
                        alloc::format!("message {number} of the logs is shorter than the part of it delivered");
                    emit(Piece::Error(Error::OutputUnvouched { detail }));
                }
                if !old && !self.unvouched {
                    self.delivered = Position { frames: number, partial: 0, stamp };
                }
            }
            Frame::Stamp { stamp: text, .. } | Frame::Engine { text } => {
                let text = String::from_utf8_lossy(&text).trim().to_string();
                emit(Piece::Error(Error::Output(FrameError::Engine(text))));
            }
            Frame::Header { .. } | Frame::Failed => {}
        }
    }

    /// The read's body ended. A frame cut short is an error (its bytes
    /// delivered so far stand; a later read delivers the rest). The final
    /// read must reach past all the output delivered.
    pub(super) fn finish(&mut self, final_read: bool, emit: &mut impl FnMut(Piece)) {
        let cut = match &self.frame {
            Frame::Header { len: 0, .. } | Frame::Failed => None,
            Frame::Header { len, .. } => Some(FrameError::Truncated { declared: 8, missing: (HEADER - len) as u64 }),
            _ => {
                let (declared, missing) = (u64::from(self.declared), u64::from(self.remaining));
                Some(FrameError::Truncated { declared, missing })
            }
        };
        self.frame = Frame::Failed;
        if let Some(e) = cut {
            emit(Piece::Error(Error::Output(e)));
        }
        let base = &self.base;
        let short = self.seen < base.frames || (self.seen == base.frames && base.partial > 0);
        if final_read && short && !self.unvouched {
            self.unvouched = true;
            let detail = alloc::format!(
                "the final read of the logs has {} messages, and {} were delivered{}",
                self.seen,
                base.frames,
                if base.partial > 0 { " with part of the next" } else { "" }
            );
            emit(Piece::Error(Error::OutputUnvouched { detail }));
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use alloc::vec;

    use super::*;

    fn msg(stream: u8, stamp: &str, line: &[u8]) -> Vec<u8> {
        let len = (stamp.len() + 1 + line.len()) as u32;
        let mut v = vec![stream, 0, 0, 0];
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(stamp.as_bytes());
        v.push(b' ');
        v.extend_from_slice(line);
        v
    }

    const A: &str = "2026-11-30T12:00:01.000000001Z";
    const B: &str = "2026-11-30T12:00:01.000000002Z";

    /// Feeds `bytes` `by` at a time; returns (stdout, stderr, errors).
    fn read(r: &mut LogReader, bytes: &[u8], by: usize, end: Option<bool>) -> (Vec<u8>, Vec<u8>, Vec<Error>) {
        let (mut out, mut err, mut errors) = (Vec::new(), Vec::new(), Vec::new());
        let mut emit = |p: Piece| match p {
            Piece::Output(Stream::Stderr, d) => err.extend_from_slice(&d),
            Piece::Output(_, d) => out.extend_from_slice(&d),
            Piece::Error(e) => errors.push(e),
        };
        for piece in bytes.chunks(by.max(1)) {
            r.feed(Bytes::copy_from_slice(piece), &mut emit);
        }
        if let Some(final_read) = end {
            r.finish(final_read, &mut emit);
        }
        (out, err, errors)
    }

    #[test]
    fn a_message_cut_in_the_follow_is_finished_by_the_final_read() {
        let all = [msg(1, A, b"one\n"), msg(2, B, b"two, longer\n")].concat();
        for by in [1, 2, 5, 100] {
            let mut r = LogReader::default();
            r.begin();
            let cut = all.len() - 4;
            let (out, err, errors) = read(&mut r, &all[..cut], by, None);
            assert_eq!((out.as_slice(), err.as_slice(), errors.as_slice()), (&b"one\n"[..], &b"two, lon"[..], &[][..]));
            assert_eq!(r.delivered(), (1, B), "one whole, part of the one stamped B");
            r.begin();
            let (out, err, errors) = read(&mut r, &all, by, Some(true));
            assert_eq!((out.as_slice(), err.as_slice(), errors.as_slice()), (&b""[..], &b"ger\n"[..], &[][..]), "{by}");
            assert_eq!(r.delivered(), (2, B));
        }
    }

    #[test]
    fn a_message_shorter_than_what_was_delivered_of_it_is_unvouched() {
        let mut r = LogReader::default();
        r.begin();
        let long = msg(1, A, b"abcdef\n");
        read(&mut r, &long[..long.len() - 2], 100, None);
        r.begin();
        let (out, _, errors) = read(&mut r, &msg(1, A, b"abc\n"), 100, Some(true));
        assert_eq!(out, b"");
        assert!(matches!(&errors[..], [Error::OutputUnvouched { detail }] if detail.contains("shorter")), "{errors:?}");
    }

    #[test]
    fn a_cut_final_read_and_bad_headers_are_frame_errors() {
        let mut r = LogReader::default();
        r.begin();
        let m = msg(1, A, b"whole\n");
        let (out, _, errors) = read(&mut r, &m[..m.len() - 3], 100, Some(true));
        assert_eq!(out, b"who");
        assert_eq!(errors, [Error::Output(FrameError::Truncated { declared: 37, missing: 3 })]);
        let mut r = LogReader::default();
        r.begin();
        let (_, _, errors) = read(&mut r, &[7, 0, 0, 0, 0, 0, 0, 1, b'x'], 100, Some(true));
        assert_eq!(errors, [Error::Output(FrameError::UnknownStream(7))]);
        let mut r = LogReader::default();
        r.begin();
        let mut e = vec![3, 0, 0, 0, 0, 0, 0, 4];
        e.extend_from_slice(b"boom");
        let (_, _, errors) = read(&mut r, &e, 1, Some(false));
        assert_eq!(errors, [Error::Output(FrameError::Engine("boom".into()))]);
    }

    #[test]
    fn a_payload_with_no_timestamp_is_the_engines_words() {
        let mut r = LogReader::default();
        r.begin();
        let word = [b'9'; 100];
        let mut frame = vec![1, 0, 0, 0, 0, 0, 0, 100];
        frame.extend_from_slice(&word);
        let (out, _, errors) = read(&mut r, &frame, 7, Some(true));
        assert_eq!(out, b"");
        assert!(matches!(&errors[..], [Error::Output(FrameError::Engine(m))] if m.len() == 100), "{errors:?}");
        // Nor is a short one with no space after it.
        r.begin();
        let (out, _, errors) = read(&mut r, &[1, 0, 0, 0, 0, 0, 0, 5, b'b', b'o', b'o', b'm', b'\n'], 2, None);
        assert_eq!(out, b"");
        assert_eq!(errors, [Error::Output(FrameError::Engine("boom".into()))]);
    }
}
