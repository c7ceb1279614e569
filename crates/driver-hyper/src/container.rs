//! A container that stays up while steps run in it, one `docker exec` each:
//! [`Engine::start`], [`Container::exec`], [`Container::close`].

use std::time::Duration;

use cstream_proto_core::exec::ExecMachine;
use cstream_proto_core::{Event, EventKind, RunSpec};

use crate::output::{Collector, ExitStatus, RunError};
use crate::{Engine, Run, RunHandle};

/// A living container: its process (such as `sleep infinity`) keeps it up,
/// and [`exec`](Self::exec) runs steps in it, each with a [`Run`] of its own.
///
/// The container is removed when it is [closed](Self::close) or dropped, as
/// a run's container is: its run is cancelled (the stop signal, the grace,
/// SIGKILL) and goes on to the removal in its task, with nobody polling.
/// Its process's own output is not kept.
///
/// ```no_run
/// # async fn demo(engine: cstream_driver_hyper::Engine) -> Result<(), Box<dyn std::error::Error>> {
/// use cstream_driver_hyper::RunSpec;
///
/// let spec = RunSpec::builder("alpine:3.20").command(["sleep", "infinity"]).build()?;
/// let build = engine.start(spec).await?;
/// build.exec(["sh", "-c", "echo hi > /tmp/a"])?.wait().await?;
/// let out = build.exec(["cat", "/tmp/a"])?.output().await?;
/// assert_eq!(out.stdout, b"hi\n");
/// build.close().await?;
/// # Ok(()) }
/// ```
pub struct Container {
    engine: Engine,
    id: String,
    image: String,
    handle: RunHandle,
    /// Reads the container's run to its end.
    watcher: Option<tokio::task::JoinHandle<Result<ExitStatus, RunError>>>,
}

impl Engine {
    /// Starts `spec`'s container and returns once its process runs. The
    /// command should keep running (`sleep infinity`, a service's entrypoint):
    /// steps run only while it does. Any error before the process runs is
    /// the `Err`, with the container removed.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as [`run`](Self::run).
    pub async fn start(&self, spec: RunSpec) -> Result<Container, RunError> {
        let image = spec.image().to_string();
        let mut run = self.run(spec);
        let mut early = Collector::new(false);
        let mut id = None;
        while let Some(item) = next(&mut run).await {
            match &item {
                Ok(Event { kind: EventKind::ContainerCreate { id: made, .. }, .. }) => id = Some(made.clone()),
                Ok(Event { kind: EventKind::ProcessStart { .. }, .. }) if early.is_clean() => break,
                Err(_) => run.cancel(),
                Ok(_) => {}
            }
            early.push(item);
        }
        let (Some(id), true) = (id, early.is_clean()) else {
            // The stream ended before the process ran, or after an error:
            // everything is read, the container is gone.
            while let Some(item) = next(&mut run).await {
                early.push(item);
            }
            if early.is_clean() {
                early.push(Err(unexpected("the container's process ended as it started".into())));
            }
            let made = run.container_id().map(str::to_string);
            return Err(early.finish(made).expect_err("an error was pushed"));
        };
        let handle = run.handle();
        let watcher = tokio::spawn(run.wait());
        Ok(Container { engine: self.clone(), id, image, handle, watcher: Some(watcher) })
    }

    /// Runs a step in the running container `container` (an id or name):
    /// `spec`'s command, env, working dir, user, terminal, stdin, timeout,
    /// stop signal and grace, heartbeat, coalescing and limits apply; the
    /// rest is the container's. See [`cstream_proto_core::exec`].
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as [`run`](Self::run).
    pub fn exec(&self, container: &str, spec: RunSpec) -> Run {
        let run = self.run_info();
        let machine = match self.known_engine() {
            Some(info) => ExecMachine::with_engine(container, spec, run, info, Duration::ZERO),
            None => ExecMachine::new(container, spec, run, Duration::ZERO),
        };
        self.drive(Box::new(machine), None, None)
    }
}

impl Container {
    /// The container's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Runs `command` as a step, with no stdin and no terminal (for more,
    /// [`exec_spec`](Self::exec_spec)). An empty command is an `Err`.
    pub fn exec<I, S>(&self, command: I) -> Result<Run, cstream_proto_core::SpecError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let spec = RunSpec::builder(self.image.as_str()).command(command).build()?;
        Ok(self.exec_spec(spec))
    }

    /// Runs a step as [`Engine::exec`] does (the image in `spec` is not used).
    pub fn exec_spec(&self, spec: RunSpec) -> Run {
        self.engine.exec(&self.id, spec)
    }

    /// Stops the container and waits until it is removed: how its process
    /// ended (cancelled, as a rule; or earlier, by itself), or the errors
    /// its run reported.
    pub async fn close(mut self) -> Result<ExitStatus, RunError> {
        self.handle.cancel();
        let watcher = self.watcher.take().expect("taken only here");
        match watcher.await {
            Ok(end) => end,
            Err(e) => {
                let mut failed = Collector::new(false);
                failed.push(Err(unexpected(format!("the container's task ended: {e}"))));
                Err(failed.finish(Some(self.id.clone())).expect_err("an error was pushed"))
            }
        }
    }
}

async fn next(run: &mut Run) -> Option<Result<Event, crate::Error>> {
    std::future::poll_fn(|cx| futures_core::Stream::poll_next(std::pin::Pin::new(&mut *run), cx)).await
}

fn unexpected(detail: String) -> crate::Error {
    crate::Error::Run(cstream_proto_core::Error::Unexpected { detail })
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.watcher.is_some() {
            self.handle.cancel();
        }
    }
}
