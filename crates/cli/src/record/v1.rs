//! Recording format v1, frozen: the record types exactly as v1 wrote them
//! (postcard reads by shape, so these must never change), and their
//! conversion to today's types.
//!
//! v1 was written with the engine's own event types; these are copies of
//! those types as they were then, with the same field order and the same
//! variant order.

use std::time::Duration;

use bytes::Bytes;
use cstream_engine::core::event::PullProgress as PullProgressNow;
use serde::Deserialize;

#[derive(Deserialize)]
pub enum Record {
    Header { image: String, command: Vec<String>, started_unix: u64, tty: bool },
    Event(Event),
    Error { at: Duration, message: String },
}

#[derive(Deserialize)]
pub struct Event {
    at: Duration,
    kind: EventKind,
}

#[derive(Deserialize)]
enum EventKind {
    ImagePullStart { image: String },
    ImagePullProgress(PullProgress),
    ImagePullComplete { image: String, digest: Option<String>, duration: Duration },
    ContainerCreate { id: String, image: String },
    ProcessStart { command: String, args: Vec<String>, process: ProcessId },
    Output { stream: Stream, data: Bytes },
    Heartbeat { elapsed: Duration },
    TerminalResize { size: TtySize },
    ProcessEnd(ProcessEnd),
    ContainerRemove { id: String },
}

#[derive(Deserialize)]
enum ProcessId {
    Container(String),
    Pid(u32),
}

#[derive(Deserialize)]
enum Stream {
    Stdout,
    Stderr,
    Tty,
}

#[derive(Deserialize)]
struct TtySize {
    cols: u16,
    rows: u16,
}

#[derive(Deserialize)]
struct PullProgress {
    image: String,
    layer: String,
    status: String,
    current: Option<u64>,
    total: Option<u64>,
    aggregate_current: u64,
    aggregate_total: u64,
}

#[derive(Deserialize)]
struct ProcessEnd {
    exit_code: Option<i32>,
    signal: Option<i32>,
    oom_killed: bool,
    duration: Duration,
    reason: EndReason,
}

#[derive(Deserialize)]
enum EndReason {
    Exited,
    Cancelled,
    TimedOut,
    StartFailed,
}

impl From<Record> for super::Record {
    fn from(r: Record) -> super::Record {
        match r {
            // v1 did not say which cstream wrote it.
            Record::Header { image, command, started_unix, tty } => {
                super::Record::Header { image, command, started_unix, tty, cstream: None }
            }
            Record::Event(e) => super::Record::Event(e.into()),
            Record::Error { at, message } => super::Record::Error { at, message },
        }
    }
}

impl From<Event> for cstream_engine::Event {
    fn from(e: Event) -> cstream_engine::Event {
        use cstream_engine::EventKind as Now;
        let kind = match e.kind {
            EventKind::ImagePullStart { image } => Now::ImagePullStart { image },
            EventKind::ImagePullProgress(p) => Now::ImagePullProgress(PullProgressNow {
                image: p.image,
                layer: p.layer,
                status: p.status,
                current: p.current,
                total: p.total,
                aggregate_current: p.aggregate_current,
                aggregate_total: p.aggregate_total,
            }),
            EventKind::ImagePullComplete { image, digest, duration } => {
                Now::ImagePullComplete { image, digest, duration }
            }
            EventKind::ContainerCreate { id, image } => Now::ContainerCreate { id, image },
            EventKind::ProcessStart { command, args, process } => Now::ProcessStart {
                command,
                args,
                process: match process {
                    ProcessId::Container(id) => cstream_engine::ProcessId::Container(id),
                    ProcessId::Pid(pid) => cstream_engine::ProcessId::Pid(pid),
                },
            },
            EventKind::Output { stream, data } => Now::Output {
                stream: match stream {
                    Stream::Stdout => cstream_engine::Stream::Stdout,
                    Stream::Stderr => cstream_engine::Stream::Stderr,
                    Stream::Tty => cstream_engine::Stream::Tty,
                },
                data,
            },
            EventKind::Heartbeat { elapsed } => Now::Heartbeat { elapsed },
            EventKind::TerminalResize { size } => {
                Now::TerminalResize { size: cstream_engine::TtySize { cols: size.cols, rows: size.rows } }
            }
            EventKind::ProcessEnd(p) => Now::ProcessEnd(cstream_engine::ProcessEnd {
                exit_code: p.exit_code,
                signal: p.signal,
                oom_killed: p.oom_killed,
                duration: p.duration,
                reason: match p.reason {
                    EndReason::Exited => cstream_engine::EndReason::Exited,
                    EndReason::Cancelled => cstream_engine::EndReason::Cancelled,
                    EndReason::TimedOut => cstream_engine::EndReason::TimedOut,
                    EndReason::StartFailed => cstream_engine::EndReason::StartFailed,
                },
            }),
            EventKind::ContainerRemove { id } => Now::ContainerRemove { id },
        };
        cstream_engine::Event { at: e.at, kind }
    }
}
