//! The container's logs as output: decoded (multiplexed frames, or one raw
//! stream with a terminal), with the bytes the caller has already seen cut
//! off the front of each stream, counted apart.
//!
//! The logs hold each stream's bytes in the order the process wrote them,
//! so the first `seen.stdout` bytes of stdout are the ones the caller has,
//! wherever the frames begin and end; likewise stderr, and the terminal's
//! one stream. When the logs end holding fewer bytes of a stream than the
//! caller says it has seen, they do not line up with what it has:
//! [`Error::SeenBeyondLogs`], never a silent gap.

use bytes::{Buf, Bytes};

use super::Seen;
use crate::decode::FrameDecoder;
use crate::error::Error;
use crate::event::Stream;

/// What a read gives: output to deliver, or an error found in it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Piece {
    Output(Stream, Bytes),
    Error(Error),
}

/// Reads one logs answer.
#[derive(Debug)]
pub(super) struct LogReader {
    /// Raw bytes of a terminal, rather than frames.
    tty: bool,
    decoder: FrameDecoder,
    /// What the caller has seen, per stream.
    seen: Seen,
    /// How much of each stream the logs held so far.
    logged: Seen,
    /// The frames could not be read: the rest is not output, and the
    /// counts are not checked.
    failed: bool,
}

fn slot(counts: &mut Seen, stream: Stream) -> &mut u64 {
    match stream {
        Stream::Stdout => &mut counts.stdout,
        Stream::Stderr => &mut counts.stderr,
        Stream::Tty => &mut counts.tty,
    }
}

impl LogReader {
    pub(super) fn new(seen: Seen, tty: bool, max_hold: usize) -> Self {
        LogReader { tty, decoder: FrameDecoder::new(max_hold), seen, logged: Seen::default(), failed: false }
    }

    /// Bytes of each stream the logs have held so far.
    #[cfg(test)]
    pub(super) fn logged(&self) -> Seen {
        self.logged
    }

    /// Takes bytes of the body; `emit` gets what they hold, in order.
    pub(super) fn feed(&mut self, mut data: Bytes, emit: &mut impl FnMut(Piece)) {
        if self.failed {
            return;
        }
        if self.tty {
            return self.take(Stream::Tty, data, emit);
        }
        loop {
            match self.decoder.decode(&mut data) {
                Ok(Some(chunk)) => self.take(chunk.stream, chunk.data, emit),
                Ok(None) => return,
                Err(e) => {
                    self.failed = true;
                    return emit(Piece::Error(Error::Output(e)));
                }
            }
        }
    }

    /// A piece of `stream`: what is past the seen bytes is output.
    fn take(&mut self, stream: Stream, mut data: Bytes, emit: &mut impl FnMut(Piece)) {
        let before = *slot(&mut self.logged, stream);
        *slot(&mut self.logged, stream) = before.saturating_add(data.len() as u64);
        let seen = *slot(&mut self.seen, stream);
        let skip = seen.saturating_sub(before).min(data.len() as u64) as usize;
        data.advance(skip);
        if !data.is_empty() {
            emit(Piece::Output(stream, data));
        }
    }

    /// The body ended: a frame cut short is an error, and so is a stream
    /// the logs hold less of than the caller saw.
    pub(super) fn finish(&mut self, emit: &mut impl FnMut(Piece)) {
        if !self.tty && !self.failed {
            if let Err(e) = self.decoder.finish() {
                self.failed = true;
                emit(Piece::Error(Error::Output(e)));
            }
        }
        if self.failed {
            return;
        }
        self.failed = true;
        for stream in [Stream::Stdout, Stream::Stderr, Stream::Tty] {
            let (seen, logged) = (*slot(&mut self.seen, stream), *slot(&mut self.logged, stream));
            if seen > logged {
                emit(Piece::Error(Error::SeenBeyondLogs { stream, seen, logged }));
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use super::*;
    use crate::decode::FrameError;

    fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![stream, 0, 0, 0];
        v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// Feeds `parts` one after another; returns (stdout, stderr, tty, errors).
    fn read(r: &mut LogReader, parts: &[&[u8]]) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<Error>) {
        let (mut out, mut err, mut tty, mut errors) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut emit = |p: Piece| match p {
            Piece::Output(Stream::Stdout, d) => out.extend_from_slice(&d),
            Piece::Output(Stream::Stderr, d) => err.extend_from_slice(&d),
            Piece::Output(Stream::Tty, d) => tty.extend_from_slice(&d),
            Piece::Error(e) => errors.push(e),
        };
        for p in parts {
            r.feed(Bytes::copy_from_slice(p), &mut emit);
        }
        r.finish(&mut emit);
        (out, err, tty, errors)
    }

    fn logs() -> Vec<u8> {
        [frame(1, b"one\n"), frame(2, b"E1\n"), frame(1, b"two\n"), frame(2, b"E2\n"), frame(1, b"three\n")].concat()
    }

    /// Every count of seen bytes, of each stream apart, with the logs cut
    /// in two at every byte: the output is the rest of each stream, exactly.
    #[test]
    fn the_seen_bytes_are_skipped_per_stream_wherever_the_logs_are_cut() {
        let all = logs();
        let (stdout, stderr) = (b"one\ntwo\nthree\n", b"E1\nE2\n");
        for so in 0..=stdout.len() {
            for se in 0..=stderr.len() {
                for cut in 0..=all.len() {
                    let seen = Seen { stdout: so as u64, stderr: se as u64, tty: 0 };
                    let mut r = LogReader::new(seen, false, 1024);
                    let (out, err, tty, errors) = read(&mut r, &[&all[..cut], &all[cut..]]);
                    assert_eq!(out, &stdout[so..], "stdout seen {so}, stderr seen {se}, cut at {cut}");
                    assert_eq!(err, &stderr[se..], "stdout seen {so}, stderr seen {se}, cut at {cut}");
                    assert!(tty.is_empty() && errors.is_empty(), "{errors:?}");
                }
            }
        }
    }

    #[test]
    fn byte_by_byte_and_past_the_hold_limit_the_skip_is_the_same() {
        let big = [b'x'; 100];
        let all = [frame(1, &big), frame(2, b"e")].concat();
        let parts: Vec<&[u8]> = all.chunks(1).collect();
        // A hold limit of 16: the long frame comes in pieces as it arrives.
        let mut r = LogReader::new(Seen { stdout: 37, stderr: 0, tty: 0 }, false, 16);
        let (out, err, _, errors) = read(&mut r, &parts);
        assert_eq!((out.len(), err.as_slice(), errors.as_slice()), (63, &b"e"[..], &[][..]));
        assert_eq!(r.logged(), Seen { stdout: 100, stderr: 1, tty: 0 });
    }

    #[test]
    fn more_seen_than_the_logs_hold_is_an_error_per_stream() {
        let mut r = LogReader::new(Seen { stdout: 15, stderr: 6, tty: 2 }, false, 1024);
        let (out, err, _, errors) = read(&mut r, &[&logs()]);
        assert_eq!((out.as_slice(), err.as_slice()), (&b""[..], &b""[..]));
        assert_eq!(
            errors,
            [
                Error::SeenBeyondLogs { stream: Stream::Stdout, seen: 15, logged: 14 },
                Error::SeenBeyondLogs { stream: Stream::Tty, seen: 2, logged: 0 },
            ]
        );
    }

    #[test]
    fn a_terminal_is_one_raw_stream() {
        let mut r = LogReader::new(Seen { stdout: 0, stderr: 0, tty: 3 }, true, 1024);
        let (out, _, tty, errors) = read(&mut r, &[b"ab", b"cdef\r\n"]);
        assert_eq!((out.as_slice(), tty.as_slice(), errors.as_slice()), (&b""[..], &b"def\r\n"[..], &[][..]));
        // Bytes claimed on stdout of a terminal were never in its logs.
        let mut r = LogReader::new(Seen { stdout: 1, stderr: 0, tty: 0 }, true, 1024);
        let (_, _, tty, errors) = read(&mut r, &[b"ab"]);
        assert_eq!(tty, b"ab");
        assert_eq!(errors, [Error::SeenBeyondLogs { stream: Stream::Stdout, seen: 1, logged: 0 }]);
    }

    #[test]
    fn a_cut_frame_and_an_engine_error_are_output_errors_and_not_checked_further() {
        let all = logs();
        let mut r = LogReader::new(Seen { stdout: 100, stderr: 0, tty: 0 }, false, 1024);
        let (out, _, _, errors) = read(&mut r, &[&all[..all.len() - 2]]);
        assert_eq!(out, b"");
        assert_eq!(errors, [Error::Output(FrameError::Truncated { declared: 6, missing: 2 })]);
        let mut r = LogReader::new(Seen::default(), false, 1024);
        let (out, _, _, errors) = read(&mut r, &[&frame(1, b"ok\n"), &frame(3, b"boom"), &frame(1, b"lost\n")]);
        assert_eq!(out, b"ok\n");
        assert_eq!(errors, [Error::Output(FrameError::Engine("boom".into()))]);
    }
}
