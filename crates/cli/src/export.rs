//! Recordings to asciicast v3, for asciinema's player.
//!
//! Output of both streams becomes `o` events; without a terminal, lone `\n`
//! becomes `\r\n` so the player shows lines as a terminal would have. Resizes
//! become `r` events, the process end an `x` event with its exit status.

use std::io::Write;
use std::path::Path;

use cstream_engine::{EventKind, Stream};
use serde_json::json;

use crate::record::Record;

pub fn asciicast(records: &[Record], out: &Path) -> Result<(), String> {
    let Some(Record::Header { command, started_unix, tty, image }) = records.first() else {
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
    let mut text = String::new();
    let header = json!({
        "version": 3,
        "term": {"cols": cols, "rows": rows},
        "timestamp": started_unix,
        "command": command.join(" "),
        "title": format!("{} {}", image, command.join(" ")).trim().to_string(),
    });
    text.push_str(&header.to_string());
    text.push('\n');
    let mut last = std::time::Duration::ZERO;
    let mut push = |at: std::time::Duration, code: &str, data: String| {
        let interval = at.saturating_sub(last).as_secs_f64();
        last = last.max(at);
        text.push_str(&json!([(interval * 1e6).round() / 1e6, code, data]).to_string());
        text.push('\n');
    };
    for r in records {
        let Record::Event(e) = r else { continue };
        match &e.kind {
            EventKind::Output { stream, data } => {
                let s = String::from_utf8_lossy(data);
                let s = match (*stream == Stream::Tty) || *tty {
                    true => s.into_owned(),
                    false => crlf(&s),
                };
                push(e.at, "o", s);
            }
            EventKind::TerminalResize { size } => push(e.at, "r", format!("{}x{}", size.cols, size.rows)),
            EventKind::ProcessEnd(p) => push(e.at, "x", p.exit_code.unwrap_or(-1).to_string()),
            _ => {}
        }
    }
    let mut f = std::fs::File::create(out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    f.write_all(text.as_bytes()).map_err(|e| format!("cannot write {}: {e}", out.display()))
}

/// `\n` not already after `\r` becomes `\r\n`.
fn crlf(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 16);
    let mut prev = '\0';
    for c in s.chars() {
        if c == '\n' && prev != '\r' {
            out.push('\r');
        }
        out.push(c);
        prev = c;
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn crlf() {
        assert_eq!(super::crlf("a\nb\r\nc\n"), "a\r\nb\r\nc\r\n");
    }
}
