//! Where a step is, with the data that matters only there, and the one
//! table of moves between states.

use core::fmt;
use core::time::Duration;

use crate::error::Error;
use crate::event::{EndReason, TtySize};

#[derive(Debug)]
pub(super) enum State {
    /// `GET /_ping` is out.
    Ping,
    /// `POST /containers/{id}/exec` is out.
    Create {
        /// A stop asked for meanwhile: the step will not be started.
        stop: Option<EndReason>,
        /// The terminal size the create carried (API 1.42 on), if any.
        sized: Option<TtySize>,
    },
    /// `POST /exec/{id}/start` (an upgrade) is out.
    Start {
        /// A stop asked for meanwhile: the step is signalled once it runs.
        stop: Option<EndReason>,
        /// As in `Create`: a size asked for since is set once the step runs.
        sized: Option<TtySize>,
    },
    /// The step runs: its output is read to the end of the stream.
    Running(Step),
    /// The output ended: `GET /exec/{id}/json` is out, or waits to be asked
    /// again while the engine still says the step runs.
    Inspect {
        step: Step,
        /// When to ask again.
        again_at: Option<Duration>,
        /// When to stop asking.
        give_up_at: Duration,
    },
    /// Nothing more is output; every input is ignored.
    Done,
}

/// A running step's data.
#[derive(Clone, Debug)]
pub(super) struct Step {
    pub started_at: Duration,
    pub heartbeat_at: Option<Duration>,
    pub stop: Option<Stopping>,
}

/// A stop under way: why, and what comes next.
#[derive(Clone, Copy, Debug)]
pub(super) struct Stopping {
    pub reason: EndReason,
    pub next: Next,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum Next {
    /// The stop signal went out: SIGKILL at `kill_at`.
    Kill { kill_at: Duration },
    /// SIGKILL went out: past `give_up_at` the step is given up.
    GiveUp { give_up_at: Duration },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Name {
    Ping,
    Create,
    Start,
    Running,
    Inspect,
    Done,
}

const MOVES: &[(Name, &[Name])] = {
    use Name::*;
    &[
        (Ping, &[Create, Done]),
        (Create, &[Start, Done]),
        (Start, &[Running, Done]),
        (Running, &[Inspect, Done]),
        (Inspect, &[Done]),
        (Done, &[]),
    ]
};

impl State {
    pub(super) fn name(&self) -> Name {
        match self {
            State::Ping => Name::Ping,
            State::Create { .. } => Name::Create,
            State::Start { .. } => Name::Start,
            State::Running(_) => Name::Running,
            State::Inspect { .. } => Name::Inspect,
            State::Done => Name::Done,
        }
    }
}

/// Whether the step may move `from` → `to`.
pub(super) fn check(from: Name, to: Name) -> Result<(), Error> {
    crate::lifecycle::check_move(MOVES, "the step", from, to)
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Name::Ping => "ping",
            Name::Create => "create",
            Name::Start => "start",
            Name::Running => "running",
            Name::Inspect => "inspect",
            Name::Done => "done",
        })
    }
}
