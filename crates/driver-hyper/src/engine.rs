//! A handle to one engine: shared by many runs at once.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::api::answers::{self, HostInfo, Listed, ListedService, Versions};
use cstream_proto_core::api::create::labels;
use cstream_proto_core::api::{ApiVersion, EngineInfo, Request, requests};
use cstream_proto_core::swarm::{JobMachine, Placement};
use cstream_proto_core::{Lifecycle, Machine, Phase, RunInfo, RunSpec, SpecError};
use http_body_util::BodyExt;
use tokio::sync::mpsc;

use crate::connect::Connector;
use crate::drive::{Drive, Shared};
use crate::error::Error;
use crate::exchange::{describe, http_request};
use crate::known::Known;
use crate::owner::{Liveness, Owner};
use crate::pool::Pool;
use crate::run::Run;
use crate::task;
use crate::transcript::Transcript;

/// How long a short API call (ping, version, list) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A Docker or Podman engine. Cheap to clone; one handle serves many runs at
/// once, over a pool of keep-alive connections.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Arc<Pool>,
    /// The API version to speak instead of negotiating one.
    pinned: Option<ApiVersion>,
    known: Arc<Known>,
}

/// A whole answer to [`Engine::call`]: its HTTP status, headers and body.
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub struct Answer {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

/// What [`Engine::gc`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Collected {
    /// The ids of the containers removed.
    pub removed: Vec<String>,
    /// The ids of the containers left, and why (a live owner, another host).
    pub left: Vec<(String, String)>,
}

/// What the ping and `GET /version` say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Docker or Podman, and the API version cstream speaks with it.
    pub info: EngineInfo,
    /// The engine's versions: its own, its API range, its platform.
    pub versions: Versions,
}

impl Version {
    /// The API version to speak with the engine, or why there is none: a
    /// version pinned outside the engine's range, which the ping cannot tell.
    pub fn agreed(&self) -> Result<ApiVersion, cstream_proto_core::api::version::VersionError> {
        self.versions.agree(self.info.api)
    }
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("endpoint", &self.endpoint())
            .field("info", &self.inner.known.info.get())
            .finish()
    }
}

impl Engine {
    /// An engine reached through `connector`. Nothing is sent until it is used.
    pub fn new(connector: impl Connector) -> Engine {
        let pool = Arc::new(Pool::new(Arc::new(connector)));
        Engine { inner: Arc::new(Inner { pool, pinned: None, known: Arc::default() }) }
    }

    /// This engine, spoken to in API version `version` rather than the one
    /// negotiated, as the docker CLI does with `DOCKER_API_VERSION`
    /// (`cstream_engine::api_version_from_env` reads it). Runs fail with a clear error if
    /// the engine or cstream does not speak it.
    pub fn with_api_version(self, version: ApiVersion) -> Engine {
        let pool = self.inner.pool.clone();
        let pinned = Some(version);
        Engine { inner: Arc::new(Inner { pool, pinned, known: Arc::default() }) }
    }

    /// The API version this engine was told to speak, if any.
    pub fn pinned_api_version(&self) -> Option<ApiVersion> {
        self.inner.pinned
    }

    /// Where the engine is, as a URL.
    pub fn endpoint(&self) -> &str {
        self.inner.pool.endpoint()
    }

    /// What the last ping learned: Docker or Podman, the API version in use.
    pub fn info(&self) -> Option<&EngineInfo> {
        self.inner.known.info.get()
    }

    /// Pings the engine: is it there, Docker or Podman, and which API
    /// version to speak. Runs started after a successful ping skip their own.
    pub async fn ping(&self) -> Result<EngineInfo, Error> {
        // A run after the ping wants a second connection as soon as its
        // create is answered: opened beside the ping's, it is ready by then.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            self.inner.pool.prewarm(&runtime);
        }
        let (status, headers, body) = self.call_inner(requests::ping()).await?;
        let pairs = headers.iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("")));
        let info = answers::ping(status, pairs, &body, self.inner.pinned).map_err(|e| self.failed(e))?;
        let _ = self.inner.known.info.set(info.clone());
        Ok(info)
    }

    /// The engine's versions (`GET /version`): its own, the API versions it
    /// speaks, and the one cstream speaks with it.
    pub async fn version(&self) -> Result<Version, Error> {
        let info = match self.info() {
            Some(i) => i.clone(),
            None => self.ping().await?,
        };
        let body = self.call_ok(Phase::Connect, requests::version()).await?;
        let versions = Versions::parse(&body).map_err(|e| self.failed(e.in_phase(Phase::Connect)))?;
        Ok(Version { info, versions })
    }

    /// The API version for calls made outside a run: the one agreed at the
    /// ping, pinging first if there was none.
    async fn api(&self) -> Result<ApiVersion, Error> {
        match self.info() {
            Some(i) => Ok(i.api),
            None => Ok(self.ping().await?.api),
        }
    }

    /// How many CPUs the engine's host has (`GET /info`, asked once).
    pub async fn host_cpus(&self) -> Result<u64, Error> {
        if let Some(n) = self.inner.known.host_cpus.get() {
            return Ok(*n);
        }
        let api = self.api().await?;
        let body = self.call_ok(Phase::HostInfo, requests::info(api)).await?;
        let n = HostInfo::parse(&body).map_err(|e| self.failed(e.in_phase(Phase::HostInfo)))?.cpus;
        let _ = self.inner.known.host_cpus.set(n);
        Ok(n)
    }

    /// Containers (running or not) carrying every label given (`key` or `key=value`).
    pub async fn containers_labelled(&self, labels: &[&str]) -> Result<Vec<Listed>, Error> {
        let api = self.api().await?;
        let body = self.call_ok(Phase::List, requests::list_labelled(api, labels)).await?;
        Listed::parse_list(&body).map_err(|e| self.failed(e.in_phase(Phase::List)))
    }

    /// Removes a container by force, with its anonymous volumes. A container
    /// that is already gone is not an error.
    pub async fn remove_container(&self, id: &str) -> Result<(), Error> {
        let api = self.api().await?;
        let (status, _, body) = self.call_inner(requests::remove(api, id)).await?;
        match status {
            200..=299 | 404 | 409 => Ok(()),
            _ => Err(self.failed(cstream_proto_core::Error::answered(Phase::Remove, status, &body))),
        }
    }

    /// Removes the containers cstream created (labelled `io.cstream.run`)
    /// that are at least `older_than` old and no run is using: kept ones,
    /// stopped ones whose owner process is gone or elsewhere, and running
    /// ones whose owner is provably gone (same host and boot, no process with
    /// that pid and start time), such as those a killed `cstream` left.
    /// Left and listed, unless `force`: running containers of live owners,
    /// of other hosts or without an owner label, and stopped ones whose
    /// owner runs (its run reads the end and then removes the container).
    /// Containers without cstream's label are never touched.
    ///
    /// On a swarm manager, the services of swarm jobs are collected the same
    /// way (a service is never done until its run removes it, so it counts
    /// as running); removing one stops its task and removes its container.
    /// A task's container is never removed by itself: it goes with its
    /// service, and taking it earlier would lose the job's logs.
    pub async fn gc(&self, older_than: Duration, force: bool) -> Result<Collected, Error> {
        let now = unix_now();
        let mut out = Collected::default();
        let old = |created: u64| now.saturating_sub(created) >= older_than.as_secs();
        for c in self.containers_labelled(&[labels::RUN]).await? {
            let label = |k: &str| c.labels.as_ref().and_then(|l| l.get(k));
            // A swarm task's container goes with its service (below);
            // removing it under a live job would lose the job's logs.
            if label(labels::SWARM_SERVICE).is_some() {
                continue;
            }
            let created = label(labels::CREATED)
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(u64::try_from(c.created).unwrap_or(0));
            if !old(created) {
                continue;
            }
            let running = matches!(c.state.as_str(), "running" | "paused" | "restarting");
            let why = match running {
                true => keep_why(&c.state, label(labels::OWNER), force),
                // Stopped and not kept: its run may be reading its end still.
                false if label(labels::KEEP).is_none() => keep_while_read(&c.state, label(labels::OWNER), force),
                false => None,
            };
            match why {
                Some(why) => out.left.push((c.id, why)),
                None => {
                    self.remove_container(&c.id).await?;
                    out.removed.push(c.id);
                }
            }
        }
        for s in self.services_labelled(&[labels::RUN]).await? {
            let created = s.labels.get(labels::CREATED).and_then(|t| t.parse::<u64>().ok()).unwrap_or(0);
            if !old(created) {
                continue;
            }
            match keep_why("a swarm job", s.labels.get(labels::OWNER), force) {
                Some(why) => out.left.push((s.id, why)),
                None => {
                    self.remove_service(&s.id).await?;
                    out.removed.push(s.id);
                }
            }
        }
        Ok(out)
    }

    /// The services of a swarm manager carrying every label given; none on
    /// an engine that manages no swarm (Docker answers 503, Podman, which has
    /// no services, 404).
    async fn services_labelled(&self, labels: &[&str]) -> Result<Vec<ListedService>, Error> {
        let api = self.api().await?;
        match self.call_inner(requests::list_services_labelled(api, labels)).await? {
            (200, _, body) => ListedService::parse_list(&body).map_err(|e| self.failed(e.in_phase(Phase::List))),
            (404 | 503, _, _) => Ok(Vec::new()),
            (status, _, body) => Err(self.failed(cstream_proto_core::Error::answered(Phase::List, status, &body))),
        }
    }

    async fn remove_service(&self, id: &str) -> Result<(), Error> {
        let api = self.api().await?;
        match self.call_inner(requests::remove_service(api, id)).await? {
            (200..=299 | 404, _, _) => Ok(()),
            (status, _, body) => Err(self.failed(cstream_proto_core::Error::answered(Phase::Remove, status, &body))),
        }
    }

    /// Sends any Engine API request and returns its whole answer: the escape
    /// hatch for calls cstream does not wrap. Build requests with
    /// [`cstream_proto_core::api::requests`] or by hand.
    pub async fn call(&self, req: Request) -> Result<Answer, Error> {
        let (status, headers, body) = self.call_inner(req).await?;
        Ok(Answer { status, headers, body })
    }

    /// Starts a run of `spec`; its events arrive on the returned stream.
    ///
    /// The run goes on in a task of its own on the current Tokio runtime, so
    /// dropping the stream does not leak the container: the run is cancelled
    /// (SIGKILL) and the container removed without anyone polling.
    ///
    /// On an engine on this host, bind-mount sources are checked first: a
    /// missing one is an error before anything is created (Podman 4.3 would
    /// otherwise create it as an empty directory, as root).
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, saying so: the run needs one for its task.
    /// Call it from within the runtime (`#[tokio::main]`, `Runtime::block_on`,
    /// a task, or after `Runtime::enter`); the returned stream may then be
    /// read from anywhere.
    pub fn run(&self, spec: RunSpec) -> Run {
        self.run_inner(spec, None)
    }

    /// Like [`run`](Self::run), recording the run's whole exchange with the
    /// engine in `transcript` (for bug reports and replay tests).
    pub fn run_recorded(&self, spec: RunSpec, transcript: Transcript) -> Run {
        self.run_inner(spec, Some(transcript))
    }

    /// Runs `spec` as a one-off job on the Docker Swarm this engine manages:
    /// a service of one never-restarted replica, placed by `placement`'s
    /// constraints, with the same events as [`run`](Self::run) (the
    /// `ProcessStart` names the node, task and service) and the same
    /// guarantees: the output drained to its end, the service removed on
    /// every path. What a swarm cannot do (a terminal, stdin, some container
    /// options) is refused before anything is created.
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime, as [`run`](Self::run).
    pub fn run_on_swarm(&self, spec: RunSpec, placement: Placement) -> Run {
        let run = self.run_info();
        let id = Some(run.run_id.clone());
        let machine = match self.inner.known.engine() {
            Some(info) => JobMachine::with_engine(spec, run, placement, info, Duration::ZERO),
            None => JobMachine::new(spec, run, placement, Duration::ZERO),
        };
        self.drive(Box::new(machine), None, id)
    }

    fn run_inner(&self, spec: RunSpec, transcript: Option<Transcript>) -> Run {
        if self.inner.pool.is_local() {
            if let Err(e) = spec.check_mount_sources(|source| std::path::Path::new(source).exists()) {
                return Run::failed(e.into());
            }
        }
        let run = self.run_info();
        let id = Some(run.run_id.clone());
        let machine = match (self.inner.known.engine(), self.pinned_api_version()) {
            (Some(info), _) => Machine::with_engine(spec, run, info, Duration::ZERO),
            (None, Some(pinned)) => Machine::with_api_version(spec, run, pinned, Duration::ZERO),
            (None, None) => Machine::new(spec, run, Duration::ZERO),
        };
        self.drive(Box::new(machine), transcript, id)
    }

    /// The engine, as runs on this handle learned it.
    pub(crate) fn known_engine(&self) -> Option<EngineInfo> {
        self.inner.known.engine()
    }

    pub(crate) fn run_info(&self) -> RunInfo {
        let owner = Owner::this_process().map(|o| o.to_string());
        RunInfo { run_id: new_run_id(), created_unix: unix_now(), owner }
    }

    /// Starts driving `machine`: its stream for the caller, its task beside it.
    /// `run_id` is what its [`Run::run_id`] says.
    pub(crate) fn drive(
        &self,
        machine: Box<dyn Lifecycle + Send>,
        transcript: Option<Transcript>,
        run_id: Option<String>,
    ) -> Run {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { panic!("{}", task::NO_RUNTIME) };
        let (control_tx, control) = mpsc::unbounded_channel();
        let pool = self.inner.pool.clone();
        pool.prewarm(&runtime);
        let drive = Drive::new(machine, pool, self.inner.known.clone(), runtime.clone(), transcript);
        let shared = Shared::new(drive);
        task::spawn(&runtime, shared.clone(), control);
        Run::engine(shared, control_tx, run_id)
    }

    /// A call outside a run that failed as the core says.
    fn failed(&self, error: cstream_proto_core::Error) -> Error {
        Error::call(self.endpoint(), error)
    }

    /// One short call whose answer must be 200: its body.
    async fn call_ok(&self, phase: Phase, req: Request) -> Result<Bytes, Error> {
        match self.call_inner(req).await? {
            (200, _, body) => Ok(body),
            (status, _, body) => Err(self.failed(cstream_proto_core::Error::answered(phase, status, &body))),
        }
    }

    /// One short call, answered in full.
    async fn call_inner(&self, req: Request) -> Result<(u16, http::HeaderMap, Bytes), Error> {
        let pool = &self.inner.pool;
        let unreachable =
            |message: String, source| Error::Unreachable { endpoint: self.endpoint().to_string(), message, source };
        // A request HTTP cannot carry is refused before a connection is taken.
        let request = http_request(&req).map_err(|e| {
            let why = "cannot be sent: a path or header value with characters HTTP does not allow";
            Error::from(SpecError::Invalid { field: "API request".into(), value: e.request, why: why.into() })
        })?;
        let work = async {
            let mut conn = pool.checkout().await.map_err(|e| match e {
                crate::pool::ConnectError::Io(io) => unreachable(io.to_string(), Some(io)),
                other => unreachable(other.to_string(), None),
            })?;
            let res = conn.send(request).await.map_err(|e| unreachable(describe(&e), None))?;
            let (parts, body) = res.into_parts();
            let body = conn.drive(body.collect()).await.map_err(|e| unreachable(describe(&e), None))?.to_bytes();
            pool.checkin(conn);
            Ok((parts.status.as_u16(), parts.headers, body))
        };
        match tokio::time::timeout(CALL_TIMEOUT, work).await {
            Ok(r) => r,
            Err(_) => Err(unreachable(format!("no answer within {CALL_TIMEOUT:?}"), None)),
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A run id unique on this host: time, process id and a counter.
fn new_run_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:x}-{:x}-{n:x}", nanos as u64, std::process::id())
}

/// Why a stopped container that its run did not keep is left alone: its
/// owner runs, and so, until it removes the container, may its run (reading
/// the process's end, or its output on a swarm).
fn keep_while_read(state: &str, owner: Option<&String>, force: bool) -> Option<String> {
    let o = owner.and_then(|o| Owner::parse(o)).filter(|_| !force)?;
    let why = format!("{state}: its run's owner, pid {} on this host, runs and removes it at the end", o.pid);
    (o.liveness() == Liveness::Alive).then_some(why)
}

/// Why a live thing cstream made (a running container, a swarm job's
/// service) is left alone, or `None` to remove it: its owner is provably
/// gone, or `force`.
fn keep_why(state: &str, owner: Option<&String>, force: bool) -> Option<String> {
    if force {
        return None;
    }
    match owner.and_then(|o| Owner::parse(o)) {
        Some(o) => match o.liveness() {
            Liveness::Gone => None,
            Liveness::Alive => Some(format!("{state}: its owner, pid {} on this host, runs", o.pid)),
            Liveness::Unknown => Some(format!("{state}: its owner is pid {} on host {}", o.pid, o.host)),
        },
        None => Some(format!("{state}: it has no owner label")),
    }
}
