//! Showing events as they come: the process's output unchanged, or JSON
//! lines; lifecycle lines on stderr with --verbose; the pull progress when
//! stderr is a terminal (never otherwise), drawn in place until anything
//! else is written, which then goes under it.

mod progress;

use std::io::{IsTerminal, Write};
use std::time::Duration;

use cstream_engine::{EndReason, Event, EventKind, Stream};

use crate::json;
use progress::Pull;

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
    /// Stderr is a terminal: the pull progress is drawn.
    progress: bool,
    /// The pull being drawn.
    pull: Option<Pull>,
    /// How many lines of it are drawn just above the cursor; 0 once
    /// anything else was written.
    drawn: usize,
    stdout: std::io::Stdout,
    stderr: std::io::Stderr,
    /// The run's id, said with the container's creation.
    run_id: Option<String>,
}

impl Shower {
    pub fn new(mode: Mode) -> Shower {
        let progress = matches!(mode, Mode::Text { .. }) && std::io::stderr().is_terminal();
        Shower {
            mode,
            raw: false,
            progress,
            pull: None,
            drawn: 0,
            stdout: std::io::stdout(),
            stderr: std::io::stderr(),
            run_id: None,
        }
    }

    /// The run's id: `--json` adds it to `container_create`, `--verbose` to
    /// its line, so that a run can be found (and resumed) by it.
    pub fn set_run_id(&mut self, run_id: &str) {
        self.run_id = Some(run_id.to_string());
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
                let mut v = json::event(e);
                if let (EventKind::ContainerCreate { .. }, Some(id)) = (&e.kind, &self.run_id) {
                    v["run_id"] = serde_json::json!(id);
                }
                let mut line = v.to_string();
                line.push('\n');
                let mut out = self.stdout.lock();
                out.write_all(line.as_bytes())?;
                out.flush()
            }
            Mode::Text { verbose } => {
                if let EventKind::Output { stream, data } = &e.kind {
                    self.end_progress();
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
                        self.pull.get_or_insert_with(|| Pull::new(&p.image)).update(p);
                        self.draw_progress()?;
                    }
                    return Ok(());
                }
                if let EventKind::ImagePullComplete { duration, .. } = &e.kind {
                    if let Some(pull) = self.pull.as_mut() {
                        pull.complete(*duration);
                        self.draw_progress()?;
                        self.pull = None;
                    }
                }
                if verbose {
                    if let Some(mut line) = lifecycle(e) {
                        if let (EventKind::ContainerCreate { .. }, Some(id)) = (&e.kind, &self.run_id) {
                            line.push_str(&format!(" (run {id})"));
                        }
                        self.end_progress();
                        write!(self.stderr.lock(), "cstream: {line}{}", self.eol())?;
                    }
                }
                Ok(())
            }
        }
    }

    /// Shows an error: one line on stderr, and a JSON object in JSON mode.
    pub fn error(&mut self, at: Duration, message: &str) {
        self.end_progress();
        if self.mode == Mode::Json {
            let _ = writeln!(self.stdout.lock(), "{}", json::error(at, message));
        }
        let _ = write!(self.stderr.lock(), "cstream: {message}{}", self.eol());
    }

    /// Draws the pull over its lines drawn before, at the terminal's width.
    fn draw_progress(&mut self) -> std::io::Result<()> {
        let Some(pull) = &self.pull else { return Ok(()) };
        let (cols, rows) = crate::terminal::stderr_size().unwrap_or((80, 24));
        let lines = pull.lines(cols, rows);
        let mut err = self.stderr.lock();
        err.write_all(progress::redraw(self.drawn, &lines).as_bytes())?;
        err.flush()?;
        self.drawn = lines.len();
        Ok(())
    }

    /// Something else is written: it goes under the progress drawn so far,
    /// which stays as it is; the next progress is drawn under it.
    fn end_progress(&mut self) {
        self.drawn = 0;
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
