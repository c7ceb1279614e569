//! Where a run is, with the data that matters only there, and the one table
//! of moves between states.

use core::fmt;
use core::time::Duration;

use super::pull::PullTracker;
use crate::api::answers::Exited;
use crate::error::Error;
use crate::event::{EndReason, TtySize};

/// Where the run is. Each state holds what only it needs; what lives across
/// states (the spec, the open requests, the decoders, the output queue) is
/// on the machine.
#[derive(Debug)]
pub(super) enum State {
    /// `GET /_ping` is out: the engine's kind and API version are not known yet.
    Ping,
    /// `GET /info` is out: the spec's CPU limit is checked against the host's CPUs.
    Info,
    /// `POST /images/create` is out (before the first create, or after its 404).
    Pull { tracker: PullTracker },
    /// `POST /containers/create` is out.
    Create {
        /// Whether the image was pulled already: a second 404 does not pull again.
        pulled: bool,
        /// A stop asked for while the answer is awaited: the container may exist.
        stop: Option<EndReason>,
        /// The terminal size the create carried, if any: a resize asked for
        /// since then is applied at start.
        sized: Option<TtySize>,
    },
    /// Attach and wait are out; start waits for both to be registered.
    Prepare {
        /// The attach was upgraded (stdin may flow).
        attach: bool,
        /// The wait answered its head: the exit will not be missed.
        wait: bool,
        presize: Presize,
        ends: Ends,
    },
    /// `POST /containers/{id}/start` is out.
    Start {
        /// The terminal size set before start, if any.
        presized: Option<TtySize>,
        /// A stop asked for while the answer is awaited: the process may run.
        stop: Option<EndReason>,
        ends: Ends,
    },
    /// The process runs; then its output drains and the exit is read.
    Running(Process),
    /// The exit is known and the output drained; `GET /containers/{id}/json` is out.
    Inspect(Process),
    /// `DELETE /containers/{id}` is out, or waits to be tried again.
    Remove(Retry),
    /// The create's outcome is unknown: the run's containers are listed and removed.
    Sweep(Retry),
    /// The run is over: nothing more is output, every input is ignored.
    Done,
}

/// A state's name, for the transition table and for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Ping,
    Info,
    Pull,
    Create,
    Prepare,
    Start,
    Running,
    Inspect,
    Remove,
    Sweep,
    Done,
}

/// Every move the machine may make; anything else is a bug in the machine,
/// reported as [`Error::Unexpected`]. Retries of a remove or sweep stay in
/// their state and are not moves.
const MOVES: &[(Step, &[Step])] = {
    use Step::*;
    &[
        (Ping, &[Info, Pull, Create, Done]),
        (Info, &[Pull, Create, Done]),
        (Pull, &[Create, Done]),
        (Create, &[Pull, Prepare, Remove, Sweep, Done]),
        (Prepare, &[Start, Remove, Done]),
        (Start, &[Running, Remove, Done]),
        (Running, &[Inspect, Remove, Done]),
        (Inspect, &[Running, Remove, Done]),
        (Remove, &[Done]),
        (Sweep, &[Done]),
        (Done, &[]),
    ]
};

/// Whether the machine may move `from` → `to`; the error says which move it
/// tried when not.
pub(super) fn check(from: Step, to: Step) -> Result<(), Error> {
    crate::lifecycle::check_move(MOVES, "the run", from, to)
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Ping => "ping",
            Step::Info => "info",
            Step::Pull => "pull",
            Step::Create => "create",
            Step::Prepare => "prepare",
            Step::Start => "start",
            Step::Running => "running",
            Step::Inspect => "inspect",
            Step::Remove => "remove",
            Step::Sweep => "sweep",
            Step::Done => "done",
        })
    }
}

impl State {
    pub(super) fn step(&self) -> Step {
        match self {
            State::Ping => Step::Ping,
            State::Info => Step::Info,
            State::Pull { .. } => Step::Pull,
            State::Create { .. } => Step::Create,
            State::Prepare { .. } => Step::Prepare,
            State::Start { .. } => Step::Start,
            State::Running(_) => Step::Running,
            State::Inspect(_) => Step::Inspect,
            State::Remove(_) => Step::Remove,
            State::Sweep(_) => Step::Sweep,
            State::Done => Step::Done,
        }
    }

    /// The process can no longer be reached: it ended, or the run is
    /// cleaning up (stdin and resizes are refused).
    pub(super) fn process_over(&self) -> bool {
        matches!(self, State::Inspect(_) | State::Remove(_) | State::Sweep(_) | State::Done)
    }

    /// What the wait and the attach have said, in the states where they are open.
    pub(super) fn ends_mut(&mut self) -> Option<&mut Ends> {
        match self {
            State::Prepare { ends, .. } | State::Start { ends, .. } => Some(ends),
            State::Running(p) | State::Inspect(p) => Some(&mut p.ends),
            _ => None,
        }
    }

    /// The wait has answered with the exit.
    pub(super) fn exited(&self) -> bool {
        match self {
            State::Prepare { ends, .. } | State::Start { ends, .. } => ends.exit.is_some(),
            State::Running(p) | State::Inspect(p) => p.ends.exit.is_some(),
            _ => false,
        }
    }

    /// The attach is upgraded: its bytes are the process's output, and stdin may flow.
    pub(super) fn attach_ready(&self) -> bool {
        match self {
            State::Prepare { attach, .. } => *attach,
            State::Start { .. } | State::Running(_) | State::Inspect(_) => true,
            _ => false,
        }
    }

    /// The wait is registered: its answer is the exit.
    pub(super) fn wait_ready(&self) -> bool {
        match self {
            State::Prepare { wait, .. } => *wait,
            State::Start { .. } | State::Running(_) | State::Inspect(_) => true,
            _ => false,
        }
    }

    /// A remove or sweep is under way: failures are reported, nothing more is cleaned.
    pub(super) fn cleaning(&self) -> bool {
        matches!(self, State::Remove(_) | State::Sweep(_) | State::Done)
    }
}

/// Whether the terminal size was set before start, and which.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Presize {
    NotTried,
    /// A resize of the created container is under way (Podman).
    Pending(TtySize),
    /// Set before start: by that resize, or at create (`ConsoleSize`, Docker from API 1.42).
    Applied(TtySize),
    Failed,
}

impl Presize {
    pub(super) fn applied(self) -> Option<TtySize> {
        match self {
            Presize::Applied(s) => Some(s),
            _ => None,
        }
    }
}

/// The wait's answer, and when it came.
#[derive(Clone, Debug)]
pub(super) struct Exit {
    pub wait: Exited,
    pub at: Duration,
}

/// What the wait and the attach, opened before start, have said of the
/// process's end. Each comes on a connection of its own, so either may come
/// before the start's answer.
#[derive(Clone, Debug, Default)]
pub(super) struct Ends {
    /// `None` until the wait answers; cleared again when inspect finds the
    /// container still running and the wait is asked again.
    pub exit: Option<Exit>,
    /// The attach's stream has ended (or was given up on): all output is in.
    pub output_ended: bool,
}

/// A started process: from start to its exit being judged.
#[derive(Clone, Debug)]
pub(super) struct Process {
    pub started_at: Duration,
    pub heartbeat_at: Option<Duration>,
    pub ends: Ends,
    /// The exit is known and the output is still draining until then.
    pub drain_until: Option<Duration>,
    pub stop: Option<Stopping>,
    /// How many times a wait that answered while the container still ran was asked again.
    pub rewaits: u32,
}

/// A stop (cancel or timeout) acted on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stopping {
    pub reason: EndReason,
    pub step: StopStep,
}

/// How far a stop has gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StopStep {
    /// The stop signal was sent; SIGKILL follows at the deadline.
    Signalled { kill_at: Duration },
    /// SIGKILL was sent; if the exit is not reported by `give_up_at`, the
    /// engine is not doing its part and the container is removed by force.
    Killed { give_up_at: Duration },
}

/// The tries of a remove (or sweep) that failed in transport; every
/// machine's cleanup retries the same way.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Retry {
    pub attempts: u32,
    /// Past it, the cleanup is given up on.
    pub deadline: Duration,
    /// When to try again, after a failure.
    pub at: Option<Duration>,
}

/// The longest wait between two tries of a remove that failed in transport.
const MAX_REMOVE_BACKOFF: Duration = Duration::from_secs(5);

impl Retry {
    pub(crate) fn first(now: Duration, cleanup_timeout: Duration) -> Self {
        Retry { attempts: 1, deadline: now + cleanup_timeout, at: None }
    }

    /// 0.5 s after the first failed try, doubling up to 5 s.
    fn backoff(&self) -> Duration {
        let shift = self.attempts.saturating_sub(1).min(4);
        (Duration::from_millis(500) * (1 << shift)).min(MAX_REMOVE_BACKOFF)
    }

    /// Schedules another try after a failure at `now`; `false` when past the deadline.
    pub(crate) fn again(&mut self, now: Duration) -> bool {
        let at = now + self.backoff();
        self.at = (at <= self.deadline).then_some(at);
        self.at.is_some()
    }

    /// Another try is made now.
    pub(crate) fn retried(&mut self) {
        self.attempts += 1;
        self.at = None;
    }
}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    #[test]
    fn every_state_has_a_row_and_done_is_final() {
        use Step::*;
        for s in [Ping, Info, Pull, Create, Prepare, Start, Running, Inspect, Remove, Sweep, Done] {
            assert_eq!(MOVES.iter().filter(|(f, _)| *f == s).count(), 1, "{s}");
            assert!(check(s, Done).is_ok() || s == Done, "{s} can always end");
        }
        assert!(MOVES.iter().all(|(_, to)| !to.contains(&Ping)), "nothing goes back to the ping");
    }

    #[test]
    fn an_illegal_move_is_a_typed_error() {
        let e = check(Step::Remove, Step::Running);
        assert!(matches!(e, Err(Error::Unexpected { .. })));
        let text = e.map_err(|e| e.to_string());
        assert_eq!(text, Err("unexpected: the run cannot move from remove to running".to_string()));
        assert!(check(Step::Done, Step::Done).is_err());
        assert!(check(Step::Inspect, Step::Running).is_ok(), "a wait that answered early is asked again");
    }
}
