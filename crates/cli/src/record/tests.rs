use std::path::{Path, PathBuf};
use std::time::Duration;

use cstream_engine::core::event::PullProgress;
use cstream_engine::{EndReason, Event, EventKind, ProcessEnd, ProcessId, Stream, TtySize};

use super::*;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("cstream-record-{}-{name}", std::process::id()))
}

/// One record of every kind, every enum's every variant, and `None` and
/// `Some` of every option, after `header`: the samples in tests/data.
fn sample(header: Record) -> Vec<Record> {
    let ms = Duration::from_millis;
    let ev = |at: u64, kind: EventKind| Record::Event(Event { at: ms(at), kind });
    let image = "127.0.0.1:5000/cstream-test:v1";
    let progress = |layer: &str, status: &str, current, total, aggregate_current, aggregate_total| {
        EventKind::ImagePullProgress(PullProgress {
            image: image.into(),
            layer: layer.into(),
            status: status.into(),
            current,
            total,
            aggregate_current,
            aggregate_total,
        })
    };
    vec![
        header,
        ev(0, EventKind::ImagePullStart { image: image.into() }),
        ev(1, progress("ef1ee0e2fea4", "Downloading", Some(1_200_000), Some(2_500_000), 1_200_000, 2_500_000)),
        ev(2, progress("", "Status: Downloaded newer image", None, None, 0, 0)),
        ev(
            3,
            EventKind::ImagePullComplete {
                image: image.into(),
                digest: Some("sha256:54218eb7".into()),
                duration: ms(3),
            },
        ),
        ev(4, EventKind::ImagePullComplete { image: "x".into(), digest: None, duration: ms(3) }),
        ev(5, EventKind::ContainerCreate { id: "c0ffee".into(), image: "cstream-test:latest".into() }),
        ev(
            6,
            EventKind::ProcessStart {
                command: "sh".into(),
                args: vec!["-c".into(), "exit 3".into()],
                process: ProcessId::Container("c0ffee".into()),
            },
        ),
        ev(7, EventKind::ProcessStart { command: "true".into(), args: vec![], process: ProcessId::Pid(4242) }),
        ev(8, EventKind::Output { stream: Stream::Stdout, data: bytes::Bytes::from_static(b"out\n") }),
        ev(9, EventKind::Output { stream: Stream::Stderr, data: bytes::Bytes::from_static(b"err\n") }),
        ev(10, EventKind::Output { stream: Stream::Tty, data: bytes::Bytes::from_static(b"\xe2\x82\0\xff") }),
        ev(11, EventKind::Heartbeat { elapsed: Duration::new(30, 5) }),
        ev(12, EventKind::TerminalResize { size: TtySize { cols: 90, rows: 30 } }),
        ev(13, EventKind::ProcessEnd(ProcessEnd::from_exit_code(137, true, ms(500), EndReason::Cancelled))),
        ev(14, EventKind::ProcessEnd(ProcessEnd::from_exit_code(3, false, ms(500), EndReason::Exited))),
        ev(15, EventKind::ProcessEnd(ProcessEnd::unstarted(Some(127), EndReason::StartFailed))),
        ev(16, EventKind::ProcessEnd(ProcessEnd::unstarted(None, EndReason::TimedOut))),
        Record::Error { at: ms(17), message: "the engine went away".into() },
        ev(18, EventKind::ContainerRemove { id: "c0ffee".into() }),
    ]
}

fn header(cstream: Option<&str>) -> Record {
    Record::Header {
        image: "cstream-test:latest".into(),
        command: vec!["sh".into(), "-c".into(), "exit 3".into()],
        started_unix: 1_790_000_000,
        tty: true,
        cstream: cstream.map(Into::into),
    }
}

fn write(path: &Path, records: &[Record]) {
    let mut r = Recorder::create(path, &records[0]).unwrap();
    for record in &records[1..] {
        assert_eq!(r.write(record), None);
    }
    assert!(!r.failed());
}

/// A recording made by the first version (tests/data/v1-all-kinds.rec, every
/// kind of record, written by cstream 0.1.0 before the format had a second
/// version) reads as the same records in today's types.
#[test]
fn v1_recordings_still_read() {
    let read = read(&data("v1-all-kinds.rec")).unwrap();
    assert_eq!(read.records, sample(header(None)));
    assert_eq!(read.cut, None);
}

/// A recording of the second version (tests/data/v2-all-kinds.rec, every kind
/// of record then) reads as the same records in today's types.
#[test]
fn v2_recordings_still_read() {
    let read = read(&data("v2-all-kinds.rec")).unwrap();
    assert_eq!(read.records, sample(header(Some("0.1.0"))));
    assert_eq!(read.cut, None);
}

/// A recording of the third version (tests/data/v3-all-kinds.rec: the v2
/// sample and a swarm job's task) reads as the same records today.
#[test]
fn v3_recordings_still_read() {
    let read = read(&data("v3-all-kinds.rec")).unwrap();
    assert_eq!(read.records, v3_sample());
    assert_eq!(read.cut, None);
}

fn v3_sample() -> Vec<Record> {
    let mut records = sample(header(Some("0.1.0")));
    let task = ProcessId::Task { service: "s1".into(), task: "t1".into(), node: "n2".into(), container: "c1".into() };
    let start = EventKind::ProcessStart { command: "true".into(), args: vec![], process: task };
    records.push(Record::Event(Event { at: Duration::from_millis(20), kind: start }));
    records
}

/// Today's types write exactly the bytes of tests/data/v4-all-kinds.rec (the
/// v3 sample, a run id and a step run by exec). When this fails, the format
/// changed: add a version (see the module docs).
#[test]
fn the_current_format_is_pinned() {
    let mut records = v3_sample();
    records.push(Record::Run { run_id: "18c1f0a2b3c4d5e6-4d2-0".into() });
    let step = ProcessId::Exec { container: "c1".into(), exec: "e1".into() };
    let start = EventKind::ProcessStart { command: "make".into(), args: vec!["test".into()], process: step };
    records.push(Record::Event(Event { at: Duration::from_millis(30), kind: start }));
    let written = temp(&format!("v{VERSION}-all-kinds.rec"));
    write(&written, &records);
    let want = data(&format!("v{VERSION}-all-kinds.rec"));
    let got = std::fs::read(&written).unwrap();
    assert!(
        std::fs::read(&want).ok().as_deref() == Some(&got[..]),
        "the recording format changed (or {} is missing): add a version, as the docs of the record module say; \
         the new sample is {}",
        want.display(),
        written.display(),
    );
    std::fs::remove_file(&written).unwrap();
    let read = read(&want).unwrap();
    assert_eq!(read.records, records);
}

#[test]
fn a_newer_version_is_refused_and_never_misread() {
    let path = temp("v5.rec");
    std::fs::write(&path, b"cstream-recording v5\n\x01\x02\0").unwrap();
    let e = read(&path).unwrap_err();
    assert_eq!(
        e,
        format!("{} was made by a newer cstream (recording format v5; this one reads v1 to v4)", path.display())
    );
    for not in
        [&b"cstream-recording v\n"[..], b"cstream-recording v0\n", b"cstream-recording vx\n", b"#!/bin/sh\n", b""]
    {
        std::fs::write(&path, not).unwrap();
        assert_eq!(read(&path).unwrap_err(), format!("{} is not a cstream recording", path.display()));
    }
    std::fs::remove_file(&path).unwrap();
}

/// A recording cut inside its last record gives every whole record before
/// the cut, and says it was cut.
#[test]
fn a_cut_recording_reads_up_to_the_cut() {
    let path = temp("cut.rec");
    let records = sample(header(Some("0.1.0")));
    write(&path, &records);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let read = read(&path).unwrap();
    assert_eq!(read.records, records[..records.len() - 1]);
    assert_eq!(read.cut, Some(format!("{}: the recording ends inside a record (cut short?)", path.display())));
    std::fs::remove_file(&path).unwrap();
}

/// Each record is in the file as soon as `write` returns: nothing waits in
/// a buffer for a `flush` a killed cstream never makes.
#[test]
fn each_record_is_in_the_file_once_written() {
    let path = temp("unbuffered.rec");
    let records = sample(header(Some("0.1.0")));
    let mut r = Recorder::create(&path, &records[0]).unwrap();
    for n in 1..records.len() {
        assert_eq!(r.write(&records[n]), None);
        assert_eq!(read(&path).unwrap().records, records[..=n], "after record {n}");
    }
    std::fs::remove_file(&path).unwrap();
}

/// A recording cut inside its last record (its cstream was killed mid-write)
/// goes on from its last whole record: the cut is cut off, and the records
/// appended read back after the whole ones.
#[test]
fn appending_cuts_off_a_cut_record_first() {
    let path = temp("append.rec");
    let records = sample(header(Some("0.1.0")));
    write(&path, &records);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
    let cut = read(&path).unwrap();
    assert!(cut.cut.is_some());
    let mut r = Recorder::append(&path, cut.whole).unwrap();
    let last = records.last().unwrap();
    assert_eq!(r.write(last), None);
    let again = read(&path).unwrap();
    assert_eq!((again.records, again.cut), (records.clone(), None));
    assert_eq!(again.whole, bytes.len() as u64);
    std::fs::remove_file(&path).unwrap();
}

/// What a resume needs from a recording: the run's id, whether it ended,
/// and the bytes of each stream it holds.
#[test]
fn a_recording_says_its_run_id_end_and_output() {
    let mut records = vec![header(None), Record::Run { run_id: "r1".into() }];
    let out = |stream, data: &'static [u8]| {
        Record::Event(Event { at: Duration::ZERO, kind: EventKind::Output { stream, data: data.into() } })
    };
    records.extend([out(Stream::Stdout, b"abc"), out(Stream::Stderr, b"de"), out(Stream::Stdout, b"f")]);
    let (id, ended, seen) = run_in(&records);
    assert_eq!((id.as_deref(), ended, seen.stdout, seen.stderr, seen.tty), (Some("r1"), false, 4, 2, 0));
    let end = ProcessEnd {
        exit_code: Some(0),
        signal: None,
        oom_killed: false,
        duration: Duration::ZERO,
        reason: EndReason::Exited,
    };
    records.push(Record::Event(Event { at: Duration::ZERO, kind: EventKind::ProcessEnd(end) }));
    assert!(run_in(&records).1);
    assert_eq!(run_in(&sample(header(None))).0, None, "a recording of old names no run");
}

/// A full disk: the error is said once, and then nothing more is tried.
#[test]
fn a_failed_write_is_reported_once() {
    let e = Recorder::create(Path::new("/dev/full"), &header(None)).err().unwrap();
    assert_eq!(e, "the recording /dev/full failed: No space left on device (os error 28)");
    let path = temp("full.rec");
    let mut r = Recorder::create(&path, &header(None)).unwrap();
    // The file now writes to /dev/full.
    r.file = Some(std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap());
    let event = &sample(header(None))[1];
    assert_eq!(
        r.write(event),
        Some(format!("the recording {} failed: No space left on device (os error 28)", path.display()))
    );
    assert!(r.failed());
    assert_eq!(r.write(event), None, "said once");
    assert!(r.failed());
    std::fs::remove_file(&path).unwrap();
}

/// A variant added at the end of an enum leaves the sample's bytes as they
/// were, but an older cstream could not read a record of it: that is a new
/// version too. Each enum's first unknown index must be as unknown as any.
#[test]
fn no_variant_was_added_without_a_version() {
    fn unknown<T: serde::de::DeserializeOwned + std::fmt::Debug>(variants: u8) {
        let first = postcard::from_bytes::<T>(&[variants, 0, 0, 0]);
        let far = postcard::from_bytes::<T>(&[127, 0, 0, 0]);
        assert!(far.is_err(), "{far:?}");
        assert_eq!(
            format!("{first:?}"),
            format!("{far:?}"),
            "{} has more than {variants} variants: add a version (see the module docs)",
            std::any::type_name::<T>()
        );
    }
    unknown::<Record>(4);
    unknown::<EventKind>(10);
    unknown::<ProcessId>(4);
    unknown::<Stream>(3);
    unknown::<EndReason>(4);
}
