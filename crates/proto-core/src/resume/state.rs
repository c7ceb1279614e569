//! Where a resume is, and the one table of moves between its states.

use core::fmt;
use core::time::Duration;

use crate::error::Error;
use crate::event::EndReason;

/// Where the resume is.
#[derive(Debug)]
pub(super) enum State {
    /// `GET /_ping` is out.
    Ping,
    /// `GET /containers/json?all=1&filters={"label":["io.cstream.run=<id>"]}` is out.
    Find,
    /// `GET /containers/{id}/json` is out: terminal, state, log driver, labels.
    Inspect,
    /// `GET /containers/{id}/logs?follow=1` is out: output, until the container stops.
    Following,
    /// `POST /containers/{id}/wait?condition=not-running` is out.
    Waiting,
    /// `GET /containers/{id}/json` is out again, for the exit code and OOM flag.
    Exit {
        /// The wait's exit code, when it gave one.
        waited: Option<i64>,
    },
    /// `DELETE /containers/{id}?force=1&v=1` is out, or waits to be tried again.
    Remove(Retry),
    /// The resume is over: nothing more is output, every input is ignored.
    Done,
}

/// A state's name, for the table of moves and for messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    Ping,
    Find,
    Inspect,
    Following,
    Waiting,
    Exit,
    Remove,
    Done,
}

/// Every move a resume may make; anything else is a bug in the machine,
/// reported as [`Error::Unexpected`].
const MOVES: &[(Step, &[Step])] = {
    use Step::*;
    &[
        (Ping, &[Find, Done]),
        (Find, &[Inspect, Done]),
        (Inspect, &[Following, Waiting, Remove, Done]),
        (Following, &[Waiting, Remove, Done]),
        (Waiting, &[Exit, Remove, Done]),
        (Exit, &[Remove, Done]),
        (Remove, &[Done]),
        (Done, &[]),
    ]
};

/// Whether a resume may move `from` → `to`.
pub(super) fn check(from: Step, to: Step) -> Result<(), Error> {
    crate::lifecycle::check_move(MOVES, "the resume", from, to)
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Ping => "ping",
            Step::Find => "find",
            Step::Inspect => "inspect",
            Step::Following => "following",
            Step::Waiting => "waiting",
            Step::Exit => "exit",
            Step::Remove => "remove",
            Step::Done => "done",
        })
    }
}

impl State {
    pub(super) fn step(&self) -> Step {
        match self {
            State::Ping => Step::Ping,
            State::Find => Step::Find,
            State::Inspect => Step::Inspect,
            State::Following => Step::Following,
            State::Waiting => Step::Waiting,
            State::Exit { .. } => Step::Exit,
            State::Remove(_) => Step::Remove,
            State::Done => Step::Done,
        }
    }

    /// Whether the process may still run: a stop has something to stop.
    pub(super) fn live(&self) -> bool {
        matches!(self, State::Following | State::Waiting)
    }
}

/// A stop asked for (a cancel or the timeout), and how far it went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stop {
    pub reason: EndReason,
    pub step: StopStep,
}

/// How far a stop went.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum StopStep {
    /// Asked for before the container was known to run: sent once it is.
    Wanted,
    /// The stop signal is sent; SIGKILL at `kill_at`.
    Signalled { kill_at: Duration },
    /// SIGKILL is sent; past `give_up_at` the end is not waited for.
    Killed { give_up_at: Duration },
}

/// The tries of a `DELETE` that failed in transport: the container
/// machine's, retried the same way.
pub(super) use crate::machine::Retry;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_has_a_row_and_every_state_can_end() {
        use Step::*;
        for s in [Ping, Find, Inspect, Following, Waiting, Exit, Remove, Done] {
            assert_eq!(MOVES.iter().filter(|(f, _)| *f == s).count(), 1, "{s}");
            assert!(check(s, Done).is_ok() || s == Done, "{s} can always end");
        }
        assert!(MOVES.iter().all(|(_, to)| !to.contains(&Ping)), "nothing goes back to the ping");
        assert!(MOVES.iter().all(|(from, to)| *from == Ping || !to.contains(&Find)), "the find comes once");
        assert!(check(Following, Inspect).is_err());
        assert!(check(Done, Remove).is_err());
    }

    #[test]
    fn removal_backs_off_until_its_deadline() {
        let mut r = Retry::first(Duration::ZERO, Duration::from_secs(2));
        assert!(r.again(Duration::ZERO));
        assert_eq!(r.at, Some(Duration::from_millis(500)));
        r.retried();
        assert!(r.again(Duration::from_millis(500)));
        assert_eq!(r.at, Some(Duration::from_millis(1500)));
        r.retried();
        assert!(!r.again(Duration::from_millis(1500)), "2 s past 1.5 s is past the deadline");
    }
}
