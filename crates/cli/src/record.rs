//! Recordings: the events of a run, for `replay` and `export`.
//!
//! # Format
//!
//! A recording is the line `cstream-recording v<N>` (`N` the format version)
//! followed by records, each a postcard encoding framed with COBS: a zero
//! byte ends each frame. The first record is the [`Record::Header`].
//!
//! The recorder writes each record as it comes, in one write of its own and
//! with no buffer in between: once an event has been shown, it is in the
//! file, and a cstream that is killed (or crashes) leaves a recording of
//! everything up to that point. The first write that fails (a full disk)
//! ends the recording: the run goes on, the failure is reported once, and
//! the run's exit code is 125, since the recording asked for is lost.
//!
//! # Versions
//!
//! Postcard is not self-describing: bytes are read by the shape of the type
//! they are read into, so a field added to any type a [`Record`] holds (the
//! engine's events included) would shift every later byte of an older file.
//! So the version names the exact shapes:
//!
//! - v1: the first format; its types, frozen, are in [`v1`].
//! - v2: the header also names the cstream version that wrote it.
//! - v3: a process can be a swarm job's task (`ProcessId::Task`). The only
//!   change is that variant, added at the end, so today's types read v2's
//!   bytes as they are: v2 needs no frozen copy.
//! - v4: a process can be a step run in a living container
//!   (`ProcessId::Exec`), and a record names the run's id (`Record::Run`),
//!   for `cstream resume --record`: variants added at the end again, so v2
//!   and v3 read as they are.
//!
//! This cstream writes [`VERSION`] with today's types, reads every older
//! version through its frozen types and converts the records to today's, and
//! refuses a newer version (a clear error: the file was made by a newer
//! cstream), never misreading it.
//!
//! # Adding a version
//!
//! A change to the shapes of today's types makes a test fail: a field added,
//! removed or retyped anywhere in a [`Record`] (the engine's events included)
//! or a variant inserted, `the_current_format_is_pinned`; a variant added at
//! the end of an enum (older cstreams could not read it),
//! `no_variant_was_added_without_a_version`. Then:
//!
//! 1. Copy the shapes as they were before the change into `record/vN.rs`
//!    (`N` = [`VERSION`]), as [`v1`] does: types of its own that never change
//!    again, and a `From` conversion to today's [`Record`].
//! 2. Read `N` through them in [`read`], and make [`VERSION`] `N + 1`.
//! 3. Add the version to the list above.
//! 4. Keep `tests/data/vN-all-kinds.rec`, and read it through `vN.rs` in a
//!    test like `v1_recordings_still_read`. The pinning test writes the new
//!    version's sample to the temporary directory: check it, and copy it to
//!    `tests/data/` as `v{N+1}-all-kinds.rec`.

mod v1;

use std::io::Write;
use std::path::{Path, PathBuf};

use cstream_engine::Event;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The version this cstream writes.
pub const VERSION: u32 = 4;

/// The start of the first line of every recording, before the version.
const MAGIC: &[u8] = b"cstream-recording v";

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
        /// The version of cstream that wrote the recording; `None` in v1.
        cstream: Option<String>,
    },
    /// An event.
    Event(Event),
    /// An error, as its message; `at` as the events have it.
    Error { at: std::time::Duration, message: String },
    /// The run's id (its container's `io.cstream.run` label), after the
    /// header of a container or swarm run: what `cstream resume` looks for.
    Run { run_id: String },
}

/// Writes a recording as the run goes; see the module docs.
pub struct Recorder {
    path: PathBuf,
    /// `None` once a write has failed.
    file: Option<std::fs::File>,
}

impl Recorder {
    /// Creates the file and writes the first line and the header. The error
    /// is the line to show.
    pub fn create(path: &Path, header: &Record) -> Result<Recorder, String> {
        let failed = |e: std::io::Error| format!("the recording {} failed: {e}", path.display());
        let mut file = std::fs::File::create(path).map_err(failed)?;
        let mut start = format!("cstream-recording v{VERSION}\n").into_bytes();
        start.extend(postcard::to_stdvec_cobs(header).map_err(|e| failed(std::io::Error::other(e)))?);
        file.write_all(&start).map_err(failed)?;
        Ok(Recorder { path: path.to_owned(), file: Some(file) })
    }

    /// Opens a recording read as `read` gives it, to go on with it: a last
    /// record cut short is cut off first (at `whole` bytes), so that what
    /// follows starts a frame of its own.
    pub fn append(path: &Path, whole: u64) -> Result<Recorder, String> {
        let failed = |e: std::io::Error| format!("the recording {} failed: {e}", path.display());
        let file = std::fs::OpenOptions::new().append(true).open(path).map_err(failed)?;
        file.set_len(whole).map_err(failed)?;
        Ok(Recorder { path: path.to_owned(), file: Some(file) })
    }

    /// Writes one record to the file. The first time a write fails, returns
    /// the line to show, and writes nothing more.
    pub fn write(&mut self, record: &Record) -> Option<String> {
        let file = self.file.as_mut()?;
        let written = postcard::to_stdvec_cobs(record).map_err(std::io::Error::other).and_then(|f| file.write_all(&f));
        let e = written.err()?;
        self.file = None;
        Some(format!("the recording {} failed: {e}", self.path.display()))
    }

    /// A write failed: the recording is incomplete.
    pub fn failed(&self) -> bool {
        self.file.is_none()
    }
}

/// A recording as read.
#[derive(Debug)]
pub struct Recording {
    /// Its records, the header first.
    pub records: Vec<Record>,
    /// Why the records end before the file does: it ends inside a record.
    pub cut: Option<String>,
    /// How many bytes of the file the first line and the whole records take.
    pub whole: u64,
}

/// Reads a recording, of any version up to [`VERSION`]. A last record cut
/// short is reported in [`Recording::cut`], after every whole record before it.
pub fn read(path: &Path) -> Result<Recording, String> {
    let name = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {name}: {e}"))?;
    let Some((version, body)) = version(&bytes) else {
        return Err(format!("{name} is not a cstream recording"));
    };
    let start = (bytes.len() - body.len()) as u64;
    let (records, cut, used) = match version {
        1 => frames::<v1::Record>(body),
        // v2 and v3 differ from today only by variants added at the end.
        2 | 3 | VERSION => frames::<Record>(body),
        0 => return Err(format!("{name} is not a cstream recording")),
        n => {
            return Err(format!(
                "{name} was made by a newer cstream (recording format v{n}; this one reads v1 to v{VERSION})"
            ));
        }
    }
    .map_err(|(n, e)| format!("{name}: record {n} is damaged: {e}"))?;
    if !matches!(records.first(), Some(Record::Header { .. })) {
        return Err(format!("{name}: the recording has no header"));
    }
    let cut = cut.then(|| format!("{name}: the recording ends inside a record (cut short?)"));
    Ok(Recording { records, cut, whole: start + used as u64 })
}

/// The version on the first line, and the records after it.
fn version(bytes: &[u8]) -> Option<(u32, &[u8])> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let end = rest.iter().position(|b| *b == b'\n')?;
    let digits = &rest[..end];
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((std::str::from_utf8(digits).ok()?.parse().ok()?, &rest[end + 1..]))
}

/// The records of `body`, each read as an `R`, whether the last is cut
/// short, and how many bytes the whole ones take; or the number of the
/// first damaged record and why.
type Frames = (Vec<Record>, bool, usize);
fn frames<R: DeserializeOwned + Into<Record>>(body: &[u8]) -> Result<Frames, (usize, String)> {
    let (mut records, mut used) = (Vec::new(), 0);
    let mut frames = body.split(|b| *b == 0).peekable();
    while let Some(frame) = frames.next() {
        if frames.peek().is_none() {
            return Ok((records, !frame.is_empty(), used));
        }
        used += frame.len() + 1;
        let mut owned = frame.to_vec();
        owned.push(0);
        let record: R = postcard::from_bytes_cobs(&mut owned).map_err(|e| (records.len() + 1, e.to_string()))?;
        records.push(record.into());
    }
    Ok((records, false, used))
}

/// What a recording says of its run: its id, whether the process's end is
/// in it, and how much output it holds (each stream counted apart), which
/// a resume skips.
pub fn run_in(records: &[Record]) -> (Option<String>, bool, cstream_engine::Seen) {
    let (mut id, mut ended, mut seen) = (None, false, cstream_engine::Seen::default());
    for r in records {
        match r {
            Record::Run { run_id } => id = Some(run_id.clone()),
            Record::Event(e) => match &e.kind {
                cstream_engine::EventKind::Output { stream, data } => seen.count(*stream, data.len() as u64),
                cstream_engine::EventKind::ProcessEnd(_) => ended = true,
                _ => {}
            },
            Record::Header { .. } | Record::Error { .. } => {}
        }
    }
    (id, ended, seen)
}

#[cfg(test)]
mod tests;
