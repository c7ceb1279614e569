//! The newline decoder and the pull-progress parser on arbitrary bytes in
//! arbitrary splits: no panic, and the same lines whatever the split.
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

fn lines(pieces: &[&[u8]]) -> Result<Vec<Bytes>, ()> {
    let mut d = LineDecoder::new(512);
    let mut out = Vec::new();
    for p in pieces {
        let mut b = Bytes::copy_from_slice(p);
        loop {
            match d.decode(&mut b) {
                Ok(Some(line)) => {
                    let _ = PullLine::parse(&line);
                    out.push(line);
                }
                Ok(None) => break,
                Err(_) => return Err(()),
            }
        }
    }
    out.extend(d.finish());
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
    if let (Ok(w), Ok(s)) = (&whole, &split) {
        assert_eq!(w, s);
    }
});
