use std::time::Duration;

use cstream_engine::{EndReason, Event, EventKind, ProcessEnd, Stream};

use super::cast;
use crate::record::Record;

fn header(tty: bool) -> Record {
    Record::Header { image: "img".into(), command: vec!["sh".into()], started_unix: 1_790_000_000, tty, cstream: None }
}

fn out(ms: u64, stream: Stream, data: &'static [u8]) -> Record {
    let data = bytes::Bytes::from_static(data);
    Record::Event(Event { at: Duration::from_millis(ms), kind: EventKind::Output { stream, data } })
}

fn end(ms: u64) -> Record {
    let end = ProcessEnd::from_exit_code(0, false, Duration::from_millis(ms), EndReason::Exited);
    Record::Event(Event { at: Duration::from_millis(ms), kind: EventKind::ProcessEnd(end) })
}

/// The cast's events, after its header line.
fn events(records: &[Record]) -> String {
    let text = cast(records).unwrap();
    let (head, events) = text.split_once('\n').unwrap();
    assert!(head.starts_with(r#"{"command":"sh","#), "{head}");
    events.to_string()
}

#[test]
fn a_character_split_across_two_chunks_is_the_character() {
    // "é" is C3 A9, "€" E2 82 AC: each split across two chunks of its stream,
    // with the other stream's chunk in between.
    let records = [
        header(false),
        out(100, Stream::Stdout, b"caf\xc3"),
        out(200, Stream::Stderr, b"\xe2\x82"),
        out(300, Stream::Stdout, b"\xa9\n"),
        out(400, Stream::Stderr, b"\xac 1\n"),
        end(500),
    ];
    assert_eq!(
        events(&records),
        "[0.1,\"o\",\"caf\"]\n[0.2,\"o\",\"é\\r\\n\"]\n[0.1,\"o\",\"€ 1\\r\\n\"]\n[0.1,\"x\",\"0\"]\n"
    );
}

#[test]
fn bytes_that_are_not_utf8_become_replacement_characters() {
    let records = [header(true), out(0, Stream::Tty, b"a\xffb\xe2\x82A\xed\xa0\x80z"), end(0)];
    // A lone continuation byte, a start cut by an ASCII byte, and an encoded
    // surrogate (three bytes, each invalid) each become U+FFFD, as
    // `String::from_utf8_lossy` has it.
    let want = String::from_utf8_lossy(b"a\xffb\xe2\x82A\xed\xa0\x80z").into_owned();
    assert_eq!(want, "a\u{FFFD}b\u{FFFD}A\u{FFFD}\u{FFFD}\u{FFFD}z");
    assert_eq!(events(&records), format!("[0.0,\"o\",\"{want}\"]\n[0.0,\"x\",\"0\"]\n"));
}

#[test]
fn a_character_that_never_completes_ends_as_a_replacement_character() {
    // Before the process end, when there is one; else at the very end.
    let records = [header(false), out(100, Stream::Stdout, b"ok\xe2\x82"), end(300)];
    assert_eq!(events(&records), "[0.1,\"o\",\"ok\"]\n[0.2,\"o\",\"\u{FFFD}\"]\n[0.0,\"x\",\"0\"]\n");
    let records = [header(false), out(100, Stream::Stderr, b"ok\xf0\x9f\x98")];
    assert_eq!(events(&records), "[0.1,\"o\",\"ok\"]\n[0.0,\"o\",\"\u{FFFD}\"]\n");
}

#[test]
fn a_line_end_split_across_chunks_gets_no_second_carriage_return() {
    let records = [header(false), out(0, Stream::Stdout, b"a\r"), out(0, Stream::Stdout, b"\nb\n")];
    assert_eq!(events(&records), "[0.0,\"o\",\"a\\r\"]\n[0.0,\"o\",\"\\nb\\r\\n\"]\n");
    let records = [header(true), out(0, Stream::Stdout, b"a\nb\r\n")];
    assert_eq!(events(&records), "[0.0,\"o\",\"a\\nb\\r\\n\"]\n", "a terminal's output stays as it was");
}
