//! Run a command as a local process and watch it with the same events as a
//! container run: `ProcessStart { process: Pid(..) }`, `Output`, `Heartbeat`,
//! `TerminalResize`, `ProcessEnd`, as the same [`Run`] stream. Switching
//! between a container and a local process is one constructor.
//!
//! For the result, as `std::process::Command::output` gives it:
//!
//! ```
//! use cstream_local::LocalProcess;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let out = LocalProcess::new("sh", ["-c", "echo hi; echo oops >&2; exit 3"]).run().output().await?;
//! assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"hi\n"[..], &b"oops\n"[..]));
//! assert_eq!(out.status.code(), Some(3));
//! assert!(!out.status.success());
//! # Ok(()) }
//! ```
//!
//! Or as it happens. An `Err` item is not the end of the stream: the run
//! goes on to report `ProcessEnd`, so keep reading (`event?` would drop the
//! run, and dropping it kills the process group at once, with no stop signal
//! and no `ProcessEnd`):
//!
//! ```
//! use cstream_local::LocalProcess;
//! use cstream_driver_hyper::EventKind;
//! use futures_util::StreamExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let mut run = LocalProcess::new("sh", ["-c", "echo hi; exit 3"]).env("CI", "true").run();
//! let (mut errors, mut code) = (Vec::new(), None);
//! while let Some(item) = run.next().await {
//!     match item {
//!         Ok(event) => match event.kind {
//!             EventKind::Output { data, .. } => print!("{}", String::from_utf8_lossy(&data)),
//!             EventKind::ProcessEnd(end) => code = end.exit_code,
//!             _ => {}
//!         },
//!         Err(e) => errors.push(e),
//!     }
//! }
//! assert!(errors.is_empty(), "{errors:?}");
//! assert_eq!(code, Some(3));
//! # }
//! ```
//!
//! The same run in a container differs by one constructor, the stop signal
//! included:
//!
//! ```no_run
//! # async fn demo(engine: cstream_driver_hyper::Engine) -> Result<(), Box<dyn std::error::Error>> {
//! use cstream_driver_hyper::{RunSpec, Signal};
//! let local = cstream_local::LocalProcess::new("make", ["test"]).stop_signal(Signal::INT).run();
//! let container = engine.run(RunSpec::builder("gcc:14").command(["make", "test"]).stop_signal(Signal::INT).build()?);
//! # Ok(()) }
//! ```
//!
//! # How it behaves
//!
//! - Pipes (the default): stdout and stderr apart. With [`LocalProcess::pty`]:
//!   a real pseudo-terminal of the given size, the process its session leader
//!   with the terminal as its controlling terminal; output arrives as `Tty`.
//! - The environment is extended (the default) or replaced, chosen explicitly.
//! - Output is passed on as it is read, newline or not (a progress bar's `\r`
//!   shows at once). [`LocalProcess::coalesce`] gathers it instead; its default
//!   holds nothing back (console-stream holds up to 1 s and 10 MiB, which makes
//!   interactive output late).
//! - The process runs in a process group of its own. Cancel and timeout send
//!   the stop signal (SIGTERM unless set) to the whole group, wait the grace
//!   period, then SIGKILL it; a second cancel kills at once. When the process
//!   exits, what is left of its group is killed, as a container's would be,
//!   so grandchildren holding the pipes open cannot hang the run. The process
//!   is reaped: no zombie is left.
//! - Stdin ([`LocalProcess::stdin`]) is written by a task of its own, each
//!   write acknowledged when done: a process that writes its output before
//!   it reads its stdin is read meanwhile, never deadlocked against.
//! - A command that does not exist ends with `ProcessEnd { reason:
//!   StartFailed, exit_code: Some(127) }` after the error, one that cannot be
//!   executed with 126, as container runs report them.

#![warn(missing_docs, unreachable_pub, clippy::print_stdout, clippy::print_stderr)]

mod run;
mod signal;
mod spawn;
mod stdin;
mod stop;

use std::path::PathBuf;
use std::time::Duration;

use cstream_driver_hyper::driver::pair;
use cstream_driver_hyper::{Coalesce, TtySize};
pub use cstream_driver_hyper::{Run, Signal};

/// Whether the parent's environment is passed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnvMode {
    /// The parent's environment plus the variables set here (the default).
    Extend,
    /// Only the variables set here.
    Replace,
}

/// A command to run on this host. Made with [`LocalProcess::new`], started
/// with [`LocalProcess::run`].
#[derive(Clone, Debug)]
pub struct LocalProcess {
    pub(crate) command: String,
    pub(crate) args: Vec<String>,
    pub(crate) env_mode: EnvMode,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) dir: Option<PathBuf>,
    pub(crate) pty: Option<TtySize>,
    pub(crate) stdin: bool,
    pub(crate) heartbeat: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) stop_signal: Signal,
    pub(crate) stop_grace: Duration,
    pub(crate) coalesce: Coalesce,
}

impl LocalProcess {
    /// `command` with `args`, found on `PATH` as a shell would.
    pub fn new<I, S>(command: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        LocalProcess {
            command: command.into(),
            args: args.into_iter().map(Into::into).collect(),
            env_mode: EnvMode::Extend,
            env: Vec::new(),
            dir: None,
            pty: None,
            stdin: false,
            heartbeat: Some(Duration::from_secs(5)),
            timeout: None,
            stop_signal: Signal::TERM,
            stop_grace: Duration::from_secs(10),
            coalesce: Coalesce::default(),
        }
    }

    /// Sets one environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Sets environment variables from pairs, such as a map.
    pub fn envs<I, K, V>(mut self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.env.extend(vars.into_iter().map(|(k, v)| (k.into(), v.into())));
        self
    }

    /// Whether the parent's environment is passed on (extend) or not (replace).
    pub fn env_mode(mut self, mode: EnvMode) -> Self {
        self.env_mode = mode;
        self
    }

    /// The working directory.
    pub fn working_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.dir = Some(dir.into());
        self
    }

    /// Runs the process in a pseudo-terminal of `cols` x `rows`.
    pub fn pty(mut self, cols: u16, rows: u16) -> Self {
        self.pty = Some(TtySize { cols, rows });
        self
    }

    /// Keeps stdin open for [`Run::write_stdin`]; else the process reads end of file.
    pub fn stdin(mut self, on: bool) -> Self {
        self.stdin = on;
        self
    }

    /// How often a `Heartbeat` comes while the process runs (default 5 s); `None` for none.
    pub fn heartbeat(mut self, every: Option<Duration>) -> Self {
        self.heartbeat = every;
        self
    }

    /// Stops the process after this long, reporting `TimedOut`.
    pub fn timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// The signal sent first on cancel or timeout (default SIGTERM): the
    /// same [`Signal`] a container run's `RunSpecBuilder::stop_signal` takes
    /// (parse one with `"SIGINT".parse()`). A real-time signal (`SIGRTMIN+n`)
    /// cannot be sent to a local process: the run then fails before the
    /// process starts, with `Error::Spawn`.
    pub fn stop_signal(mut self, signal: Signal) -> Self {
        self.stop_signal = signal;
        self
    }

    /// How long after the stop signal SIGKILL follows (default 10 s).
    pub fn stop_grace(mut self, grace: Duration) -> Self {
        self.stop_grace = grace;
        self
    }

    /// How output is gathered into events (default: passed on as read).
    pub fn coalesce(mut self, coalesce: Coalesce) -> Self {
        self.coalesce = coalesce;
        self
    }

    /// Starts the process; its events arrive on the returned stream, or
    /// collect them with [`Run::output`] / [`Run::wait`]. Dropping the stream
    /// kills the process group at once (SIGKILL, no grace period).
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime: the process is watched by a task of its own.
    /// Start runs from within the runtime (`#[tokio::main]`,
    /// `Runtime::block_on`, a task, or after `Runtime::enter`).
    pub fn run(self) -> Run {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { panic!("{NO_RUNTIME}") };
        let (run, driver) = pair();
        runtime.spawn(run::drive(self, driver));
        run
    }
}

/// What a run started outside a Tokio runtime panics with.
const NO_RUNTIME: &str = "cstream: starting a local run needs a Tokio runtime, for the task that watches the \
    process: start it from within the runtime (`#[tokio::main]`, `Runtime::block_on`, a task, or after `Runtime::enter`)";
