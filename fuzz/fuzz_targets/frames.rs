//! The frame decoder on arbitrary bytes, split at arbitrary points: it never
//! panics, never outputs more than it was given, and any split of the same
//! bytes gives the same output and the same verdict as the whole.
#![no_main]

use bytes::Bytes;
use cstream_proto_core::Stream;
use cstream_proto_core::decode::{FrameDecoder, FrameError};
use libfuzzer_sys::fuzz_target;

#[derive(arbitrary::Arbitrary, Debug)]
struct Case {
    data: Vec<u8>,
    cuts: Vec<u16>,
    hold: u16,
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

fuzz_target!(|case: Case| {
    let hold = usize::from(case.hold).max(1);
    let (whole, verdict) = decode(hold, &[&case.data]);
    assert!(whole.len() <= case.data.len());
    let mut points: Vec<usize> = case.cuts.iter().map(|c| usize::from(*c) % (case.data.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut last = 0;
    for p in points {
        pieces.push(&case.data[last..p]);
        last = p;
    }
    pieces.push(&case.data[last..]);
    let (split, split_verdict) = decode(hold, &pieces);
    assert_eq!(verdict, split_verdict);
    if verdict.is_ok() {
        assert_eq!(whole, split);
    }
});
