//! What every machine of a run does, whatever it runs on: a container on one
//! engine ([`Machine`](crate::Machine)) or a job on a swarm
//! ([`JobMachine`](crate::swarm::JobMachine)). A driver written
//! against [`Lifecycle`] drives both the same way, under the same contract
//! (see the crate docs): drain [`poll_output`](Lifecycle::poll_output), feed
//! answers, timeouts and commands, drain again.

use bytes::Bytes;
use core::time::Duration;

use crate::api::{EngineInfo, Request};
use crate::error::CommandError;
use crate::event::TtySize;
use crate::machine::{CommandId, Input, Output};
use crate::spec::RunSpec;

/// One run's machine, as a driver sees it. Each method is the one of the
/// same name on [`Machine`](crate::Machine), which documents it.
pub trait Lifecycle {
    /// The next thing to do.
    fn poll_output(&mut self) -> Output;
    /// Feeds what the engine said about one request.
    fn handle_input(&mut self, now: Duration, input: Input);
    /// The deadline of [`Output::Pending`] has passed.
    fn handle_timeout(&mut self, now: Duration);
    /// Stops the run (a second time: at once) and cleans up.
    fn cancel(&mut self, now: Duration);
    /// Bytes for the process's stdin.
    fn write_stdin(&mut self, data: Bytes) -> Result<CommandId, CommandError>;
    /// Closes the process's stdin.
    fn close_stdin(&mut self) -> Result<CommandId, CommandError>;
    /// Sets the terminal size.
    fn resize(&mut self, now: Duration, size: TtySize) -> Result<CommandId, CommandError>;
    /// Gives the run up: the request that removes what it left, if anything.
    fn abandon(&mut self) -> Option<Request>;
    /// The spec the run runs.
    fn spec(&self) -> &RunSpec;
    /// What the run has learned about the engine.
    fn engine(&self) -> Option<&EngineInfo>;
    /// What the run made on the engine (a container's or a service's id), once made.
    fn made(&self) -> Option<&str>;
}

impl Lifecycle for crate::Machine {
    fn poll_output(&mut self) -> Output {
        crate::Machine::poll_output(self)
    }
    fn handle_input(&mut self, now: Duration, input: Input) {
        crate::Machine::handle_input(self, now, input)
    }
    fn handle_timeout(&mut self, now: Duration) {
        crate::Machine::handle_timeout(self, now)
    }
    fn cancel(&mut self, now: Duration) {
        crate::Machine::cancel(self, now)
    }
    fn write_stdin(&mut self, data: Bytes) -> Result<CommandId, CommandError> {
        crate::Machine::write_stdin(self, data)
    }
    fn close_stdin(&mut self) -> Result<CommandId, CommandError> {
        crate::Machine::close_stdin(self)
    }
    fn resize(&mut self, now: Duration, size: TtySize) -> Result<CommandId, CommandError> {
        crate::Machine::resize(self, now, size)
    }
    fn abandon(&mut self) -> Option<Request> {
        crate::Machine::abandon(self)
    }
    fn spec(&self) -> &RunSpec {
        crate::Machine::spec(self)
    }
    fn engine(&self) -> Option<&EngineInfo> {
        crate::Machine::engine(self)
    }
    fn made(&self) -> Option<&str> {
        self.container_id()
    }
}
