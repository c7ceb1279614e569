//! A record of one run's exchange with the engine: every request the machine
//! asked for, every answer it was fed (with the time), every command, and
//! everything it output. As JSON lines, it is a bug report that can be
//! replayed against the core, byte for byte; cstream's own replay tests are
//! made this way from real Docker and Podman runs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::{Input, Output};
use serde_json::{Value, json};

/// A shared, growing record of one run. Clone it to keep a handle.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    lines: Arc<Mutex<Vec<String>>>,
}

/// Bytes as JSON: `{"text": ..}` when UTF-8, else `{"hex": ..}`.
pub fn data_json(data: &[u8]) -> Value {
    match std::str::from_utf8(data) {
        Ok(s) => json!({ "text": s }),
        Err(_) => json!({ "hex": data.iter().map(|b| format!("{b:02x}")).collect::<String>() }),
    }
}

impl Transcript {
    /// An empty transcript.
    pub fn new() -> Self {
        Transcript::default()
    }

    /// The record so far, one JSON object per line.
    pub fn to_jsonl(&self) -> String {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let mut s = lines.join("\n");
        s.push('\n');
        s
    }

    fn push(&self, v: Value) {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).push(v.to_string());
    }

    pub(crate) fn input(&self, at: Duration, input: &Input) {
        let at = at.as_nanos() as u64;
        self.push(match input {
            Input::Head { id, status, headers } => {
                json!({"at": at, "head": {"id": id.0, "status": status, "headers": headers}})
            }
            Input::Body { id, data } => {
                let mut d = data_json(data);
                d["id"] = json!(id.0);
                json!({"at": at, "body": d})
            }
            Input::End { id } => json!({"at": at, "end": {"id": id.0}}),
            Input::Failed { id, message } => json!({"at": at, "failed": {"id": id.0, "message": message}}),
        });
    }

    pub(crate) fn timeout(&self, at: Duration) {
        self.push(json!({"at": at.as_nanos() as u64, "timeout": {}}));
    }

    pub(crate) fn command(&self, at: Duration, name: &str, data: Option<&Bytes>) {
        let arg = data.map_or(json!({}), |d| data_json(d));
        self.push(json!({"at": at.as_nanos() as u64, name: arg}));
    }

    pub(crate) fn output(&self, out: &Output) {
        self.push(match out {
            Output::Send { id, request } => {
                json!({"send": {"id": id.0, "method": request.method.as_str(), "path": request.path}})
            }
            Output::Write { id, data } => {
                let mut d = data_json(data);
                d["id"] = json!(id.0);
                json!({ "write": d })
            }
            Output::CloseWrite { id } => json!({"close_write": {"id": id.0}}),
            Output::Abort { id } => json!({"abort": {"id": id.0}}),
            Output::Event(e) => json!({ "event": e }),
            Output::Error(e) => json!({ "error": e.to_string() }),
            Output::Done => json!({"done": {}}),
            Output::Pending { .. } => return,
        });
    }
}
