//! A record of one run's exchange with the engine: every request the machine
//! asked for, every answer it was fed (with the time), every command, and
//! everything it output. As JSON lines, it is a bug report that can be
//! replayed against the core, byte for byte; cstream's own replay tests are
//! made this way from real Docker and Podman runs. The lines are
//! [`cstream_proto_core::transcript`]'s, which reads them back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::transcript::{self, Command, Record};
use cstream_proto_core::{Input, Output};
use serde_json::Value;

pub use cstream_proto_core::transcript::data_json;

/// A shared, growing record of one run. Clone it to keep a handle.
#[derive(Clone, Debug, Default)]
pub struct Transcript {
    lines: Arc<Mutex<Vec<String>>>,
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
        self.push(Record::Input { at, input: input.clone() }.to_json());
    }

    pub(crate) fn timeout(&self, at: Duration) {
        self.push(Record::Timeout { at }.to_json());
    }

    /// A command by its record's name (`cancel`, `stdin`, `close_stdin`);
    /// others are not recorded.
    pub(crate) fn command(&self, at: Duration, name: &str, data: Option<&Bytes>) {
        let command = match (name, data) {
            ("cancel", _) => Command::Cancel,
            ("stdin", Some(data)) => Command::Stdin(data.clone()),
            ("close_stdin", _) => Command::CloseStdin,
            _ => return,
        };
        self.push(Record::Command { at, command }.to_json());
    }

    pub(crate) fn output(&self, out: &Output) {
        if let Some(v) = transcript::output(out) {
            self.push(v);
        }
    }
}
