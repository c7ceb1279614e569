//! Where a job is, with the data that matters only there, and the one table
//! of moves between states.

use alloc::string::String;
use core::fmt;
use core::time::Duration;

use crate::error::Error;
use crate::event::EndReason;

/// Where the job is.
#[derive(Debug)]
pub(super) enum State {
    /// `GET /_ping` is out.
    Ping,
    /// `POST /services/create` is out.
    Create {
        /// A stop asked for while the answer is awaited: the service may exist.
        stop: Option<EndReason>,
    },
    /// The service exists; its task is polled until it starts (or ends).
    Placing,
    /// The task runs: its logs are followed, it and its node are polled.
    Running(Job),
    /// The task has ended: the final read of the logs is out.
    Draining { job: Job, end: TaskEnd },
    /// A cancel or the timeout: the service's `DELETE` is out (the cluster
    /// stops the task), and the task is polled until it has ended or is gone.
    Stopping(Stopping),
    /// `DELETE /services/{id}` is out, or waits to be tried again.
    Remove(Retry),
    /// The create's outcome is unknown: the run's services are listed and removed.
    Sweep(Retry),
    /// The run is over: nothing more is output, every input is ignored.
    Done,
}

/// A state's name, for the table of moves and for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Ping,
    Create,
    Placing,
    Running,
    Draining,
    Stopping,
    Remove,
    Sweep,
    Done,
}

/// Every move the job may make; anything else is a bug in the machine,
/// reported as [`Error::Unexpected`].
const MOVES: &[(Step, &[Step])] = {
    use Step::*;
    &[
        (Ping, &[Create, Done]),
        (Create, &[Placing, Remove, Sweep, Done]),
        (Placing, &[Running, Stopping, Remove, Done]),
        (Running, &[Draining, Stopping, Remove, Done]),
        (Draining, &[Remove, Done]),
        (Stopping, &[Done]),
        (Remove, &[Done]),
        (Sweep, &[Done]),
        (Done, &[]),
    ]
};

/// Whether the job may move `from` → `to`.
pub(super) fn check(from: Step, to: Step) -> Result<(), Error> {
    crate::lifecycle::check_move(MOVES, "the swarm job", from, to)
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Ping => "ping",
            Step::Create => "create",
            Step::Placing => "placing",
            Step::Running => "running",
            Step::Draining => "draining",
            Step::Stopping => "stopping",
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
            State::Create { .. } => Step::Create,
            State::Placing => Step::Placing,
            State::Running(_) => Step::Running,
            State::Draining { .. } => Step::Draining,
            State::Stopping(_) => Step::Stopping,
            State::Remove(_) => Step::Remove,
            State::Sweep(_) => Step::Sweep,
            State::Done => Step::Done,
        }
    }

    /// The job is cleaning up: failures are reported, nothing more is cleaned.
    pub(super) fn cleaning(&self) -> bool {
        matches!(self, State::Stopping(_) | State::Remove(_) | State::Sweep(_) | State::Done)
    }
}

/// The task being followed, and since when.
#[derive(Clone, Debug)]
pub(super) struct Job {
    pub task: String,
    pub node: String,
    pub container: String,
    pub started_at: Duration,
    /// When the node is next checked.
    pub node_at: Option<Duration>,
    pub heartbeat_at: Option<Duration>,
}

/// How a task ended, as its last status said.
#[derive(Clone, Debug)]
pub(super) struct TaskEnd {
    pub state: String,
    pub message: String,
    pub exit_code: Option<i64>,
}

/// A stop under way.
#[derive(Debug)]
pub(super) struct Stopping {
    pub reason: EndReason,
    /// The task that was running, if one was.
    pub job: Option<Job>,
    /// The service's `DELETE`: its tries, and its outcome once known
    /// (`Some(true)`: removed, or gone already).
    pub remove: Retry,
    pub removed: Option<bool>,
    /// The task has ended (with this exit code, if it said) or is gone.
    pub over: Option<Option<i64>>,
    /// Past it, the task's end is not waited for any longer.
    pub give_up_at: Duration,
}

/// The tries of a `DELETE` that failed in transport: the container
/// machine's, retried the same way.
pub(super) use crate::machine::Retry;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_row_and_done_is_final() {
        use Step::*;
        for s in [Ping, Create, Placing, Running, Draining, Stopping, Remove, Sweep, Done] {
            assert_eq!(MOVES.iter().filter(|(f, _)| *f == s).count(), 1, "{s}");
            assert!(check(s, Done).is_ok() || s == Done, "{s} can always end");
        }
        assert!(MOVES.iter().all(|(_, to)| !to.contains(&Ping)), "nothing goes back to the ping");
        assert!(check(Running, Placing).is_err());
    }
}
