//! Showing events as they come: the process's output unchanged, or JSON
//! lines; lifecycle lines on stderr with --verbose; a pull progress bar when
//! stderr is a terminal.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use cstream_engine::{EndReason, Event, EventKind, Stream};

use crate::json;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Output to stdout and stderr, byte-exact.
    Text { verbose: bool },
    /// One JSON object per event on stdout.
    Json,
}

pub struct Shower {
    mode: Mode,
    /// The local terminal is in raw mode: lines end in \r\n.
    raw: bool,
    progress: bool,
    progress_shown: bool,
    stdout: std::io::Stdout,
    stderr: std::io::Stderr,
}

impl Shower {
    pub fn new(mode: Mode) -> Shower {
        let progress = matches!(mode, Mode::Text { .. }) && std::io::stderr().is_terminal();
        Shower {
            mode,
            raw: false,
            progress,
            progress_shown: false,
            stdout: std::io::stdout(),
            stderr: std::io::stderr(),
        }
    }

    /// Says whether the local terminal is in raw mode.
    pub fn set_raw(&mut self, raw: bool) {
        self.raw = raw;
    }

    fn eol(&self) -> &'static str {
        if self.raw { "\r\n" } else { "\n" }
    }

    /// Shows one event. A closed stdout (a pipe to `head`) is not an error worth dying for.
    pub fn event(&mut self, e: &Event) {
        let _ = self.try_event(e);
    }

    fn try_event(&mut self, e: &Event) -> std::io::Result<()> {
        match self.mode {
            Mode::Json => {
                let mut line = json::event(e).to_string();
                line.push('\n');
                let mut out = self.stdout.lock();
                out.write_all(line.as_bytes())?;
                out.flush()
            }
            Mode::Text { verbose } => {
                if let EventKind::Output { stream, data } = &e.kind {
                    self.clear_progress();
                    return match stream {
                        Stream::Stderr => {
                            let mut err = self.stderr.lock();
                            err.write_all(data)?;
                            err.flush()
                        }
                        _ => {
                            let mut out = self.stdout.lock();
                            out.write_all(data)?;
                            out.flush()
                        }
                    };
                }
                if let EventKind::ImagePullProgress(p) = &e.kind {
                    if self.progress {
                        self.show_progress(&p.image, p.aggregate_current, p.aggregate_total)?;
                    }
                    return Ok(());
                }
                if verbose {
                    self.clear_progress();
                    if let Some(line) = lifecycle(e) {
                        write!(self.stderr.lock(), "cstream: {line}{}", self.eol())?;
                    }
                } else if matches!(e.kind, EventKind::ImagePullComplete { .. }) {
                    self.clear_progress();
                }
                Ok(())
            }
        }
    }

    /// Shows an error: one line on stderr, and a JSON object in JSON mode.
    pub fn error(&mut self, at: Duration, message: &str) {
        self.clear_progress();
        if self.mode == Mode::Json {
            let _ = writeln!(self.stdout.lock(), "{}", json::error(at, message));
        }
        let _ = write!(self.stderr.lock(), "cstream: {message}{}", self.eol());
    }

    fn show_progress(&mut self, image: &str, done: u64, total: u64) -> std::io::Result<()> {
        const WIDTH: u64 = 30;
        let filled = (done.min(total) * WIDTH).checked_div(total).unwrap_or(0) as usize;
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(WIDTH as usize - filled));
        let mb = |b: u64| b as f64 / 1e6;
        let mut err = self.stderr.lock();
        write!(err, "\r\x1b[2KPulling {image} [{bar}] {:.1}/{:.1} MB", mb(done), mb(total))?;
        err.flush()?;
        self.progress_shown = true;
        Ok(())
    }

    fn clear_progress(&mut self) {
        if self.progress_shown {
            let _ = write!(self.stderr.lock(), "\r\x1b[2K");
            self.progress_shown = false;
        }
    }
}

/// The --verbose line for a lifecycle event.
fn lifecycle(e: &Event) -> Option<String> {
    let at = e.at.as_secs_f64();
    Some(match &e.kind {
        EventKind::ImagePullStart { image } => format!("[{at:.3}s] pulling {image}"),
        EventKind::ImagePullComplete { image, duration, .. } => {
            format!("[{at:.3}s] pulled {image} in {:.3}s", duration.as_secs_f64())
        }
        EventKind::ContainerCreate { id, image } => format!("[{at:.3}s] created container {} from {image}", short(id)),
        EventKind::ProcessStart { command, args, .. } => {
            format!(
                "[{at:.3}s] started {}",
                std::iter::once(command).chain(args).cloned().collect::<Vec<_>>().join(" ")
            )
        }
        EventKind::Heartbeat { elapsed } => format!("[{at:.3}s] still running after {:.0}s", elapsed.as_secs_f64()),
        EventKind::TerminalResize { size } => format!("[{at:.3}s] terminal {}x{}", size.cols, size.rows),
        EventKind::ProcessEnd(p) => {
            let how = match (p.reason, p.exit_code, p.signal) {
                (EndReason::StartFailed, _, _) => "could not start".to_string(),
                (_, Some(c), Some(s)) => format!("exited with code {c} (signal {s})"),
                (_, Some(c), None) => format!("exited with code {c}"),
                _ => "ended".to_string(),
            };
            let why = match p.reason {
                EndReason::Cancelled => ", cancelled",
                EndReason::TimedOut => ", timed out",
                _ => "",
            };
            let oom = if p.oom_killed { ", killed for lack of memory" } else { "" };
            format!("[{at:.3}s] process {how}{why}{oom} after {:.3}s", p.duration.as_secs_f64())
        }
        EventKind::ContainerRemove { id } => format!("[{at:.3}s] removed container {}", short(id)),
        _ => return None,
    })
}

fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
