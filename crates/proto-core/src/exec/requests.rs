//! The step's Engine API calls.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use bytes::Bytes;
use serde::Serialize;

use crate::api::requests::encode_query;
use crate::api::{ApiVersion, Header, Method, Request, RequestKind};
use crate::event::TtySize;
use crate::spec::RunSpec;

/// The environment variable that marks a step's processes, so that a stop
/// signals them and nothing else: its value is the step's run id.
pub const STEP_ENV: &str = "CSTREAM_STEP";

/// Signals every process of the container whose environment holds `$2`
/// (`CSTREAM_STEP=<id>`, inherited by the step's children) with `$1`, all
/// with one `kill`, so that none outlives the others by more than a moment.
const SIGNAL_SCRIPT: &str = "n='\n'; p=; for d in /proc/[0-9]*; do \
case \"$n$(tr '\\0' '\\n' < \"$d/environ\" 2>/dev/null)$n\" in *\"$n$2$n\"*) p=\"$p ${d#/proc/}\";; esac; \
done; [ -z \"$p\" ] || kill -s \"$1\" $p 2>/dev/null; exit 0";

fn json(method: Method, path: String, body: &impl Serialize, kind: RequestKind) -> Request {
    let body = Bytes::from(serde_json::to_vec(body).unwrap_or_default());
    let headers = vec![Header { name: "Content-Type".into(), value: "application/json".into(), sensitive: false }];
    Request { method, path, headers, body, kind }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Create<'a> {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    cmd: &'a [String],
    env: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    /// The terminal's rows and columns from the start (API 1.42 and later).
    #[serde(skip_serializing_if = "Option::is_none")]
    console_size: Option<[u16; 2]>,
}

/// Whether the exec create of API `v` takes the terminal's size
/// (`ConsoleSize`, API 1.42 and later).
pub(super) fn sized_at_create(v: ApiVersion) -> bool {
    v >= ApiVersion::new(1, 42)
}

/// `POST /containers/{id}/exec`: the step, marked with [`STEP_ENV`]. With a
/// terminal, its size is part of the create where the engine takes it
/// (API 1.42 and later), so the step sees it from its first instruction;
/// older engines get it by a resize just after the start (and only they:
/// a second resize on another connection could overtake a caller's).
pub(super) fn create(v: ApiVersion, container: &str, spec: &RunSpec, token: &str) -> Request {
    let mut env = spec.env.to_list();
    env.push(alloc::format!("{STEP_ENV}={token}"));
    let body = Create {
        attach_stdin: spec.stdin,
        attach_stdout: true,
        attach_stderr: true,
        tty: spec.tty,
        cmd: spec.command.as_deref().unwrap_or_default(),
        env,
        working_dir: spec.working_dir.as_deref(),
        user: spec.user.as_deref(),
        console_size: spec.tty_size.filter(|_| spec.tty && sized_at_create(v)).map(|s| [s.rows, s.cols]),
    };
    json(Method::Post, alloc::format!("/v{v}/containers/{}/exec", encode_query(container)), &body, RequestKind::Unary)
}

/// `POST /containers/{id}/exec` of the `sh` that signals the step's processes.
pub(super) fn signal(v: ApiVersion, container: &str, spec: &RunSpec, token: &str, signal: &str) -> Request {
    let name = signal.strip_prefix("SIG").unwrap_or(signal);
    let mark = alloc::format!("{STEP_ENV}={token}");
    let cmd = [String::from("sh"), "-c".into(), SIGNAL_SCRIPT.into(), "sh".into(), name.into(), mark];
    let body = Create {
        attach_stdin: false,
        attach_stdout: false,
        attach_stderr: false,
        tty: false,
        cmd: &cmd,
        env: Vec::new(),
        working_dir: None,
        user: spec.user.as_deref(),
        console_size: None,
    };
    json(Method::Post, alloc::format!("/v{v}/containers/{}/exec", encode_query(container)), &body, RequestKind::Unary)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Start {
    detach: bool,
    tty: bool,
}

/// `POST /exec/{id}/start`, upgraded: the step's stdin, stdout and stderr.
pub(super) fn start(v: ApiVersion, exec: &str, tty: bool) -> Request {
    let path = alloc::format!("/v{v}/exec/{}/start", encode_query(exec));
    let mut r = json(Method::Post, path, &Start { detach: false, tty }, RequestKind::Upgrade);
    r.headers.push(Header { name: "Connection".into(), value: "Upgrade".into(), sensitive: false });
    r.headers.push(Header { name: "Upgrade".into(), value: "tcp".into(), sensitive: false });
    r
}

/// `POST /exec/{id}/start`, detached: answers once the exec runs.
pub(super) fn start_detached(v: ApiVersion, exec: &str) -> Request {
    let path = alloc::format!("/v{v}/exec/{}/start", encode_query(exec));
    json(Method::Post, path, &Start { detach: true, tty: false }, RequestKind::Unary)
}

/// `GET /exec/{id}/json`: whether it runs, its exit code.
pub(super) fn inspect(v: ApiVersion, exec: &str) -> Request {
    let path = alloc::format!("/v{v}/exec/{}/json", encode_query(exec));
    Request { method: Method::Get, path, headers: Vec::new(), body: Bytes::new(), kind: RequestKind::Unary }
}

/// `POST /exec/{id}/resize?h=..&w=..`.
pub(super) fn resize(v: ApiVersion, exec: &str, size: TtySize) -> Request {
    let path = alloc::format!("/v{v}/exec/{}/resize?h={}&w={}", encode_query(exec), size.rows, size.cols);
    Request { method: Method::Post, path, headers: Vec::new(), body: Bytes::new(), kind: RequestKind::Unary }
}
