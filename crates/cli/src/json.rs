//! The `--json` schema: one object per event, stable field names.
//!
//! Every object has `type` (snake_case) and `at` (seconds since the run
//! began). Output data is UTF-8 text when valid (`"encoding": "utf8"`),
//! base64 otherwise (`"encoding": "base64"`).

use base64::Engine as _;
use cstream_engine::{EndReason, Event, EventKind, ProcessId, Stream};
use serde_json::{Value, json};

fn secs(d: std::time::Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e6
}

/// Output bytes as the schema says: text when UTF-8, else base64.
pub fn data(bytes: &[u8]) -> (&'static str, String) {
    match std::str::from_utf8(bytes) {
        Ok(s) => ("utf8", s.to_string()),
        Err(_) => ("base64", base64::engine::general_purpose::STANDARD.encode(bytes)),
    }
}

pub fn stream_name(s: Stream) -> &'static str {
    match s {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
        Stream::Tty => "tty",
    }
}

pub fn reason_name(r: EndReason) -> &'static str {
    match r {
        EndReason::Exited => "exited",
        EndReason::Cancelled => "cancelled",
        EndReason::TimedOut => "timed_out",
        EndReason::StartFailed => "start_failed",
        _ => "other",
    }
}

/// One event as its JSON object.
pub fn event(e: &Event) -> Value {
    let at = secs(e.at);
    match &e.kind {
        EventKind::ImagePullStart { image } => json!({"type": "image_pull_start", "at": at, "image": image}),
        EventKind::ImagePullProgress(p) => json!({
            "type": "image_pull_progress", "at": at, "image": p.image, "layer": p.layer, "status": p.status,
            "current": p.current, "total": p.total,
            "aggregate_current": p.aggregate_current, "aggregate_total": p.aggregate_total
        }),
        EventKind::ImagePullComplete { image, digest, duration } => json!({
            "type": "image_pull_complete", "at": at, "image": image, "digest": digest, "duration": secs(*duration)
        }),
        EventKind::ContainerCreate { id, image } => {
            json!({"type": "container_create", "at": at, "id": id, "image": image})
        }
        EventKind::ProcessStart { command, args, process } => {
            let mut v = json!({"type": "process_start", "at": at, "command": command, "args": args});
            match process {
                ProcessId::Container(id) => v["container_id"] = json!(id),
                ProcessId::Pid(pid) => v["pid"] = json!(pid),
                ProcessId::Task { service, task, node, container } => {
                    v["service_id"] = json!(service);
                    v["task_id"] = json!(task);
                    v["node_id"] = json!(node);
                    v["container_id"] = json!(container);
                }
                ProcessId::Exec { container, exec } => {
                    v["container_id"] = json!(container);
                    v["exec_id"] = json!(exec);
                }
            }
            v
        }
        EventKind::Output { stream, data: bytes } => {
            let (encoding, text) = data(bytes);
            json!({"type": "output", "at": at, "stream": stream_name(*stream), "encoding": encoding, "data": text})
        }
        EventKind::Heartbeat { elapsed } => json!({"type": "heartbeat", "at": at, "elapsed": secs(*elapsed)}),
        EventKind::TerminalResize { size } => {
            json!({"type": "terminal_resize", "at": at, "cols": size.cols, "rows": size.rows})
        }
        EventKind::ProcessEnd(p) => json!({
            "type": "process_end", "at": at, "exit_code": p.exit_code, "signal": p.signal,
            "oom_killed": p.oom_killed, "duration": secs(p.duration), "reason": reason_name(p.reason)
        }),
        EventKind::ContainerRemove { id } => json!({"type": "container_remove", "at": at, "id": id}),
        other => json!({"type": other.name(), "at": at}),
    }
}

/// An error as its JSON object.
pub fn error(at: std::time::Duration, message: &str) -> Value {
    json!({"type": "error", "at": secs(at), "message": message})
}
