//! The sweep: cleanup when a create's outcome is unknown.
//!
//! A create that timed out, lost its connection after it was sent, failed
//! inside the engine (5xx) or answered with a body that cannot be read may
//! still have made a container, whose id the machine never learns. So the
//! machine lists the containers carrying its own run label and removes each,
//! retrying the list (with the remove's backoff) while the engine cannot be
//! reached, until the cleanup deadline.

use alloc::format;
use alloc::vec::Vec;
use core::time::Duration;

use super::state::{Retry, State};
use super::{Machine, Purpose};
use crate::api::answers::Listed;
use crate::api::create::labels;
use crate::api::requests;
use crate::error::{Error, Phase};

impl Machine {
    /// Moves to `Sweep`, the cleanup deadline counted from now, and sends the
    /// first list.
    pub(super) fn sweep(&mut self, now: Duration) {
        self.move_to(State::Sweep(Retry::first(now, self.spec.limits.cleanup_timeout)));
        self.send_list(now);
    }

    /// Lists the containers labelled with this run, to remove them.
    pub(super) fn send_list(&mut self, now: Duration) {
        let label = format!("{}={}", labels::RUN, self.run.run_id);
        let req = requests::list_labelled(self.api(), &[&label]);
        self.send(now, Purpose::Sweep, req);
    }

    /// The list arrived: remove what it holds of this run.
    pub(super) fn swept(&mut self, now: Duration, status: Option<u16>, body: &[u8]) {
        let listed = match status {
            Some(200) => Listed::parse_list(body).map_err(|e| e.0),
            other => Err(format!("HTTP {}", other.unwrap_or(0))),
        };
        let ours: Vec<_> = match listed {
            Ok(all) => all
                .into_iter()
                .filter(|c| c.labels.as_ref().and_then(|l| l.get(labels::RUN)) == Some(&self.run.run_id))
                .map(|c| c.id)
                .collect(),
            Err(detail) => {
                let detail = format!("listing this run's containers after a create of unknown outcome: {detail}");
                self.error(Error::Protocol { phase: Phase::Remove, detail });
                return self.finish(now);
            }
        };
        if ours.is_empty() {
            return self.finish(now);
        }
        for id in ours {
            let req = requests::remove(self.api(), &id);
            self.send(now, Purpose::SweepRemove, req);
        }
    }

    /// One of the sweep's removes ended; the run is done when all have.
    pub(super) fn sweep_removed(&mut self, now: Duration, status: Option<u16>, error: Error) {
        if !status.is_some_and(|s| (200..300).contains(&s) || s == 404 || s == 409) {
            self.error(error);
        }
        if self.requests.find(Purpose::SweepRemove).is_none() {
            self.finish(now);
        }
    }

    /// The list or a remove failed in transport: the engine may be
    /// restarting, so list again after a backoff, until the cleanup deadline.
    pub(super) fn sweep_failed(&mut self, now: Duration, e: Error) {
        self.abort(Purpose::SweepRemove);
        self.retry_cleanup(now, e);
    }
}
