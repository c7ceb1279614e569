//! Which call of the lifecycle a request is.

/// What a request is for: which call of the lifecycle it is. The machine
/// reads each answer by it (and names the [`Phase`](crate::Phase) of an
/// error after it); a scripted engine in a test answers by it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Purpose {
    /// `GET /_ping`: the engine's API version, and Docker or Podman.
    Ping,
    /// `GET /version`, asked when a first versioned request is refused with 400.
    Version,
    /// `GET /info`, before the create of a spec with a CPU limit: the host's CPUs.
    Info,
    /// `POST /images/create`: before the first create with
    /// [`PullPolicy::Always`](crate::PullPolicy::Always), after a create's 404
    /// with [`Missing`](crate::PullPolicy::Missing).
    Pull,
    /// `POST /containers/create`: 404 means no image (for the platform), 409 a
    /// name in use; no answer or a 5xx leaves its outcome unknown, and the
    /// sweep follows.
    Create,
    /// `POST /containers/{id}/attach`, upgraded: output one way, stdin the other.
    Attach,
    /// `POST /containers/{id}/wait`: open until the process exits.
    Wait,
    /// `POST /containers/{id}/start`, once attach and wait are registered.
    /// Output may overtake its answer, and then counts as the start.
    Start,
    /// `POST /containers/{id}/kill`: the stop signal, or SIGKILL. Its answer
    /// is not read (a 409 only says the process is gone): the wait tells the end.
    Kill,
    /// `POST /containers/{id}/resize`: the spec's terminal size (before start
    /// on Podman, after it on Docker before API 1.42), or a caller's resize.
    Resize,
    /// `GET /containers/{id}/json`: the final state (exit code, `OOMKilled`).
    Inspect,
    /// `GET /containers/{id}/logs`, on Podman only, after an attach that
    /// carried no byte at all: Podman 4.3 can start a container before its
    /// attach is joined to the process, and the output is then read back
    /// from the logs instead of lost.
    Logs,
    /// `DELETE /containers/{id}`: removing the run's container.
    Remove,
    /// `GET /containers/json` by the run's label, after a create of unknown outcome.
    Sweep,
    /// `DELETE /containers/{id}` of a container the sweep found.
    SweepRemove,
}
