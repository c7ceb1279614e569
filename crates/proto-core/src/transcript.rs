//! Transcripts: one run's exchange with the engine as JSON lines, read and
//! written here and nowhere else.
//!
//! A driver records a run as it drives it (`cstream-driver-hyper`'s
//! `Transcript`): every answer it fed the machine, with the time, every
//! deadline and command, and every output. Replayed against the core, a
//! transcript is a bug report that needs no engine; cstream's replay tests
//! are real Docker and Podman runs recorded this way.
//!
//! The first line is the [`Head`]: which engine, which scenario, and the spec.
//! Each other line is one [`Record`], an object with one key naming it;
//! inputs and commands also carry `at`, nanoseconds on the machine's clock:
//!
//! | key | record |
//! | --- | --- |
//! | `head`, `body`, `end`, `failed`, `written` | [`Record::Input`]: `{"id", "status", "headers"}`, `{"id", "text"}` or `{"id", "hex"}`, `{"id"}`, `{"id", "message"}`, `{"command"}` or `{"command", "message"}` |
//! | `timeout` | [`Record::Timeout`]: `{}` |
//! | `cancel`, `stdin`, `close_stdin` | [`Record::Command`]: `{}`, `{"text"}` or `{"hex"}`, `{}` |
//! | `send`, `write`, `close_write`, `abort`, `event`, `error`, `done` | [`Record::Output`], as [`output`] writes it |
//!
//! An output is recorded by what a reader checks: a request by its id,
//! method and path; an error by its message. [`Output::Pending`] is not
//! recorded, nor is [`Output::Ack`]: it goes to whoever gave the command,
//! and changes nothing the engine is asked or the user sees. Bytes are `{"text": ..}` when UTF-8, else `{"hex": ..}`.
//!
//! ```
//! use core::time::Duration;
//! use cstream_proto_core::transcript::{self, Record};
//! use cstream_proto_core::{Input, Output, RequestId};
//!
//! let text = r#"{"engine":"docker","scenario":"x","spec":{"command":null,"image":"alpine:3.20","pull":"never","stdin":false,"tty":false}}
//! {"at":5,"end":{"id":0}}
//! {"done":{}}
//! "#;
//! let (head, records) = transcript::parse(text)?;
//! assert_eq!(head.image, "alpine:3.20");
//! let end = Input::End { id: RequestId(0) };
//! assert_eq!(records[0], Record::Input { at: Duration::from_nanos(5), input: end });
//! let done = Output::Done;
//! assert_eq!(records[1], Record::Output(transcript::output(&done).unwrap()));
//! # Ok::<(), transcript::TranscriptError>(())
//! ```

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt::Write as _;
use core::time::Duration;

use bytes::Bytes;
use serde_json::{Map, Value, json};

use crate::machine::{CommandId, Input, Output, RequestId};
use crate::spec::{PullPolicy, RunSpec, SpecError};

/// The first line: the engine, the scenario and the spec of the run.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct Head {
    /// `docker`, `docker-current` or `podman` for cstream's own.
    pub engine: String,
    pub scenario: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub tty: bool,
    /// Columns and rows, with `tty`.
    pub tty_size: Option<(u16, u16)>,
    pub stdin: bool,
    pub pull: PullPolicy,
}

impl Head {
    /// The spec the run was made with; heartbeats off, as they were when
    /// recording (they would make the replay depend on the recording's pace).
    pub fn spec(&self) -> Result<RunSpec, SpecError> {
        let mut b =
            RunSpec::builder(self.image.as_str()).tty(self.tty).stdin(self.stdin).pull(self.pull).heartbeat(None);
        if let Some(c) = &self.command {
            b = b.command(c.iter().cloned());
        }
        if let Some((cols, rows)) = self.tty_size {
            b = b.tty_size(cols, rows);
        }
        b.build()
    }

    /// The head as its line holds it.
    pub fn to_json(&self) -> Value {
        let pull = match self.pull {
            PullPolicy::Always => "always",
            PullPolicy::Missing => "missing",
            PullPolicy::Never => "never",
        };
        json!({
            "engine": self.engine,
            "scenario": self.scenario,
            "spec": {
                "image": self.image, "command": self.command, "tty": self.tty, "stdin": self.stdin, "pull": pull,
                "tty_size": self.tty_size
            }
        })
    }

    /// Reads a head line.
    pub fn from_json(v: &Value) -> Result<Head, String> {
        let s = v.get("spec").ok_or("no spec")?;
        let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_string).ok_or(format!("no {k}"));
        let flag = |k: &str| s.get(k).and_then(Value::as_bool).ok_or(format!("no {k}"));
        let pull = match s.get("pull").and_then(Value::as_str) {
            Some("always") => PullPolicy::Always,
            Some("never") => PullPolicy::Never,
            Some("missing") | None => PullPolicy::Missing,
            Some(other) => return Err(format!("pull {other:?}")),
        };
        let command = match s.get("command") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => Some(
                a.iter().map(|c| c.as_str().map(str::to_string).ok_or("a command word")).collect::<Result<_, _>>()?,
            ),
            Some(_) => return Err("command".into()),
        };
        let tty_size = match s.get("tty_size") {
            None | Some(Value::Null) => None,
            Some(Value::Array(a)) => match a.as_slice() {
                [c, r] => Some((number(c)?, number(r)?)),
                _ => return Err("tty_size".into()),
            },
            Some(_) => return Err("tty_size".into()),
        };
        Ok(Head {
            engine: text(v, "engine")?,
            scenario: text(v, "scenario")?,
            image: text(s, "image")?,
            command,
            tty: flag("tty")?,
            tty_size,
            stdin: flag("stdin")?,
            pull,
        })
    }
}

fn number<T: TryFrom<u64>>(v: &Value) -> Result<T, String> {
    v.as_u64().and_then(|n| T::try_from(n).ok()).ok_or_else(|| format!("a number, not {v}"))
}

/// A command from the user, as a transcript records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// [`Machine::cancel`](crate::Machine::cancel).
    Cancel,
    /// [`Machine::write_stdin`](crate::Machine::write_stdin).
    Stdin(Bytes),
    /// [`Machine::close_stdin`](crate::Machine::close_stdin).
    CloseStdin,
}

impl Command {
    /// The record's key: `cancel`, `stdin` or `close_stdin`.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Cancel => "cancel",
            Command::Stdin(_) => "stdin",
            Command::CloseStdin => "close_stdin",
        }
    }
}

/// One line after the head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Record {
    /// An answer fed to the machine ([`Machine::handle_input`](crate::Machine::handle_input)).
    Input {
        /// The machine's clock when it was fed.
        at: Duration,
        #[allow(missing_docs)]
        input: Input,
    },
    /// A deadline passed ([`Machine::handle_timeout`](crate::Machine::handle_timeout)).
    Timeout {
        /// The machine's clock then.
        at: Duration,
    },
    /// A command from the user.
    Command {
        /// The machine's clock when it was given.
        at: Duration,
        #[allow(missing_docs)]
        command: Command,
    },
    /// An output of the machine, as [`output`] records it.
    Output(Value),
}

/// Bytes as a transcript holds them: `{"text": ..}` when UTF-8, else `{"hex": ..}`.
pub fn data_json(data: &[u8]) -> Value {
    match core::str::from_utf8(data) {
        Ok(s) => json!({ "text": s }),
        Err(_) => {
            let mut hex = String::with_capacity(data.len() * 2);
            for b in data {
                let _ = write!(hex, "{b:02x}");
            }
            json!({ "hex": hex })
        }
    }
}

/// The bytes of a `{"text": ..}` or `{"hex": ..}` object.
pub fn data_of(v: &Value) -> Result<Bytes, String> {
    if let Some(t) = v.get("text").and_then(Value::as_str) {
        return Ok(Bytes::copy_from_slice(t.as_bytes()));
    }
    let hex = v.get("hex").and_then(Value::as_str).ok_or("neither text nor hex")?;
    let digit = |c: u8| (c as char).to_digit(16).ok_or("not hex");
    let pairs = hex.as_bytes().chunks(2);
    let bytes = pairs.map(|p| match p {
        [a, b] => Ok((digit(*a)? * 16 + digit(*b)?) as u8),
        _ => Err("odd hex"),
    });
    Ok(Bytes::from(bytes.collect::<Result<Vec<u8>, _>>()?))
}

/// `data` as an object with `id` added.
fn with_id(id: RequestId, data: &[u8]) -> Value {
    let mut d = data_json(data);
    if let Value::Object(m) = &mut d {
        m.insert("id".into(), json!(id.0));
    }
    d
}

fn nanos(at: Duration) -> u64 {
    u64::try_from(at.as_nanos()).unwrap_or(u64::MAX)
}

/// How an output is recorded; `None` for [`Output::Pending`], which is not.
pub fn output(out: &Output) -> Option<Value> {
    Some(match out {
        Output::Send { id, request } => {
            json!({"send": {"id": id.0, "method": request.method.as_str(), "path": request.path}})
        }
        Output::Write { id, data, .. } => json!({ "write": with_id(*id, data) }),
        Output::CloseWrite { id, .. } => json!({"close_write": {"id": id.0}}),
        Output::Abort { id } => json!({"abort": {"id": id.0}}),
        Output::Event(e) => json!({ "event": e }),
        Output::Error(e) => json!({ "error": e.to_string() }),
        Output::Done => json!({"done": {}}),
        Output::Pending { .. } | Output::Ack { .. } => return None,
    })
}

impl Record {
    /// The record as its line holds it.
    pub fn to_json(&self) -> Value {
        let (at, key, v) = match self {
            Record::Output(v) => return v.clone(),
            Record::Input { at, input } => match input {
                Input::Head { id, status, headers } => {
                    (at, "head", json!({"id": id.0, "status": status, "headers": headers}))
                }
                Input::Body { id, data } => (at, "body", with_id(*id, data)),
                Input::End { id } => (at, "end", json!({"id": id.0})),
                Input::Failed { id, message } => (at, "failed", json!({"id": id.0, "message": message})),
                Input::Written { command, result: Ok(()) } => (at, "written", json!({"command": command.0})),
                Input::Written { command, result: Err(message) } => {
                    (at, "written", json!({"command": command.0, "message": message}))
                }
            },
            Record::Timeout { at } => (at, "timeout", json!({})),
            Record::Command { at, command } => {
                let v = match command {
                    Command::Stdin(data) => data_json(data),
                    Command::Cancel | Command::CloseStdin => json!({}),
                };
                (at, command.name(), v)
            }
        };
        let mut line = Map::new();
        line.insert("at".into(), json!(nanos(*at)));
        line.insert(key.into(), v);
        Value::Object(line)
    }

    /// Reads one line after the head.
    pub fn from_json(line: &Value) -> Result<Record, String> {
        let obj = line.as_object().ok_or("not an object")?;
        let key = obj.keys().find(|k| *k != "at").ok_or("no record")?.as_str();
        let v = obj.get(key).ok_or("no record")?;
        let at = || obj.get("at").map(number::<u64>).transpose().map(|n| Duration::from_nanos(n.unwrap_or(0)));
        let id = || v.get("id").ok_or("no id").map_err(String::from).and_then(number::<u64>).map(RequestId);
        let input = |input| Ok(Record::Input { at: at()?, input });
        let command = |command| Ok(Record::Command { at: at()?, command });
        match key {
            "head" => {
                let headers = v.get("headers").and_then(Value::as_array).ok_or("no headers")?;
                let pair = |h: &Value| match h.as_array().map(Vec::as_slice) {
                    Some([Value::String(n), Value::String(v)]) => Ok((n.clone(), v.clone())),
                    _ => Err(String::from("a header")),
                };
                let headers = headers.iter().map(pair).collect::<Result<_, _>>()?;
                let status = number(v.get("status").ok_or("no status")?)?;
                input(Input::Head { id: id()?, status, headers })
            }
            "body" => input(Input::Body { id: id()?, data: data_of(v)? }),
            "end" => input(Input::End { id: id()? }),
            "failed" => {
                let message = v.get("message").and_then(Value::as_str).ok_or("no message")?.to_string();
                input(Input::Failed { id: id()?, message })
            }
            "written" => {
                let command = CommandId(number(v.get("command").ok_or("no command")?)?);
                let result = match v.get("message") {
                    None => Ok(()),
                    Some(m) => Err(m.as_str().ok_or("a message")?.to_string()),
                };
                input(Input::Written { command, result })
            }
            "timeout" => Ok(Record::Timeout { at: at()? }),
            "cancel" => command(Command::Cancel),
            "stdin" => command(Command::Stdin(data_of(v)?)),
            "close_stdin" => command(Command::CloseStdin),
            "send" | "write" | "close_write" | "abort" | "event" | "error" | "done" => Ok(Record::Output(line.clone())),
            other => Err(format!("unknown record {other:?}")),
        }
    }
}

/// Why a transcript could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("transcript line {line}: {what}")]
pub struct TranscriptError {
    /// The line, from 1, blank lines counted (as an editor numbers them).
    pub line: usize,
    /// The JSON parser's message, or what the line lacks (`no id`,
    /// `unknown record "x"`).
    pub what: String,
}

/// Reads a whole transcript: its head and its records, in order.
pub fn parse(text: &str) -> Result<(Head, Vec<Record>), TranscriptError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).map(|(n, l)| {
        let err = move |what: String| TranscriptError { line: n + 1, what };
        serde_json::from_str::<Value>(l).map_err(|e| err(e.to_string())).map(|v| (v, err))
    });
    let (first, err) = lines.next().ok_or(TranscriptError { line: 1, what: "empty".into() })??;
    let head = Head::from_json(&first).map_err(err)?;
    let records = lines.map(|l| l.and_then(|(v, err)| Record::from_json(&v).map_err(err))).collect::<Result<_, _>>()?;
    Ok((head, records))
}
