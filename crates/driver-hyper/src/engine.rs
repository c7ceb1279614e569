//! A handle to one engine: shared by many runs at once.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use cstream_proto_core::api::answers::{self, Listed};
use cstream_proto_core::api::create::labels;
use cstream_proto_core::api::{ApiVersion, EngineInfo, Request, requests};
use cstream_proto_core::{RunInfo, RunSpec};
use http_body_util::BodyExt;

use crate::connect::Connector;
use crate::error::Error;
use crate::exchange::{describe, http_request};
use crate::pool::Pool;
use crate::run::Run;
use crate::transcript::Transcript;

/// How long a short API call (ping, version, list) may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// A Docker or Podman engine. Cheap to clone; one handle serves many runs at
/// once, over a pool of keep-alive connections.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub pool: Arc<Pool>,
    info: OnceLock<EngineInfo>,
    host_cpus: OnceLock<u64>,
}

/// A whole answer to [`Engine::call`].
#[derive(Clone, Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The headers.
    pub headers: http::HeaderMap,
    /// The body.
    pub body: Bytes,
}

/// What `GET /version` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Version {
    /// Docker or Podman, and the negotiated API version.
    pub info: EngineInfo,
    /// The engine's own version, such as `20.10.24` or `4.3.1`.
    pub version: String,
    /// The newest API version the engine speaks.
    pub api_version: String,
    /// The oldest API version the engine speaks.
    pub min_api_version: String,
    /// The engine's operating system and architecture.
    pub platform: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("endpoint", &self.endpoint()).field("info", &self.inner.info.get()).finish()
    }
}

impl Engine {
    /// An engine reached through `connector`. Nothing is sent until it is used.
    pub fn new(connector: impl Connector) -> Engine {
        let pool = Arc::new(Pool::new(Arc::new(connector)));
        Engine { inner: Arc::new(Inner { pool, info: OnceLock::new(), host_cpus: OnceLock::new() }) }
    }

    /// Where the engine is, as a URL.
    pub fn endpoint(&self) -> &str {
        self.inner.pool.endpoint()
    }

    /// What the last ping learned: Docker or Podman, the API version in use.
    pub fn info(&self) -> Option<&EngineInfo> {
        self.inner.info.get()
    }

    /// Pings the engine: is it there, which API version, Docker or Podman.
    /// Runs started after a successful ping skip their own.
    pub async fn ping(&self) -> Result<EngineInfo, Error> {
        let (status, headers, body) = self.call_inner(requests::ping()).await?;
        if status != 200 {
            return Err(self.engine_error("GET /_ping", status, &body));
        }
        let pairs = headers.iter().map(|(k, v)| (k.as_str(), v.to_str().unwrap_or("")));
        let info = EngineInfo::from_ping_headers(pairs).map_err(|e| match e {
            cstream_proto_core::api::version::PingError::TooOld(found) => {
                Error::Run(cstream_proto_core::Error::UnsupportedEngine { found })
            }
            cstream_proto_core::api::version::PingError::NoVersion(v) => Error::Protocol {
                endpoint: self.endpoint().to_string(),
                detail: format!(
                    "the ping answer has no usable Api-Version header ({v:?}): is this a container engine?"
                ),
            },
        })?;
        let _ = self.inner.info.set(info.clone());
        Ok(info)
    }

    /// The engine's versions.
    pub async fn version(&self) -> Result<Version, Error> {
        let info = match self.info() {
            Some(i) => i.clone(),
            None => self.ping().await?,
        };
        let (status, _, body) = self.call_inner(requests::version(info.api)).await?;
        if status != 200 {
            return Err(self.engine_error("GET /version", status, &body));
        }
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| Error::Protocol { endpoint: self.endpoint().to_string(), detail: format!("version: {e}") })?;
        let s = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
        Ok(Version {
            info,
            version: s("Version"),
            api_version: s("ApiVersion"),
            min_api_version: s("MinAPIVersion"),
            platform: format!("{}/{}", s("Os"), s("Arch")),
        })
    }

    /// How many CPUs the engine's host has (`GET /info`, asked once).
    pub async fn host_cpus(&self) -> Result<u64, Error> {
        if let Some(n) = self.inner.host_cpus.get() {
            return Ok(*n);
        }
        let api = self.info().map_or(ApiVersion::OURS, |i| i.api);
        let (status, _, body) = self.call_inner(requests::info(api)).await?;
        if status != 200 {
            return Err(self.engine_error("GET /info", status, &body));
        }
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| Error::Protocol { endpoint: self.endpoint().to_string(), detail: format!("info: {e}") })?;
        let n = v
            .get("NCPU")
            .and_then(|n| n.as_u64())
            .ok_or_else(|| Error::Protocol { endpoint: self.endpoint().to_string(), detail: "info: no NCPU".into() })?;
        let _ = self.inner.host_cpus.set(n);
        Ok(n)
    }

    /// Containers (running or not) carrying every label given (`key` or `key=value`).
    pub async fn containers_labelled(&self, labels: &[&str]) -> Result<Vec<Listed>, Error> {
        let api = self.info().map_or(ApiVersion::OURS, |i| i.api);
        let (status, _, body) = self.call_inner(requests::list_labelled(api, labels)).await?;
        if status != 200 {
            return Err(self.engine_error("GET /containers/json", status, &body));
        }
        Listed::parse_list(&body).map_err(|e| Error::Protocol { endpoint: self.endpoint().to_string(), detail: e.0 })
    }

    /// Removes a container by force, with its anonymous volumes. A container
    /// that is already gone is not an error.
    pub async fn remove_container(&self, id: &str) -> Result<(), Error> {
        let api = self.info().map_or(ApiVersion::OURS, |i| i.api);
        let (status, _, body) = self.call_inner(requests::remove(api, id)).await?;
        match status {
            200..=299 | 404 | 409 => Ok(()),
            _ => Err(self.engine_error("DELETE /containers", status, &body)),
        }
    }

    /// Removes the containers cstream created (labelled `io.cstream.run`)
    /// that are at least `older_than` old, such as those a killed process
    /// left behind. Containers without cstream's label are never touched.
    /// Returns the ids removed.
    pub async fn gc(&self, older_than: Duration) -> Result<Vec<String>, Error> {
        let now = unix_now();
        let mut removed = Vec::new();
        for c in self.containers_labelled(&[labels::RUN]).await? {
            let created = c
                .labels
                .as_ref()
                .and_then(|l| l.get(labels::CREATED))
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(u64::try_from(c.created).unwrap_or(0));
            if now.saturating_sub(created) >= older_than.as_secs() {
                self.remove_container(&c.id).await?;
                removed.push(c.id);
            }
        }
        Ok(removed)
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
    pub fn run(&self, spec: RunSpec) -> Run {
        self.run_inner(spec, None)
    }

    /// Like [`run`](Self::run), recording the run's whole exchange with the
    /// engine in `transcript` (for bug reports and replay tests).
    pub fn run_recorded(&self, spec: RunSpec, transcript: Transcript) -> Run {
        self.run_inner(spec, Some(transcript))
    }

    fn run_inner(&self, spec: RunSpec, transcript: Option<Transcript>) -> Run {
        if self.inner.pool.is_local() {
            if let Some(m) = spec.mounts().iter().find(|m| !std::path::Path::new(&m.source).exists()) {
                let why = "does not exist on the engine's host";
                let e = cstream_proto_core::SpecError::Invalid { field: "mount source", value: m.source.clone(), why };
                return Run::failed(Error::Spec(e));
            }
        }
        let run = RunInfo { run_id: new_run_id(), created_unix: unix_now() };
        Run::spawn(self.clone(), spec, run, transcript)
    }

    pub(crate) fn pool(&self) -> Arc<crate::pool::Pool> {
        self.inner.pool.clone()
    }

    fn engine_error(&self, call: &str, status: u16, body: &[u8]) -> Error {
        Error::Engine {
            endpoint: self.endpoint().to_string(),
            call: call.to_string(),
            status,
            message: answers::error_message(body),
        }
    }

    /// One short call, answered in full.
    async fn call_inner(&self, req: Request) -> Result<(u16, http::HeaderMap, Bytes), Error> {
        let pool = &self.inner.pool;
        let unreachable =
            |message: String, source| Error::Unreachable { endpoint: self.endpoint().to_string(), message, source };
        let work = async {
            let mut sender = pool.checkout().await.map_err(|e| match e {
                crate::pool::ConnectError::Io(io) => unreachable(io.to_string(), Some(io)),
                other => unreachable(other.to_string(), None),
            })?;
            let res = sender.send_request(http_request(&req)).await.map_err(|e| unreachable(describe(&e), None))?;
            let (parts, body) = res.into_parts();
            let body = body.collect().await.map_err(|e| unreachable(describe(&e), None))?.to_bytes();
            pool.checkin(sender);
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
