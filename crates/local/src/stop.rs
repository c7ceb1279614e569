//! Stopping the process on cancel or timeout: the stop signal, SIGKILL after
//! the grace period, SIGKILL at once when asked again. Decides only; the run
//! sends what it is told to the process group.

use std::time::Duration;

use cstream_driver_hyper::EndReason;
use tokio::time::Instant;

/// What to send the process group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// The run's stop signal (SIGTERM unless set).
    Stop,
    /// SIGKILL.
    Kill,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Not asked to stop.
    Running,
    /// The stop signal was sent; SIGKILL follows at `kill_at`.
    Signalled { kill_at: Instant },
    /// SIGKILL was sent.
    Killed,
}

/// Where a run is in stopping its process.
#[derive(Debug)]
pub(crate) struct Stopping {
    state: State,
    /// From the stop signal to SIGKILL.
    grace: Duration,
    /// Why it was asked to stop, once it was.
    reason: EndReason,
}

impl Stopping {
    /// Not stopping, with `grace` between the stop signal and SIGKILL.
    pub(crate) fn new(grace: Duration) -> Stopping {
        Stopping { state: State::Running, grace, reason: EndReason::Exited }
    }

    /// Cancel (`Cancelled`) or timeout (`TimedOut`): the stop signal, or
    /// SIGKILL with no grace period; asked again, SIGKILL at once. The first
    /// request's reason is the one kept.
    pub(crate) fn request(&mut self, reason: EndReason, now: Instant) -> Option<Action> {
        match self.state {
            State::Running => {
                self.reason = reason;
                if self.grace.is_zero() {
                    return Some(self.kill());
                }
                self.state = State::Signalled { kill_at: now + self.grace };
                Some(Action::Stop)
            }
            State::Signalled { .. } => Some(self.kill()),
            State::Killed => None,
        }
    }

    /// The run's time limit passed: a stop, unless one is under way.
    pub(crate) fn timed_out(&mut self, now: Instant) -> Option<Action> {
        match self.state {
            State::Running => self.request(EndReason::TimedOut, now),
            _ => None,
        }
    }

    /// SIGKILL now, whatever was sent before (the caller is gone). It does
    /// not say why the process ended: a kill without a request keeps `Exited`.
    pub(crate) fn kill(&mut self) -> Action {
        self.state = State::Killed;
        Action::Kill
    }

    /// When SIGKILL follows the stop signal, while it is pending.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        match self.state {
            State::Signalled { kill_at } => Some(kill_at),
            _ => None,
        }
    }

    /// The grace period is over at `now`: SIGKILL.
    pub(crate) fn on_deadline(&mut self, now: Instant) -> Option<Action> {
        match self.state {
            State::Signalled { kill_at } if kill_at <= now => Some(self.kill()),
            _ => None,
        }
    }

    /// Why the process ended: `Exited` unless a stop was requested.
    pub(crate) fn reason(&self) -> EndReason {
        match self.state {
            State::Running => EndReason::Exited,
            _ => self.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRACE: Duration = Duration::from_secs(10);

    #[test]
    fn a_process_never_asked_to_stop_exited() {
        let s = Stopping::new(GRACE);
        assert_eq!((s.reason(), s.deadline()), (EndReason::Exited, None));
    }

    #[test]
    fn cancel_sends_the_stop_signal_then_sigkill_after_the_grace_period() {
        let t0 = Instant::now();
        let mut s = Stopping::new(GRACE);
        assert_eq!(s.request(EndReason::Cancelled, t0), Some(Action::Stop));
        assert_eq!(s.deadline(), Some(t0 + GRACE));
        assert_eq!(s.on_deadline(t0 + GRACE - Duration::from_millis(1)), None, "not before the grace period ends");
        assert_eq!(s.on_deadline(t0 + GRACE), Some(Action::Kill));
        assert_eq!((s.deadline(), s.on_deadline(t0 + GRACE * 2)), (None, None), "killed once");
        assert_eq!(s.reason(), EndReason::Cancelled);
    }

    #[test]
    fn a_second_cancel_kills_at_once_and_a_third_does_nothing() {
        let t0 = Instant::now();
        let mut s = Stopping::new(GRACE);
        assert_eq!(s.request(EndReason::Cancelled, t0), Some(Action::Stop));
        assert_eq!(s.request(EndReason::Cancelled, t0), Some(Action::Kill));
        assert_eq!(s.request(EndReason::Cancelled, t0), None);
        assert_eq!(s.deadline(), None);
    }

    #[test]
    fn no_grace_period_kills_at_once() {
        let mut s = Stopping::new(Duration::ZERO);
        assert_eq!(s.request(EndReason::TimedOut, Instant::now()), Some(Action::Kill));
        assert_eq!((s.deadline(), s.reason()), (None, EndReason::TimedOut));
    }

    #[test]
    fn a_timeout_during_a_cancel_changes_nothing_and_the_first_reason_stays() {
        let t0 = Instant::now();
        let mut s = Stopping::new(GRACE);
        assert_eq!(s.request(EndReason::Cancelled, t0), Some(Action::Stop));
        assert_eq!(s.timed_out(t0 + Duration::from_secs(1)), None, "the grace period is not cut short");
        assert_eq!(s.deadline(), Some(t0 + GRACE));
        assert_eq!(s.reason(), EndReason::Cancelled);

        let mut s = Stopping::new(GRACE);
        assert_eq!(s.timed_out(t0), Some(Action::Stop));
        assert_eq!(s.request(EndReason::Cancelled, t0), Some(Action::Kill));
        assert_eq!(s.reason(), EndReason::TimedOut);
    }

    #[test]
    fn a_kill_when_the_caller_left_says_nothing_of_why() {
        let mut s = Stopping::new(GRACE);
        assert_eq!(s.kill(), Action::Kill);
        assert_eq!((s.deadline(), s.reason()), (None, EndReason::Exited));
        assert_eq!(s.request(EndReason::Cancelled, Instant::now()), None, "nothing is left to send");
    }
}
