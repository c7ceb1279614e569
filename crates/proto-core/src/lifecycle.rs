//! What every machine of a run does, whatever it runs: a container on one
//! engine ([`Machine`](crate::Machine)), a job on a swarm
//! ([`JobMachine`](crate::swarm::JobMachine)), a step in a living container
//! ([`ExecMachine`](crate::exec::ExecMachine)), a run resumed after its
//! client died ([`ResumeMachine`](crate::resume::ResumeMachine)). A driver
//! written against [`Lifecycle`] drives them all the same way, under the same contract
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

/// Whether a machine may move `from` → `to` by its one table of `moves`;
/// the error names the machine (`who`) and the move it tried when not.
pub(crate) fn check_move<S: Copy + PartialEq + core::fmt::Display>(
    moves: &[(S, &[S])],
    who: &str,
    from: S,
    to: S,
) -> Result<(), crate::Error> {
    match moves.iter().any(|(f, to_any)| *f == from && to_any.contains(&to)) {
        true => Ok(()),
        false => Err(crate::Error::Unexpected { detail: alloc::format!("{who} cannot move from {from} to {to}") }),
    }
}

/// Implements [`Lifecycle`] for a machine whose inherent methods of the
/// same names do the work; `made` names the one that says what it made.
macro_rules! forward_lifecycle {
    ($machine:ty, made: $made:ident) => {
        impl $crate::lifecycle::Lifecycle for $machine {
            fn poll_output(&mut self) -> $crate::machine::Output {
                <$machine>::poll_output(self)
            }
            fn handle_input(&mut self, now: core::time::Duration, input: $crate::machine::Input) {
                <$machine>::handle_input(self, now, input)
            }
            fn handle_timeout(&mut self, now: core::time::Duration) {
                <$machine>::handle_timeout(self, now)
            }
            fn cancel(&mut self, now: core::time::Duration) {
                <$machine>::cancel(self, now)
            }
            fn write_stdin(
                &mut self,
                data: bytes::Bytes,
            ) -> Result<$crate::machine::CommandId, $crate::error::CommandError> {
                <$machine>::write_stdin(self, data)
            }
            fn close_stdin(&mut self) -> Result<$crate::machine::CommandId, $crate::error::CommandError> {
                <$machine>::close_stdin(self)
            }
            fn resize(
                &mut self,
                now: core::time::Duration,
                size: $crate::event::TtySize,
            ) -> Result<$crate::machine::CommandId, $crate::error::CommandError> {
                <$machine>::resize(self, now, size)
            }
            fn abandon(&mut self) -> Option<$crate::api::Request> {
                <$machine>::abandon(self)
            }
            fn spec(&self) -> &$crate::spec::RunSpec {
                <$machine>::spec(self)
            }
            fn engine(&self) -> Option<&$crate::api::EngineInfo> {
                <$machine>::engine(self)
            }
            fn made(&self) -> Option<&str> {
                <$machine>::$made(self)
            }
        }
    };
}
pub(crate) use forward_lifecycle;

forward_lifecycle!(crate::Machine, made: container_id);
