//! One function per Engine API call the lifecycle makes.
//!
//! Paths carry the negotiated version (`/v1.41/...`), except `/_ping` and
//! `/version`, which every engine answers unversioned.

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt::Write;

use bytes::Bytes;

use super::{ApiVersion, Header, Method, Request, RequestKind};
use crate::event::TtySize;
use crate::spec::Secret;

fn request(method: Method, path: String, kind: RequestKind) -> Request {
    Request { method, path, headers: Vec::new(), body: Bytes::new(), kind }
}

fn header(name: &'static str, value: impl Into<String>) -> Header {
    Header { name: name.into(), value: value.into(), sensitive: false }
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved set).
pub fn encode_query(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Percent-encodes a path segment such as a container id or name.
fn segment(value: &str) -> String {
    encode_query(value)
}

/// `GET /_ping`: is the engine there, which API version, Docker or Podman.
pub fn ping() -> Request {
    request(Method::Get, "/_ping".to_string(), RequestKind::Unary)
}

/// `GET /version`, unversioned like `/_ping`, so that it is answered
/// whatever versions the engine takes: its own version and API range.
pub fn version() -> Request {
    request(Method::Get, "/version".to_string(), RequestKind::Unary)
}

/// `GET /info`: the engine host's CPUs, memory, default log driver.
pub fn info(v: ApiVersion) -> Request {
    request(Method::Get, alloc::format!("/v{v}/info"), RequestKind::Unary)
}

/// `POST /containers/create` with a JSON body (see [`super::create`]).
pub fn create(v: ApiVersion, name: Option<&str>, body: Bytes) -> Request {
    let mut path = alloc::format!("/v{v}/containers/create");
    if let Some(n) = name {
        let _ = write!(path, "?name={}", encode_query(n));
    }
    let mut r = request(Method::Post, path, RequestKind::Unary);
    r.headers.push(header("Content-Type", "application/json"));
    r.body = body;
    r
}

/// The request with `platform=..` added to its query: the create's (API
/// 1.41 on) and the pull's, for a spec that names a platform.
pub fn with_platform(mut r: Request, platform: Option<&str>) -> Request {
    if let Some(p) = platform {
        let sep = if r.path.contains('?') { '&' } else { '?' };
        let _ = write!(r.path, "{sep}platform={}", encode_query(p));
    }
    r
}

/// `POST /images/create?fromImage=..&tag=..`: pull, with newline-delimited
/// JSON progress as the body. `tag` is always sent.
pub fn pull(v: ApiVersion, from_image: &str, tag: &str, auth: Option<&Secret>) -> Request {
    let path = alloc::format!("/v{v}/images/create?fromImage={}&tag={}", encode_query(from_image), encode_query(tag));
    let mut r = request(Method::Post, path, RequestKind::Streaming);
    if let Some(a) = auth {
        r.headers.push(Header { name: "X-Registry-Auth".into(), value: a.expose().to_string(), sensitive: true });
    }
    r
}

/// `POST /containers/{id}/attach` with an HTTP upgrade, before start, so no
/// output is missed.
pub fn attach(v: ApiVersion, id: &str, stdin: bool) -> Request {
    let path =
        alloc::format!("/v{v}/containers/{}/attach?stream=1&stdin={}&stdout=1&stderr=1", segment(id), u8::from(stdin));
    let mut r = request(Method::Post, path, RequestKind::Upgrade);
    r.headers = vec![header("Connection", "Upgrade"), header("Upgrade", "tcp")];
    r
}

/// `POST /containers/{id}/wait?condition=next-exit`, registered before start;
/// its body arrives when the container exits.
pub fn wait(v: ApiVersion, id: &str) -> Request {
    let path = alloc::format!("/v{v}/containers/{}/wait?condition=next-exit", segment(id));
    request(Method::Post, path, RequestKind::Streaming)
}

/// `POST /containers/{id}/wait?condition=not-running`: after start, when a
/// wait answered while the container still ran; answers at once if it has
/// exited since.
pub fn wait_not_running(v: ApiVersion, id: &str) -> Request {
    let path = alloc::format!("/v{v}/containers/{}/wait?condition=not-running", segment(id));
    request(Method::Post, path, RequestKind::Streaming)
}

/// `POST /containers/{id}/start`: 204 once the process runs, 304 if it was
/// started already. A command that cannot run is refused here with the runtime's
/// message, from which [`start_failure_exit_code`](super::answers::start_failure_exit_code)
/// reads 126 or 127.
pub fn start(v: ApiVersion, id: &str) -> Request {
    request(Method::Post, alloc::format!("/v{v}/containers/{}/start", segment(id)), RequestKind::Unary)
}

/// `POST /containers/{id}/kill?signal=..`, `signal` named as the engines take
/// it (`SIGTERM`, `SIGRTMIN+3`): the spec's stop signal, or `SIGKILL`.
pub fn kill(v: ApiVersion, id: &str, signal: &str) -> Request {
    let path = alloc::format!("/v{v}/containers/{}/kill?signal={}", segment(id), encode_query(signal));
    request(Method::Post, path, RequestKind::Unary)
}

/// `POST /containers/{id}/stop?t=..`: the engine's own stop signal, grace, kill.
pub fn stop(v: ApiVersion, id: &str, grace_secs: u64) -> Request {
    let path = alloc::format!("/v{v}/containers/{}/stop?t={grace_secs}", segment(id));
    request(Method::Post, path, RequestKind::Unary)
}

/// `GET /containers/{id}/json`: state, exit code, OOM flag.
pub fn inspect(v: ApiVersion, id: &str) -> Request {
    request(Method::Get, alloc::format!("/v{v}/containers/{}/json", segment(id)), RequestKind::Unary)
}

/// `POST /containers/{id}/resize?h=..&w=..`: `h` is rows, `w` columns.
/// Docker 20.10 refuses it before start (409); Podman takes it then, and may
/// answer before the process sees the new size.
pub fn resize(v: ApiVersion, id: &str, size: TtySize) -> Request {
    let path = alloc::format!("/v{v}/containers/{}/resize?h={}&w={}", segment(id), size.rows, size.cols);
    request(Method::Post, path, RequestKind::Unary)
}

/// `DELETE /containers/{id}?force=1&v=1`: kill if running, remove with its
/// anonymous volumes.
pub fn remove(v: ApiVersion, id: &str) -> Request {
    request(Method::Delete, alloc::format!("/v{v}/containers/{}?force=1&v=1", segment(id)), RequestKind::Unary)
}

/// `GET /services?filters={"label":[..]}`: a swarm manager's services
/// carrying every given label. An engine not managing a swarm answers 503.
pub fn list_services_labelled(v: ApiVersion, labels: &[&str]) -> Request {
    let filters = serde_json::json!({ "label": labels });
    let path = alloc::format!("/v{v}/services?filters={}", encode_query(&filters.to_string()));
    request(Method::Get, path, RequestKind::Unary)
}

/// `DELETE /services/{id}`: the swarm stops the service's task (its stop
/// signal, grace, then a kill) and removes its container.
pub fn remove_service(v: ApiVersion, id: &str) -> Request {
    request(Method::Delete, alloc::format!("/v{v}/services/{}", segment(id)), RequestKind::Unary)
}

/// `GET /containers/json?all=1&filters={"label":[..]}`: containers carrying
/// every given label (`key` or `key=value`).
pub fn list_labelled(v: ApiVersion, labels: &[&str]) -> Request {
    let filters = serde_json::json!({ "label": labels });
    let path = alloc::format!("/v{v}/containers/json?all=1&filters={}", encode_query(&filters.to_string()));
    request(Method::Get, path, RequestKind::Unary)
}

/// `GET /containers/{id}/logs?stdout=1&stderr=1`: what the container's
/// process wrote, as the engine kept it, to its end (no follow).
pub fn logs(v: ApiVersion, id: &str) -> Request {
    request(Method::Get, alloc::format!("/v{v}/containers/{}/logs?stdout=1&stderr=1", segment(id)), RequestKind::Unary)
}
