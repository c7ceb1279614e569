//! The newline decoder and the pull-progress parser on arbitrary bytes in
//! arbitrary splits: no panic, and the same verdict whatever the split: the
//! same lines, parsed the same way, or an error both ways.
#![no_main]

use bytes::Bytes;
use cstream_proto_core::api::answers::PullLine;
use cstream_proto_core::decode::LineDecoder;
use libfuzzer_sys::fuzz_target;

#[derive(arbitrary::Arbitrary, Debug)]
struct Case {
    data: Vec<u8>,
    cuts: Vec<u16>,
}

type Parsed = Result<PullLine, String>;

fn lines(pieces: &[&[u8]]) -> Result<Vec<(Bytes, Parsed)>, ()> {
    let mut d = LineDecoder::new(512);
    let mut out = Vec::new();
    for p in pieces {
        let mut b = Bytes::copy_from_slice(p);
        loop {
            match d.decode(&mut b) {
                Ok(Some(line)) => {
                    let parsed = PullLine::parse(&line).map_err(|e| e.0);
                    out.push((line, parsed));
                }
                Ok(None) => break,
                Err(_) => return Err(()),
            }
        }
    }
    out.extend(d.finish().map(|line| {
        let parsed = PullLine::parse(&line).map_err(|e| e.0);
        (line, parsed)
    }));
    Ok(out)
}

fuzz_target!(|case: Case| {
    let whole = lines(&[&case.data]);
    let mut points: Vec<usize> = case.cuts.iter().map(|c| usize::from(*c) % (case.data.len() + 1)).collect();
    points.sort_unstable();
    let mut pieces = Vec::new();
    let mut last = 0;
    for p in points {
        pieces.push(&case.data[last..p]);
        last = p;
    }
    pieces.push(&case.data[last..]);
    let split = lines(&pieces);
    // Both fail, or both give the same lines, parsed the same way.
    assert_eq!(whole, split, "whole and split disagree");
});
