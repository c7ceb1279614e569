//! Resuming a run whose client died: [`Engine::resume`].
//!
//! The core's [`ResumeMachine`] does the work (see its module docs for the
//! lifecycle); this driver adds the one thing the core cannot know: whether
//! the client that made the run still lives. A run's container names its
//! client in its `io.cstream.owner` label (host, boot, pid and start time);
//! when that process runs on this host, the resume is refused with
//! [`Error::RunHeld`](cstream_proto_core::Error::RunHeld) before anything is
//! sent to the container. An owner on another host or boot cannot be told
//! from here, and is taken to be gone: the caller resuming says it is.

use std::time::Duration;

use cstream_proto_core::RunSpec;
use cstream_proto_core::resume::{ResumeMachine, Seen};

use crate::engine::Engine;
use crate::owner::{Liveness, Owner};
use crate::run::Run;

/// Whether an `io.cstream.owner` label names a process alive on this host.
fn owner_alive(label: &str) -> bool {
    Owner::parse(label).is_some_and(|o| o.liveness() == Liveness::Alive)
}

/// The limits of a resume that names none: the defaults of a run.
fn default_options() -> Option<RunSpec> {
    RunSpec::builder("scratch").build().ok()
}

impl Engine {
    /// Picks up run `run_id` (the `io.cstream.run` label of its container)
    /// after its client died: the output from where `seen` says the caller's
    /// copy stops (each stream counted apart), the process's real exit code
    /// in `ProcessEnd`, and the container removed (`ContainerRemove`),
    /// unless it is labelled to be kept. The container may still run, or
    /// have exited already.
    ///
    /// The output is read back from the container's logs, never by
    /// attaching (on Podman, attaching to an exited container would start
    /// it again and lose its exit code). So a container whose log driver
    /// keeps none (`--log-driver none`) gives an
    /// [`OutputUnrecoverable`](cstream_proto_core::Error::OutputUnrecoverable)
    /// error, and still its exit code and removal. Logs that hold less of a
    /// stream than `seen` give
    /// [`SeenBeyondLogs`](cstream_proto_core::Error::SeenBeyondLogs).
    ///
    /// Refused, with nothing done to the container:
    /// [`RunNotFound`](cstream_proto_core::Error::RunNotFound) when no
    /// container has that run id, and
    /// [`RunHeld`](cstream_proto_core::Error::RunHeld) when the client named
    /// in its `io.cstream.owner` label still runs on this host.
    ///
    /// [`Run::cancel`] stops the container (its stop signal, SIGKILL after
    /// the grace), reads its end and removes it. The limits, heartbeat,
    /// stop grace and timeout are a default spec's; see
    /// [`resume_with`](Self::resume_with) to choose them.
    ///
    /// ```no_run
    /// # async fn demo(engine: cstream_driver_hyper::Engine) -> Result<(), Box<dyn std::error::Error>> {
    /// use cstream_driver_hyper::Seen;
    ///
    /// // The run's client printed 1200 bytes of stdout and 80 of stderr before it died.
    /// let seen = Seen { stdout: 1200, stderr: 80, tty: 0 };
    /// let rest = engine.resume("18c1f0a2b3c4d5e6-4d2-0", seen).output().await?;
    /// println!("{} more bytes, exit code {:?}", rest.stdout.len(), rest.status.code());
    /// # Ok(()) }
    /// ```
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as [`run`](Self::run).
    pub fn resume(&self, run_id: &str, seen: Seen) -> Run {
        match default_options() {
            Some(options) => self.resume_with(run_id, seen, options),
            None => Run::failed(cstream_proto_core::SpecError::Conflict("no default resume options".into()).into()),
        }
    }

    /// Like [`resume`](Self::resume), with the limits, heartbeat,
    /// coalescing, stop signal and grace, and timeout of `options` (its
    /// image and container settings are not used: the container exists).
    pub fn resume_with(&self, run_id: &str, seen: Seen, options: RunSpec) -> Run {
        let machine = match self.known_engine() {
            Some(info) => ResumeMachine::with_engine(run_id, seen, options, info, Duration::ZERO),
            None => ResumeMachine::new(run_id, seen, options, Duration::ZERO),
        };
        self.drive(Box::new(machine.with_owner_check(owner_alive)), None, Some(run_id.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_live_owner_on_this_host_holds_a_run() {
        let me = Owner::this_process().expect("Linux with /proc");
        assert!(owner_alive(&me.to_string()));
        assert!(!owner_alive(&Owner { start: me.start + 1, ..me.clone() }.to_string()), "a reused pid");
        assert!(!owner_alive(&Owner { host: "elsewhere".into(), ..me }.to_string()), "not to be told");
        assert!(!owner_alive("not an owner"));
        assert!(default_options().is_some());
    }
}
