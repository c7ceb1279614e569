//! Recordings to asciicast v3, for asciinema's player.
//!
//! Output of both streams becomes `o` events; without a terminal, lone `\n`
//! becomes `\r\n` so the player shows lines as a terminal would have. Resizes
//! become `r` events, the process end an `x` event with its exit status.
//!
//! Output is UTF-8 text in asciicast. A character split across two output
//! chunks of a stream is joined again (the start waits for the rest, in the
//! next chunk of the same stream); bytes that are not UTF-8, and a character
//! that never completes, become U+FFFD.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use cstream_engine::{EventKind, Stream};
use serde_json::json;

use crate::record::Record;

pub fn asciicast(records: &[Record], out: &Path) -> Result<(), String> {
    let text = cast(records)?;
    let mut f = std::fs::File::create(out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// The asciicast of `records`.
fn cast(records: &[Record]) -> Result<String, String> {
    let Some(Record::Header { command, started_unix, tty, image, .. }) = records.first() else {
        return Err("the recording has no header".into());
    };
    let (cols, rows) = records
        .iter()
        .find_map(|r| match r {
            Record::Event(e) => match &e.kind {
                EventKind::TerminalResize { size } => Some((size.cols, size.rows)),
                _ => None,
            },
            _ => None,
        })
        .unwrap_or((80, 24));
    let header = json!({
        "version": 3,
        "term": {"cols": cols, "rows": rows},
        "timestamp": started_unix,
        "command": command.join(" "),
        "title": format!("{} {}", image, command.join(" ")).trim().to_string(),
    });
    let mut cast = Cast { text: header.to_string() + "\n", last: Duration::ZERO };
    let mut streams = [Text::new(*tty), Text::new(*tty), Text::new(true)];
    let mut at = Duration::ZERO;
    for r in records {
        let Record::Event(e) = r else { continue };
        at = e.at;
        match &e.kind {
            EventKind::Output { stream, data } => {
                let s = streams[index(*stream)].push(data);
                if !s.is_empty() {
                    cast.push(e.at, "o", s);
                }
            }
            EventKind::TerminalResize { size } => cast.push(e.at, "r", format!("{}x{}", size.cols, size.rows)),
            EventKind::ProcessEnd(p) => {
                flush(&mut streams, &mut cast, e.at);
                cast.push(e.at, "x", p.exit_code.unwrap_or(-1).to_string());
            }
            _ => {}
        }
    }
    flush(&mut streams, &mut cast, at);
    Ok(cast.text)
}

/// The asciicast being written: its text, and the time of its last event.
struct Cast {
    text: String,
    last: Duration,
}

impl Cast {
    fn push(&mut self, at: Duration, code: &str, data: String) {
        let interval = at.saturating_sub(self.last).as_secs_f64();
        self.last = self.last.max(at);
        self.text.push_str(&json!([(interval * 1e6).round() / 1e6, code, data]).to_string());
        self.text.push('\n');
    }
}

fn index(s: Stream) -> usize {
    match s {
        Stream::Stdout => 0,
        Stream::Stderr => 1,
        Stream::Tty => 2,
    }
}

/// Ends every stream: a character still waiting for its end never gets it.
fn flush(streams: &mut [Text; 3], cast: &mut Cast, at: Duration) {
    for s in streams {
        let rest = s.finish();
        if !rest.is_empty() {
            cast.push(at, "o", rest);
        }
    }
}

/// One stream's output as text, chunk by chunk.
struct Text {
    /// The start of a character whose end is in a chunk still to come.
    pending: Vec<u8>,
    /// Written as on a terminal: `\n` stays `\n`.
    terminal: bool,
    /// The last character given was `\r`.
    after_cr: bool,
}

impl Text {
    fn new(terminal: bool) -> Text {
        Text { pending: Vec::new(), terminal, after_cr: false }
    }

    /// The text of the next chunk, up to a character it ends inside.
    fn push(&mut self, data: &[u8]) -> String {
        self.pending.extend_from_slice(data);
        let mut s = String::with_capacity(self.pending.len());
        let mut rest = &self.pending[..];
        loop {
            match std::str::from_utf8(rest) {
                Ok(valid) => {
                    s.push_str(valid);
                    rest = &[];
                    break;
                }
                Err(e) => {
                    let (valid, after) = rest.split_at(e.valid_up_to());
                    // Never the default: the bytes up to `valid_up_to` are UTF-8.
                    s.push_str(std::str::from_utf8(valid).unwrap_or_default());
                    match e.error_len() {
                        Some(n) => {
                            s.push(char::REPLACEMENT_CHARACTER);
                            rest = &after[n..];
                        }
                        // The chunk ends inside a character: keep its start.
                        None => {
                            rest = after;
                            break;
                        }
                    }
                }
            }
        }
        self.pending = rest.to_vec();
        self.lines(&s)
    }

    /// What is left at the end: a character that never completed.
    fn finish(&mut self) -> String {
        match std::mem::take(&mut self.pending).is_empty() {
            true => String::new(),
            false => self.lines("\u{FFFD}"),
        }
    }

    /// Without a terminal, `\n` not after `\r` becomes `\r\n`, across chunks too.
    fn lines(&mut self, s: &str) -> String {
        if self.terminal {
            return s.to_string();
        }
        let mut out = String::with_capacity(s.len() + s.len() / 16);
        for c in s.chars() {
            if c == '\n' && !self.after_cr {
                out.push('\r');
            }
            out.push(c);
            self.after_cr = c == '\r';
        }
        out
    }
}

#[cfg(test)]
mod tests;
