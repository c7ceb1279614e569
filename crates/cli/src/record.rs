//! Recordings: the events of a run, each a postcard record framed with COBS
//! (a zero byte ends each frame), after a magic line. Written as the run goes,
//! so a recording cut short by a crash is still readable up to the cut.

use std::io::{BufWriter, Write};
use std::path::Path;

use cstream_engine::Event;
use serde::{Deserialize, Serialize};

/// The first bytes of every recording.
pub const MAGIC: &[u8] = b"cstream-recording v1\n";

/// One record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Record {
    /// What was run, first in every recording.
    Header {
        /// The image, or "local" for a local process.
        image: String,
        /// The command line.
        command: Vec<String>,
        /// When the run began, Unix seconds.
        started_unix: u64,
        /// Whether the process had a terminal.
        tty: bool,
    },
    /// An event.
    Event(Event),
    /// An error, as its message; `at` as the events have it.
    Error { at: std::time::Duration, message: String },
}

pub struct Recorder {
    out: BufWriter<std::fs::File>,
}

impl Recorder {
    pub fn create(path: &Path, header: Record) -> std::io::Result<Recorder> {
        let mut out = BufWriter::new(std::fs::File::create(path)?);
        out.write_all(MAGIC)?;
        let mut r = Recorder { out };
        r.write(&header)?;
        Ok(r)
    }

    pub fn write(&mut self, record: &Record) -> std::io::Result<()> {
        let frame = postcard::to_stdvec_cobs(record).map_err(std::io::Error::other)?;
        self.out.write_all(&frame)
    }

    pub fn finish(mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// Reads a recording. A last frame cut short is reported, not guessed at.
pub fn read(path: &Path) -> Result<Vec<Record>, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let body = bytes.strip_prefix(MAGIC).ok_or_else(|| format!("{} is not a cstream recording", path.display()))?;
    let mut records = Vec::new();
    let mut frames = body.split(|b| *b == 0).peekable();
    while let Some(frame) = frames.next() {
        if frames.peek().is_none() {
            if !frame.is_empty() {
                return Err(format!("{}: the recording ends inside a record (cut short?)", path.display()));
            }
            break;
        }
        let mut owned = frame.to_vec();
        owned.push(0);
        let record = postcard::from_bytes_cobs(&mut owned)
            .map_err(|e| format!("{}: record {} is damaged: {e}", path.display(), records.len() + 1))?;
        records.push(record);
    }
    match records.first() {
        Some(Record::Header { .. }) => Ok(records),
        _ => Err(format!("{}: the recording has no header", path.display())),
    }
}
