//! The frame and line decoders: whole, one byte at a time, any split, with
//! trailing data, and on arbitrary bytes.

use bytes::Bytes;
use cstream_proto_core::Stream;
use cstream_proto_core::decode::{FrameDecoder, FrameError, LineDecoder};
use proptest::prelude::*;

fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![stream, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Decodes `chunks` in order; returns (stdout, stderr, pieces, result of finish or first error).
fn decode_frames(hold: usize, chunks: &[&[u8]]) -> (Vec<u8>, Vec<u8>, usize, Result<(), FrameError>) {
    let mut d = FrameDecoder::new(hold);
    let (mut out, mut err, mut pieces) = (Vec::new(), Vec::new(), 0);
    for c in chunks {
        let mut b = Bytes::copy_from_slice(c);
        loop {
            match d.decode(&mut b) {
                Ok(Some(chunk)) => {
                    pieces += 1;
                    assert!(!chunk.data.is_empty(), "no empty chunks");
                    match chunk.stream {
                        Stream::Stdout => out.extend_from_slice(&chunk.data),
                        Stream::Stderr => err.extend_from_slice(&chunk.data),
                        Stream::Tty => unreachable!(),
                    }
                }
                Ok(None) => {
                    assert!(b.is_empty(), "None means all input was taken");
                    break;
                }
                Err(e) => return (out, err, pieces, Err(e)),
            }
        }
    }
    let r = d.finish();
    (out, err, pieces, r)
}

fn splits(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.sort();
    let mut v = Vec::new();
    let mut last = 0;
    for p in points {
        v.push(data[last..p].to_vec());
        last = p;
    }
    v.push(data[last..].to_vec());
    v
}

#[test]
fn whole_and_bytewise() {
    let mut s = frame(1, b"hello ");
    s.extend(frame(2, b"oops\n"));
    s.extend(frame(0, b"stdin echo "));
    s.extend(frame(1, b""));
    s.extend(frame(1, b"world\n"));
    let (o, e, _, r) = decode_frames(1024, &[&s]);
    assert_eq!((o.as_slice(), e.as_slice(), r), (&b"hello stdin echo world\n"[..], &b"oops\n"[..], Ok(())));
    let bytes: Vec<&[u8]> = s.chunks(1).collect();
    let (o2, e2, _, r2) = decode_frames(1024, &bytes);
    assert_eq!((o2, e2, r2), (o, e, Ok(())));
}

#[test]
fn a_frame_within_one_chunk_is_sliced_not_copied() {
    let s = frame(1, b"payload");
    let input = Bytes::from(s);
    let mut b = input.clone();
    let mut d = FrameDecoder::new(1024);
    let chunk = d.decode(&mut b).unwrap().unwrap();
    assert_eq!(chunk.data.as_ptr(), input[8..].as_ptr(), "same memory");
}

#[test]
fn held_frames_wait_until_whole_and_long_frames_stream() {
    let payload = vec![b'x'; 100];
    let s = frame(1, &payload);
    // Hold limit above the frame: only after the last byte, as the two slices it came in.
    let mut d = FrameDecoder::new(1000);
    let mut first = Bytes::copy_from_slice(&s[..50]);
    assert_eq!(d.decode(&mut first), Ok(None));
    assert_eq!(d.held(), 42);
    let mut rest = Bytes::copy_from_slice(&s[50..]);
    let (a, b) = (d.decode(&mut rest).unwrap().unwrap().data, d.decode(&mut rest).unwrap().unwrap().data);
    assert_eq!((a.len(), [a, b].concat(), d.decode(&mut rest)), (42, payload.clone(), Ok(None)));
    // Hold limit below the frame: pieces as they arrive, nothing held.
    let chunks: Vec<&[u8]> = s.chunks(30).collect();
    let (o, _, pieces, r) = decode_frames(10, &chunks);
    assert_eq!((o, r), (payload, Ok(())));
    assert_eq!(pieces, 4);
}

#[test]
fn a_huge_declared_length_allocates_nothing_up_front() {
    let mut d = FrameDecoder::new(256 * 1024);
    let mut b = Bytes::from_static(&[1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, b'a', b'b']);
    // Streamed in pieces: the hold limit is far below the declared length.
    assert_eq!(d.decode(&mut b).unwrap().unwrap().data, Bytes::from_static(b"ab"));
    assert_eq!(d.held(), 0);
    assert_eq!(d.finish(), Err(FrameError::Truncated { declared: u32::MAX as u64, missing: u32::MAX as u64 - 2 }));
}

#[test]
fn cut_frames_are_errors_and_their_bytes_are_dropped() {
    let s = frame(2, b"never finished");
    for cut in 1..s.len() {
        let (o, e, _, r) = decode_frames(1024, &[&s[..cut]]);
        assert!(o.is_empty() && e.is_empty(), "cut at {cut}");
        assert!(matches!(r, Err(FrameError::Truncated { .. })), "cut at {cut}: {r:?}");
    }
}

#[test]
fn bad_headers() {
    assert_eq!(decode_frames(64, &[&[4, 0, 0, 0, 0, 0, 0, 1, b'x']]).3, Err(FrameError::UnknownStream(4)));
    let h = [1, 0, 7, 0, 0, 0, 0, 1];
    assert_eq!(decode_frames(64, &[&h]).3, Err(FrameError::MalformedHeader(h)));
    // A TTY stream read as frames is caught at once.
    assert!(matches!(decode_frames(64, &[b"hello world\n"]).3, Err(FrameError::UnknownStream(b'h'))));
}

#[test]
fn engine_error_frames() {
    let mut s = frame(1, b"before\n");
    s.extend(frame(3, b"error from daemon in stream: Error grabbing logs\n"));
    s.extend(frame(1, b"after\n"));
    for chunks in [vec![s.as_slice()], s.chunks(1).collect()] {
        let (o, _, _, r) = decode_frames(1024, &chunks);
        assert_eq!(o, b"before\n");
        assert_eq!(r, Err(FrameError::Engine("error from daemon in stream: Error grabbing logs".into())));
    }
    // An engine error longer than the cap is cut, not held whole.
    let long = vec![b'e'; 200 * 1024];
    let s = frame(3, &long);
    let chunks: Vec<&[u8]> = s.chunks(4096).collect();
    match decode_frames(16, &chunks).3 {
        Err(FrameError::Engine(m)) => assert_eq!(m.len(), 64 * 1024),
        other => panic!("{other:?}"),
    }
}

#[test]
fn failed_decoders_take_nothing_more() {
    let mut d = FrameDecoder::new(64);
    let mut b = Bytes::from_static(&[9, 0, 0, 0, 0, 0, 0, 0]);
    assert!(d.decode(&mut b).is_err());
    let mut more = Bytes::from(frame(1, b"x"));
    assert_eq!(d.decode(&mut more), Ok(None));
    assert_eq!(d.finish(), Ok(()));
}

proptest! {
    #[test]
    fn any_split_of_a_valid_stream_gives_the_same_output(
        frames in prop::collection::vec((0u8..3, prop::collection::vec(any::<u8>(), 0..300)), 0..20),
        cuts in prop::collection::vec(any::<usize>(), 0..30),
        hold in prop_oneof![Just(1usize), Just(64), Just(1 << 20)],
    ) {
        let stream: Vec<u8> = frames.iter().flat_map(|(s, p)| frame(*s, p)).collect();
        let want_out: Vec<u8> = frames.iter().filter(|(s, _)| *s != 2).flat_map(|(_, p)| p.clone()).collect();
        let want_err: Vec<u8> = frames.iter().filter(|(s, _)| *s == 2).flat_map(|(_, p)| p.clone()).collect();
        let pieces = splits(&stream, &cuts);
        let refs: Vec<&[u8]> = pieces.iter().map(|p| p.as_slice()).collect();
        let (o, e, _, r) = decode_frames(hold, &refs);
        prop_assert_eq!(r, Ok(()));
        prop_assert_eq!(o, want_out);
        prop_assert_eq!(e, want_err);
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_never_invent_output(
        data in prop::collection::vec(any::<u8>(), 0..2000),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let pieces = splits(&data, &cuts);
        let refs: Vec<&[u8]> = pieces.iter().map(|p| p.as_slice()).collect();
        let (o, e, _, _) = decode_frames(256, &refs);
        prop_assert!(o.len() + e.len() <= data.len());
    }

    #[test]
    fn lines_split_anywhere(
        lines in prop::collection::vec("[a-z{}\":, ]{0,40}", 0..20),
        crlf in any::<bool>(),
        cuts in prop::collection::vec(any::<usize>(), 0..20),
    ) {
        let sep = if crlf { "\r\n" } else { "\n" };
        let text: String = lines.iter().map(|l| format!("{l}{sep}")).collect();
        let pieces = splits(text.as_bytes(), &cuts);
        let mut d = LineDecoder::new(1024);
        let mut got = Vec::new();
        for p in pieces {
            let mut b = Bytes::from(p);
            while let Some(line) = d.decode(&mut b).unwrap() {
                got.push(String::from_utf8(line.to_vec()).unwrap());
            }
        }
        prop_assert_eq!(d.finish(), None);
        let want: Vec<String> = lines.into_iter().filter(|l| !l.is_empty()).collect();
        prop_assert_eq!(got, want);
    }
}

#[test]
fn lines_without_a_final_newline_and_too_long() {
    let mut d = LineDecoder::new(8);
    let mut b = Bytes::from_static(b"one\r\ntwo");
    assert_eq!(d.decode(&mut b).unwrap(), Some(Bytes::from_static(b"one")));
    assert_eq!(d.decode(&mut b).unwrap(), None);
    assert_eq!(d.finish(), Some(Bytes::from_static(b"two")));
    let mut d = LineDecoder::new(8);
    let mut b = Bytes::from_static(b"0123456789abc");
    assert!(d.decode(&mut b).is_err());
    let mut b = Bytes::from_static(b"0123456789\n");
    assert!(LineDecoder::new(8).decode(&mut b).is_err());
    // A CR at the end of one chunk and LF at the start of the next.
    let mut d = LineDecoder::new(64);
    assert_eq!(d.decode(&mut Bytes::from_static(b"a\r")).unwrap(), None);
    assert_eq!(d.decode(&mut Bytes::from_static(b"\nb\n")).unwrap(), Some(Bytes::from_static(b"a")));
}
