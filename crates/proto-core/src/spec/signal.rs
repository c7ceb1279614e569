//! Signals by name or number, as `kill`, the engines and `docker run
//! --stop-signal` take them.

use alloc::string::{String, ToString};
use core::fmt;
use core::str::FromStr;

/// A Linux signal, such as the one a run sends first when it is cancelled or
/// times out. The same type serves container runs
/// (`RunSpecBuilder::stop_signal`) and local ones (`LocalProcess::stop_signal`).
///
/// Parsed as the docker CLI reads `--stop-signal`: a name with or without
/// `SIG`, in any case (`SIGTERM`, `TERM`, `term`), `RTMIN+n` / `RTMAX-n`, or
/// a number from 1 to 64. Anything else is a [`SignalError`], never a panic.
/// Shown as the engines name it in a container's `StopSignal`: `SIGTERM`,
/// `SIGRTMIN+3`, or the number when the signal has no name.
///
/// ```
/// use cstream_proto_core::Signal;
///
/// let sig: Signal = "term".parse()?;
/// assert_eq!(sig, Signal::TERM);
/// assert_eq!(Signal::try_from("15")?, Signal::TERM);
/// assert_eq!(sig.to_string(), "SIGTERM");
/// assert_eq!(sig.number(), 15);
/// assert!("SIGNOPE".parse::<Signal>().is_err());
/// # Ok::<(), cstream_proto_core::SignalError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Signal(u8);

/// The highest signal number (Linux's `SIGRTMAX`).
const MAX: u8 = 64;
/// Linux's `SIGRTMIN` as the C library and the engines count it.
const RTMIN: u8 = 34;

/// Names and numbers; for a number with several names, the first is the one shown.
const NAMES: [(&str, u8); 34] = [
    ("HUP", 1),
    ("INT", 2),
    ("QUIT", 3),
    ("ILL", 4),
    ("TRAP", 5),
    ("ABRT", 6),
    ("IOT", 6),
    ("BUS", 7),
    ("FPE", 8),
    ("KILL", 9),
    ("USR1", 10),
    ("SEGV", 11),
    ("USR2", 12),
    ("PIPE", 13),
    ("ALRM", 14),
    ("TERM", 15),
    ("STKFLT", 16),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("STOP", 19),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("VTALRM", 26),
    ("PROF", 27),
    ("WINCH", 28),
    ("IO", 29),
    ("POLL", 29),
    ("PWR", 30),
    ("SYS", 31),
];

impl Signal {
    /// `SIGHUP` (1).
    pub const HUP: Signal = Signal(1);
    /// `SIGINT` (2).
    pub const INT: Signal = Signal(2);
    /// `SIGQUIT` (3).
    pub const QUIT: Signal = Signal(3);
    /// `SIGILL` (4).
    pub const ILL: Signal = Signal(4);
    /// `SIGTRAP` (5).
    pub const TRAP: Signal = Signal(5);
    /// `SIGABRT` (6).
    pub const ABRT: Signal = Signal(6);
    /// `SIGBUS` (7).
    pub const BUS: Signal = Signal(7);
    /// `SIGFPE` (8).
    pub const FPE: Signal = Signal(8);
    /// `SIGKILL` (9).
    pub const KILL: Signal = Signal(9);
    /// `SIGUSR1` (10).
    pub const USR1: Signal = Signal(10);
    /// `SIGSEGV` (11).
    pub const SEGV: Signal = Signal(11);
    /// `SIGUSR2` (12).
    pub const USR2: Signal = Signal(12);
    /// `SIGPIPE` (13).
    pub const PIPE: Signal = Signal(13);
    /// `SIGALRM` (14).
    pub const ALRM: Signal = Signal(14);
    /// `SIGTERM` (15), the default stop signal.
    pub const TERM: Signal = Signal(15);
    /// `SIGSTKFLT` (16).
    pub const STKFLT: Signal = Signal(16);
    /// `SIGCHLD` (17).
    pub const CHLD: Signal = Signal(17);
    /// `SIGCONT` (18).
    pub const CONT: Signal = Signal(18);
    /// `SIGSTOP` (19).
    pub const STOP: Signal = Signal(19);
    /// `SIGTSTP` (20).
    pub const TSTP: Signal = Signal(20);
    /// `SIGTTIN` (21).
    pub const TTIN: Signal = Signal(21);
    /// `SIGTTOU` (22).
    pub const TTOU: Signal = Signal(22);
    /// `SIGURG` (23).
    pub const URG: Signal = Signal(23);
    /// `SIGXCPU` (24).
    pub const XCPU: Signal = Signal(24);
    /// `SIGXFSZ` (25).
    pub const XFSZ: Signal = Signal(25);
    /// `SIGVTALRM` (26).
    pub const VTALRM: Signal = Signal(26);
    /// `SIGPROF` (27).
    pub const PROF: Signal = Signal(27);
    /// `SIGWINCH` (28).
    pub const WINCH: Signal = Signal(28);
    /// `SIGIO` (29), also `SIGPOLL`.
    pub const IO: Signal = Signal(29);
    /// `SIGPWR` (30).
    pub const PWR: Signal = Signal(30);
    /// `SIGSYS` (31).
    pub const SYS: Signal = Signal(31);
    /// `SIGRTMIN` (34), the first real-time signal.
    pub const RTMIN: Signal = Signal(RTMIN);
    /// `SIGRTMAX` (64), the last real-time signal.
    pub const RTMAX: Signal = Signal(MAX);

    /// The signal numbered `n` on Linux, from 1 to 64.
    pub fn from_number(n: i32) -> Result<Signal, SignalError> {
        match u8::try_from(n) {
            Ok(n) if (1..=MAX).contains(&n) => Ok(Signal(n)),
            _ => Err(SignalError { value: n.to_string() }),
        }
    }

    /// Its number on Linux.
    pub const fn number(self) -> u8 {
        self.0
    }

    /// `TERM` for `SIGTERM`: the standard name without `SIG`, when it has one
    /// (the real-time signals are shown as `RTMIN+n` instead).
    fn base_name(self) -> Option<&'static str> {
        NAMES.iter().find(|(_, n)| *n == self.0).map(|(name, _)| *name)
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        match self.base_name() {
            Some(name) => write!(f, "SIG{name}"),
            None if n == RTMIN => f.write_str("SIGRTMIN"),
            None if n == MAX => f.write_str("SIGRTMAX"),
            // As `kill -l` and the engines name them: the first half from
            // RTMIN up, the rest from RTMAX down.
            None if n > RTMIN && n <= RTMIN + 15 => write!(f, "SIGRTMIN+{}", n - RTMIN),
            None if n > RTMIN + 15 && n < MAX => write!(f, "SIGRTMAX-{}", MAX - n),
            None => write!(f, "{n}"),
        }
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signal({self})")
    }
}

impl FromStr for Signal {
    type Err = SignalError;

    fn from_str(s: &str) -> Result<Signal, SignalError> {
        let bad = || SignalError { value: s.to_string() };
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s.parse::<i32>().map_err(|_| bad()).and_then(Signal::from_number);
        }
        // At most "SIGRTMIN+15" and a little: longer is no signal, and never copied.
        let mut upper = [0u8; 16];
        let dst = upper.get_mut(..s.len()).ok_or_else(bad)?;
        dst.copy_from_slice(s.as_bytes());
        dst.make_ascii_uppercase();
        let upper = core::str::from_utf8(dst).map_err(|_| bad())?;
        let name = upper.strip_prefix("SIG").unwrap_or(upper);
        if let Some((_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
            return Ok(Signal(*n));
        }
        let offset = |digits: &str| {
            let plain = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
            digits.parse::<u8>().ok().filter(|&k| plain && k <= MAX - RTMIN)
        };
        let n = match name {
            "RTMIN" => Some(RTMIN),
            "RTMAX" => Some(MAX),
            _ => match (name.strip_prefix("RTMIN+"), name.strip_prefix("RTMAX-")) {
                (Some(k), _) => offset(k).map(|k| RTMIN + k),
                (_, Some(k)) => offset(k).map(|k| MAX - k),
                _ => None,
            },
        };
        n.map(Signal).ok_or_else(bad)
    }
}

impl TryFrom<&str> for Signal {
    type Error = SignalError;

    fn try_from(s: &str) -> Result<Signal, SignalError> {
        s.parse()
    }
}

impl TryFrom<String> for Signal {
    type Error = SignalError;

    fn try_from(s: String) -> Result<Signal, SignalError> {
        s.parse()
    }
}

impl TryFrom<&String> for Signal {
    type Error = SignalError;

    fn try_from(s: &String) -> Result<Signal, SignalError> {
        s.parse()
    }
}

/// A name or number that is not a signal.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown signal {value:?}: {WHY}")]
pub struct SignalError {
    value: String,
}

/// What a signal may be, for error messages.
const WHY: &str = "expected a name such as SIGTERM or TERM, or a number from 1 to 64";

impl SignalError {
    /// The value that was given.
    pub fn value(&self) -> &str {
        &self.value
    }
}

impl From<SignalError> for super::SpecError {
    fn from(e: SignalError) -> Self {
        super::SpecError::Invalid { field: "stop signal".into(), value: e.value, why: WHY.into() }
    }
}

impl From<core::convert::Infallible> for super::SpecError {
    fn from(never: core::convert::Infallible) -> Self {
        match never {}
    }
}
