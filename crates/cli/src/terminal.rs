//! The local terminal for `run -t`: its size, raw mode while stdin is
//! passed through, and restoring it on every way out.

use std::io::IsTerminal;

use rustix::termios::{self, OptionalActions, Termios};

/// The size of the terminal on stdout (else stdin), as (cols, rows).
pub fn size() -> Option<(u16, u16)> {
    if std::io::stdout().is_terminal() {
        size_of(rustix::stdio::stdout())
    } else if std::io::stdin().is_terminal() {
        size_of(rustix::stdio::stdin())
    } else {
        None
    }
}

/// The size of the terminal on stderr, as (cols, rows): where the pull
/// progress is drawn.
pub fn stderr_size() -> Option<(u16, u16)> {
    size_of(rustix::stdio::stderr())
}

fn size_of(fd: rustix::fd::BorrowedFd<'_>) -> Option<(u16, u16)> {
    let w = termios::tcgetwinsize(fd).ok()?;
    (w.ws_col > 0 && w.ws_row > 0).then_some((w.ws_col, w.ws_row))
}

/// Raw mode on stdin until dropped: keys go to the process as typed (Ctrl-C
/// included, as with `docker run -it`), and the terminal is given back as it
/// was when this is dropped, also on a panic's unwinding.
pub struct RawMode {
    saved: Termios,
}

impl RawMode {
    /// Puts stdin's terminal in raw mode, when stdin is a terminal.
    pub fn enter() -> Option<RawMode> {
        if !std::io::stdin().is_terminal() {
            return None;
        }
        let fd = rustix::stdio::stdin();
        let saved = termios::tcgetattr(fd).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        termios::tcsetattr(fd, OptionalActions::Now, &raw).ok()?;
        Some(RawMode { saved })
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &self.saved);
    }
}
