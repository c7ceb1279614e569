//! The frame decoder, two ways.
//!
//! Arbitrary bytes split at arbitrary points: it never panics, never outputs
//! more than it was given, and any split of the same bytes gives the same
//! output and the same verdict as the whole.
//!
//! Frames the fuzzer chooses, encoded as an engine would, split at the same
//! points: the output is exactly their payloads, each on its stream, in
//! order. Cut short anywhere, the output is the payloads of the frames that
//! arrived whole (and of the cut frame, only the bytes that arrived, and only
//! if it is longer than the hold limit), and the verdict says the stream was
//! cut unless it was cut between two frames.
#![no_main]

use bytes::Bytes;
use cstream_proto_core::Stream;
use cstream_proto_core::decode::{FrameDecoder, FrameError};
use libfuzzer_sys::fuzz_target;

#[derive(arbitrary::Arbitrary, Debug)]
struct Frame {
    /// 0 (stdin, echoed) and 1 are stdout, 2 is stderr.
    stream: u8,
    payload: Vec<u8>,
}

#[derive(arbitrary::Arbitrary, Debug)]
struct Case {
    data: Vec<u8>,
    cuts: Vec<u16>,
    hold: u16,
    frames: Vec<Frame>,
    /// How many bytes to cut off the end of the encoded frames.
    short: u16,
}

fn decode(hold: usize, pieces: &[&[u8]]) -> (Vec<(Stream, u8)>, Result<(), FrameError>) {
    let mut d = FrameDecoder::new(hold);
    let mut out = Vec::new();
    for p in pieces {
        let mut b = Bytes::copy_from_slice(p);
        loop {
            match d.decode(&mut b) {
                Ok(Some(c)) => {
                    assert!(!c.data.is_empty());
                    out.extend(c.data.iter().map(|x| (c.stream, *x)));
                }
                Ok(None) => {
                    assert!(b.is_empty());
                    break;
                }
                Err(e) => return (out, Err(e)),
            }
        }
    }
    (out, d.finish())
}

/// `data` in pieces at the points `cuts` names.
fn split<'a>(data: &'a [u8], cuts: &[u16]) -> Vec<&'a [u8]> {
    let mut points: Vec<usize> = cuts.iter().map(|c| usize::from(*c) % (data.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut last = 0;
    for p in points {
        pieces.push(&data[last..p]);
        last = p;
    }
    pieces.push(&data[last..]);
    pieces
}

fn stream_of(s: u8) -> Stream {
    match s {
        2 => Stream::Stderr,
        _ => Stream::Stdout,
    }
}

/// Arbitrary bytes: the same output and verdict, whole or split.
fn raw(case: &Case, hold: usize) {
    let (whole, verdict) = decode(hold, &[&case.data]);
    assert!(whole.len() <= case.data.len());
    let (split_out, split_verdict) = decode(hold, &split(&case.data, &case.cuts));
    assert_eq!(verdict, split_verdict);
    if verdict.is_ok() {
        assert_eq!(whole, split_out);
    }
}

/// Encoded frames: exactly their payloads come out, whole or cut short.
fn structured(case: &Case, hold: usize) {
    let frames: Vec<(u8, &[u8])> = case.frames.iter().map(|f| (f.stream % 3, f.payload.as_slice())).collect();
    let mut encoded = Vec::new();
    // Where each frame's header and payload begin, in `encoded`.
    let mut starts = Vec::new();
    for (stream, payload) in &frames {
        starts.push(encoded.len());
        encoded.extend_from_slice(&[*stream, 0, 0, 0]);
        encoded.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        encoded.extend_from_slice(payload);
    }
    let want: Vec<(Stream, u8)> = frames.iter().flat_map(|(s, p)| p.iter().map(move |b| (stream_of(*s), *b))).collect();
    let (out, verdict) = decode(hold, &split(&encoded, &case.cuts));
    assert_eq!(verdict, Ok(()), "whole frames decode without error");
    assert!(out == want, "the payloads, in order, on their streams");

    // Cut short: the frames that arrived whole, and no more than what arrived of the cut one.
    let len = encoded.len() - usize::from(case.short) % (encoded.len() + 1);
    let arrived = &encoded[..len];
    let (out, verdict) = decode(hold, &split(arrived, &case.cuts));
    let whole = starts.iter().zip(&frames).take_while(|(start, (_, p))| *start + 8 + p.len() <= len).count();
    let whole_bytes: usize = frames[..whole].iter().map(|(_, p)| p.len()).sum();
    assert!(out.len() >= whole_bytes && out[..whole_bytes] == want[..whole_bytes], "the whole frames' payloads");
    let extra = &out[whole_bytes..];
    match frames.get(whole) {
        // Cut between two frames (or not at all): nothing is missing.
        _ if len == encoded.len() || starts.get(whole) == Some(&len) => {
            assert_eq!(verdict, Ok(()));
            assert!(extra.is_empty());
        }
        Some((stream, payload)) => {
            assert!(matches!(verdict, Err(FrameError::Truncated { .. })), "{verdict:?}");
            let got = len.saturating_sub(starts[whole] + 8);
            assert!(extra.len() <= got, "no more than arrived of the cut frame");
            if payload.len() <= hold {
                assert!(extra.is_empty(), "a held frame cut off is never output");
            }
            assert!(extra.iter().zip(payload.iter()).all(|((s, b), p)| *s == stream_of(*stream) && b == p));
        }
        None => unreachable!("a cut inside the frames is inside one of them"),
    }
}

fuzz_target!(|case: Case| {
    let hold = usize::from(case.hold).max(1);
    raw(&case, hold);
    structured(&case, hold);
});
