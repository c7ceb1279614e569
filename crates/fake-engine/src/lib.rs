//! An engine that answers as Docker 29.0 does, for the API-version
//! behaviour that no real engine here can show: Docker 29 does not run on
//! these machines (the real Docker 20.10, Docker 26 and Podman are tested
//! elsewhere, against real sockets).
//!
//! Docker 29.0 speaks API 1.44 to 1.52. It says `Api-Version: 1.52` on every
//! answer, serves unversioned paths (`/_ping`, `/version`, `/info`) at 1.52,
//! and refuses every `/vX.Y/...` path outside its range with a 400 in its own
//! words. This fake does the same, over HTTP/1.1 keep-alive on a Unix socket,
//! one task per connection, and models what a full run needs: ping, version,
//! info, image pull (Docker's progress lines), and one container lifecycle
//! per create (attach with the upgrade, wait, start, kill, resize, inspect,
//! remove, list by label). Every request line is recorded for the tests.
//!
//! A container's process is no shell: it plays a [`Script`] (bytes to stdout
//! and stderr, an exit code, or running until killed, or echoing its stdin).
//! With a TTY its output is raw, with `\n` turned into `\r\n` as a terminal
//! does. Left out: registries (every pull succeeds), restarts (a process runs
//! once), more than one attach per container, names in use, and TCP.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

/// The oldest API version Docker 29 takes (`MinAPIVersion`).
pub const MIN_API: (u16, u16) = (1, 44);
/// The newest API version Docker 29 speaks (`ApiVersion`).
pub const MAX_API: (u16, u16) = (1, 52);
/// The image every fake engine has from the start.
pub const PRELOADED: &str = "fake:latest";

/// The head of a streamed JSON answer.
const CHUNKED_JSON: &str = "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n";
/// Headers Docker 29 puts on every answer.
const HEADERS: &str =
    "Api-Version: 1.52\r\nDocker-Experimental: false\r\nOstype: linux\r\nServer: Docker/29.0.0 (linux)\r\n";

/// What a container's process does once started: writes `stdout`, then
/// `stderr`, then echoes its stdin to stdout until it ends (if
/// `echo_stdin`), then runs until killed (if `until_killed`) or exits with
/// `exit_code`. A kill ends it with 128 + the signal's number.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Script {
    /// Written to stdout first.
    pub stdout: Vec<u8>,
    /// Then written to stderr.
    pub stderr: Vec<u8>,
    /// The exit code, unless killed.
    pub exit_code: i64,
    /// Runs until killed (or removed by force).
    pub until_killed: bool,
    /// Echoes stdin to stdout until stdin ends (needs an attach with `stdin=1`).
    pub echo_stdin: bool,
    /// Written to the attach stream as they are, unframed, after `stderr`: for frames
    /// no engine should send (an unknown stream byte, a cut header).
    pub raw: Vec<u8>,
}

impl Script {
    /// Writes `stdout`, then `stderr`, and exits with `exit_code`.
    pub fn new(stdout: impl Into<Vec<u8>>, stderr: impl Into<Vec<u8>>, exit_code: i64) -> Script {
        Script { stdout: stdout.into(), stderr: stderr.into(), exit_code, ..Script::default() }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Created,
    Running,
    Exited(i64),
}

type ChunkTx = mpsc::UnboundedSender<Vec<u8>>;
type ChunkRx = mpsc::UnboundedReceiver<Vec<u8>>;

struct Container {
    id: String,
    name: String,
    image: String,
    body: Value,
    created: u64,
    script: Script,
    status: watch::Sender<Status>,
    /// The process's output: the writing end for start, the reading end for the attach.
    output: (Option<ChunkTx>, Option<ChunkRx>),
    /// Its stdin: the writing end for the attach (when `OpenStdin`), the reading end for start.
    stdin: (Option<ChunkTx>, Option<ChunkRx>),
}

impl Container {
    fn status(&self) -> Status {
        *self.status.borrow()
    }

    fn is(&self, key: &str) -> bool {
        self.id == key || self.name == key || (key.len() >= 12 && self.id.starts_with(key))
    }

    /// Starts the process if it was never started; the status it had.
    fn start(&mut self, shared: &Shared) -> Status {
        let was = self.status();
        if let (Status::Created, Some(out), Some(stdin)) = (was, self.output.0.take(), self.stdin.1.take()) {
            self.status.send_replace(Status::Running);
            let (id, tty, status) = (self.id.clone(), self.body["Tty"] == true, self.status.subscribe());
            tokio::spawn(process(shared.clone(), id, self.script.clone(), tty, out, stdin, status));
        }
        was
    }

    fn inspect(&mut self) -> Value {
        let (running, code) = match self.status() {
            Status::Exited(n) => (false, n),
            s => (s == Status::Running, 0),
        };
        let state = json!({ "Status": self.state_name(), "Running": running, "Paused": false, "Restarting": false,
            "OOMKilled": false, "Dead": false, "Pid": if running { 4242 } else { 0 }, "ExitCode": code, "Error": "" });
        json!({ "Id": self.id, "Name": format!("/{}", self.name), "Image": self.image, "State": state, "Config": self.body })
    }

    fn state_name(&self) -> &'static str {
        match self.status() {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited(_) => "exited",
        }
    }
}

#[derive(Default)]
struct State {
    requests: Vec<String>,
    images: BTreeSet<String>,
    containers: Vec<Container>,
    create_bodies: Vec<Value>,
    resizes: Vec<(u16, u16)>,
    script: Script,
    scripts: BTreeMap<String, Script>,
}

type Shared = Arc<Mutex<State>>;

fn lock(s: &Shared) -> MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

impl State {
    fn find(&mut self, key: &str) -> Option<&mut Container> {
        self.containers.iter_mut().find(|c| c.is(key))
    }

    /// The process ends with `code`, if it runs.
    fn end(&mut self, key: &str, code: i64) {
        if let Some(c) = self.find(key).filter(|c| c.status() == Status::Running) {
            c.status.send_replace(Status::Exited(code));
        }
    }

    /// Answers a request that is neither streamed nor upgraded.
    fn answer(&mut self, method: &str, route: &[&str], query: &str, body: &[u8], shared: &Shared) -> (u16, Value) {
        let flag = |k| param(query, k).is_some_and(|v| v == "1" || v == "true");
        let (id, status) = match route {
            ["containers", id, ..] => (*id, self.find(id).map(|c| c.status())),
            _ => ("", None),
        };
        match (method, route) {
            ("GET", ["version"]) => (200, version()),
            ("GET", ["info"]) => {
                let running = self.containers.iter().filter(|c| c.status() == Status::Running).count();
                let info = json!({ "ID": "fake-docker29", "Name": "fake", "ServerVersion": "29.0.0",
                    "Containers": self.containers.len(), "ContainersRunning": running, "Images": self.images.len(),
                    "NCPU": 2, "MemTotal": 4_294_967_296_u64, "LoggingDriver": "json-file", "CgroupDriver": "systemd",
                    "CgroupVersion": "2", "Driver": "overlayfs", "OSType": "linux", "Architecture": "x86_64" });
                (200, info)
            }
            ("POST", ["containers", "create"]) => self.create(serde_json::from_slice(body).unwrap_or_default(), query),
            ("GET", ["containers", "json"]) => (200, self.list(flag("all"), query)),
            (_, ["containers", _, ..]) if status.is_none() => no_such(id),
            ("POST", ["containers", _, "start"]) => match self.find(id).map(|c| c.start(shared)) {
                Some(Status::Created) => (204, Value::Null),
                Some(Status::Running) => (304, Value::Null),
                _ => (500, message("the fake engine runs a container's process once")),
            },
            ("POST", ["containers", _, "kill"]) => {
                let signal = param(query, "signal").unwrap_or_else(|| "SIGKILL".into());
                match (killed_by(&signal), status) {
                    (None, _) => (400, message(&format!("Invalid signal: {signal}"))),
                    (Some(code), Some(Status::Running)) => {
                        self.end(id, code);
                        (204, Value::Null)
                    }
                    _ => (409, message(&format!("cannot kill container: {id}: container {id} is not running"))),
                }
            }
            ("POST", ["containers", _, "resize"]) if status == Some(Status::Running) => {
                let size = |k| param(query, k).and_then(|v| v.parse::<u16>().ok()).unwrap_or(0);
                self.resizes.push((size("h"), size("w")));
                (200, Value::Null)
            }
            ("POST", ["containers", _, "resize"]) => (409, message(&format!("Container {id} is not running"))),
            ("GET", ["containers", _, "json"]) => (200, self.find(id).map(Container::inspect).unwrap_or_default()),
            ("DELETE", ["containers", _]) if status == Some(Status::Running) && !flag("force") => {
                let why = "container is running: stop the container before removing or force remove";
                (409, message(&format!("cannot remove container \"/{id}\": {why}")))
            }
            ("DELETE", ["containers", _]) => {
                self.end(id, 137);
                self.containers.retain(|c| !c.is(id));
                (204, Value::Null)
            }
            _ => (404, message("page not found")),
        }
    }

    fn create(&mut self, body: Value, query: &str) -> (u16, Value) {
        self.create_bodies.push(body.clone());
        let image = normalize(body["Image"].as_str().unwrap_or_default());
        if !self.images.contains(&image) {
            return (404, message(&format!("No such image: {image}")));
        }
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let id = hex64(nanos ^ (u64::from(std::process::id()) << 32) ^ self.create_bodies.len() as u64);
        let name = param(query, "name").unwrap_or_else(|| format!("fake_{}", &id[..8]));
        let script = self.scripts.get(&image).unwrap_or(&self.script).clone();
        let (out_tx, out_rx) = mpsc::unbounded_channel();
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        let stdin = (Some(in_tx).filter(|_| body["OpenStdin"] == true), Some(in_rx));
        let (status, _) = watch::channel(Status::Created);
        let answer = json!({ "Id": id, "Warnings": [] });
        let (output, created) = ((Some(out_tx), Some(out_rx)), nanos / 1_000_000_000);
        self.containers.push(Container { id, name, image, body, created, script, status, output, stdin });
        (201, answer)
    }

    fn list(&self, all: bool, query: &str) -> Value {
        let filters: Value = param(query, "filters").and_then(|f| serde_json::from_str(&f).ok()).unwrap_or_default();
        let wanted: Vec<String> = match &filters["label"] {
            Value::Array(a) => a.iter().filter_map(|l| l.as_str().map(String::from)).collect(),
            Value::Object(o) => o.keys().cloned().collect(),
            _ => Vec::new(),
        };
        let has = |labels: &Value, w: &String| match w.split_once('=') {
            Some((k, v)) => labels[k] == v,
            None => labels.get(w).is_some(),
        };
        let listed = self.containers.iter().filter(|c| all || c.status() == Status::Running);
        let listed = listed.filter(|c| wanted.iter().all(|w| has(&c.body["Labels"], w)));
        listed
            .map(|c| {
                let status = match c.status() {
                    Status::Created => "Created".to_string(),
                    Status::Running => "Up Less than a second".to_string(),
                    Status::Exited(n) => format!("Exited ({n}) Less than a second ago"),
                };
                json!({ "Id": c.id, "Names": [format!("/{}", c.name)], "Image": c.image, "Created": c.created,
                    "State": c.state_name(), "Status": status, "Labels": c.body.get("Labels").cloned().unwrap_or(json!({})) })
            })
            .collect()
    }
}

fn version() -> Value {
    json!({ "Platform": { "Name": "Docker Engine - Community" }, "Version": "29.0.0", "ApiVersion": "1.52",
        "MinAPIVersion": "1.44", "GitCommit": "fake", "GoVersion": "go1.25.3", "Os": "linux", "Arch": "amd64",
        "KernelVersion": "6.1.0", "BuildTime": "2025-11-10T00:00:00.000000000+00:00" })
}

async fn process(
    shared: Shared,
    id: String,
    script: Script,
    tty: bool,
    out: ChunkTx,
    mut stdin: ChunkRx,
    mut status: watch::Receiver<Status>,
) {
    let chunk = |stream: u8, data: &[u8]| match tty {
        true => String::from_utf8_lossy(data).replace('\n', "\r\n").into_bytes(),
        false => [&[stream, 0, 0, 0][..], &(data.len() as u32).to_be_bytes(), data].concat(),
    };
    for (stream, data) in [(1, &script.stdout), (2, &script.stderr)] {
        if !data.is_empty() {
            let _ = out.send(chunk(stream, data));
        }
    }
    if !script.raw.is_empty() {
        let _ = out.send(script.raw.clone());
    }
    let runs = async {
        while let Some(data) = if script.echo_stdin { stdin.recv().await } else { None } {
            let _ = out.send(chunk(1, &data));
        }
        if script.until_killed {
            std::future::pending::<()>().await;
        }
    };
    let killed = async {
        let _ = status.wait_for(|s| matches!(s, Status::Exited(_))).await;
    };
    let exited_by_itself = tokio::select! {
        () = runs => true,
        () = killed => false,
    };
    drop(out); // the attach stream ends
    if exited_by_itself {
        lock(&shared).end(&id, script.exit_code);
    }
}

/// A fake Docker 29 engine, serving until dropped.
pub struct FakeDocker29 {
    state: Shared,
    endpoint: String,
    socket: Option<PathBuf>,
    accept: tokio::task::AbortHandle,
    /// For [`FakeDocker29::spawn_in_thread`]: dropped, it ends the thread's runtime.
    _thread: Option<oneshot::Sender<()>>,
}

impl FakeDocker29 {
    /// Serves on a new socket in the temporary directory, on the current Tokio runtime.
    pub async fn start() -> FakeDocker29 {
        static N: AtomicU64 = AtomicU64::new(0);
        let name = format!("cstream-docker29-{}-{}.sock", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        FakeDocker29::start_unix(std::env::temp_dir().join(name)).await
    }

    /// Serves on a Unix socket at `path` (replacing a file there).
    pub async fn start_unix(path: impl AsRef<Path>) -> FakeDocker29 {
        let path = path.as_ref().to_path_buf();
        let _ = std::fs::remove_file(&path);
        let listener = tokio::net::UnixListener::bind(&path).unwrap_or_else(|e| panic!("bind {}: {e}", path.display()));
        let state = new_state();
        let s = state.clone();
        let accept = tokio::spawn(async move {
            while let Ok((io, _)) = listener.accept().await {
                tokio::spawn(serve(io, s.clone()));
            }
        });
        let endpoint = format!("unix://{}", path.display());
        FakeDocker29 { state, endpoint, socket: Some(path), accept: accept.abort_handle(), _thread: None }
    }

    /// Serves on a new socket from a thread with its own Tokio runtime, for
    /// tests that are not async (the engine stops when this is dropped).
    pub fn spawn_in_thread() -> FakeDocker29 {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a Tokio runtime");
            rt.block_on(async move {
                let (stop, stopped) = oneshot::channel();
                let mut fake = FakeDocker29::start().await;
                fake._thread = Some(stop);
                let _ = tx.send(fake);
                let _ = stopped.await;
            });
        });
        rx.recv().expect("the fake engine's thread started it")
    }

    /// Where it serves: `unix:///...`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Every request line so far, as `METHOD /path?query`.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state).requests.clone()
    }

    /// How many containers exist (created and not removed).
    pub fn containers(&self) -> usize {
        lock(&self.state).containers.len()
    }

    /// The body of every `POST /containers/create` that reached the engine.
    pub fn create_bodies(&self) -> Vec<Value> {
        lock(&self.state).create_bodies.clone()
    }

    /// Every accepted resize, as `(h, w)`: rows, columns.
    pub fn resizes(&self) -> Vec<(u16, u16)> {
        lock(&self.state).resizes.clone()
    }

    /// The script of the containers created from now on (unless their image has its own).
    pub fn set_script(&self, script: Script) {
        lock(&self.state).script = script;
    }

    /// The script of the containers created from now on from `image` (such as `fake:latest`).
    pub fn set_image_script(&self, image: &str, script: Script) {
        lock(&self.state).scripts.insert(normalize(image), script);
    }

    /// Makes `image` present, as if pulled.
    pub fn add_image(&self, image: &str) {
        lock(&self.state).images.insert(normalize(image));
    }
}

impl Drop for FakeDocker29 {
    fn drop(&mut self) {
        self.accept.abort();
        if let Some(p) = &self.socket {
            let _ = std::fs::remove_file(p);
        }
    }
}

fn new_state() -> Shared {
    let state = State { images: [PRELOADED.to_string()].into(), ..State::default() };
    Arc::new(Mutex::new(state))
}

/// `alpine` → `alpine:latest`; `docker.io/library/x:1` → `x:1`.
fn normalize(image: &str) -> String {
    let image = image.strip_prefix("docker.io/").unwrap_or(image);
    let image = image.strip_prefix("library/").unwrap_or(image);
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.contains(':') || image.contains('@') {
        true => image.to_string(),
        false => format!("{image}:latest"),
    }
}

fn message(m: &str) -> Value {
    json!({ "message": m })
}

fn no_such(key: &str) -> (u16, Value) {
    (404, message(&format!("No such container: {key}")))
}

/// 64 hex digits, as Docker's ids and digests.
fn hex64(seed: u64) -> String {
    let mut x = seed;
    (0..4)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let z = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            format!("{:016x}", z ^ (z >> 31))
        })
        .collect()
}

/// A query parameter, percent-decoded.
fn param(query: &str, key: &str) -> Option<String> {
    let raw = query.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))?;
    let (b, mut out, mut i) = (raw.as_bytes(), Vec::new(), 0);
    while i < b.len() {
        let hex = b.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (b[i], hex) {
            (b'%', Some(h)) => (out.push(h), i += 3),
            (b'+', _) => (out.push(b' '), i += 1),
            (c, _) => (out.push(c), i += 1),
        };
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// The exit code of a process killed by `signal` (`SIGKILL`, `KILL`, `9`), if it is one.
fn killed_by(signal: &str) -> Option<i64> {
    let names = [
        "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV", "USR2", "PIPE", "ALRM",
        "TERM",
    ];
    let name = signal.strip_prefix("SIG").unwrap_or(signal);
    let n = names.iter().position(|n| *n == name).map(|i| i as i64 + 1).or_else(|| name.parse().ok());
    n.filter(|n| (1..=64).contains(n)).map(|n| 128 + n)
}

struct Conn<S> {
    io: S,
    buf: Vec<u8>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 8192];
        match self.io.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// The next request: method, path with query, body.
    async fn request(&mut self) -> Option<(String, String, Vec<u8>)> {
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            if !self.fill().await {
                return None;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        let length = head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length").then(|| v.trim().parse().unwrap_or(0))
        });
        let end_of_body = end + length.unwrap_or(0);
        while self.buf.len() < end_of_body {
            if !self.fill().await {
                return None;
            }
        }
        let body = self.buf.drain(..end_of_body).skip(end).collect();
        let mut words = head.split_whitespace();
        Some((words.next()?.to_string(), words.next()?.to_string(), body))
    }

    async fn write(&mut self, status: u16, headers: &str, body: &[u8]) {
        let reason = match status {
            200 => "OK",
            201 => "Created",
            204 => "No Content",
            304 => "Not Modified",
            400 => "Bad Request",
            404 => "Not Found",
            409 => "Conflict",
            _ => "Internal Server Error",
        };
        let length = match status {
            204 | 304 => String::new(),
            _ if headers.contains("chunked") => String::new(),
            _ => format!("Content-Length: {}\r\n", body.len()),
        };
        let head = format!("HTTP/1.1 {status} {reason}\r\n{HEADERS}{headers}{length}\r\n");
        let _ = self.io.write_all(&[head.as_bytes(), body].concat()).await;
    }

    /// A JSON answer as Docker writes it (with a newline); none for `Value::Null`.
    async fn json(&mut self, (status, body): (u16, Value)) {
        match body {
            Value::Null => self.write(status, "", b"").await,
            v => self.write(status, "Content-Type: application/json\r\n", format!("{v}\n").as_bytes()).await,
        }
    }

    async fn chunk(&mut self, data: &str) {
        let _ = self.io.write_all(format!("{:x}\r\n{data}\r\n", data.len()).as_bytes()).await;
    }
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(io: S, state: Shared) {
    let mut conn = Conn { io, buf: Vec::new() };
    while let Some((method, target, body)) = conn.request().await {
        lock(&state).requests.push(format!("{method} {target}"));
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let (route, refusal) = match path.strip_prefix("/v").and_then(|p| p.split_once('/')) {
            Some((v, rest)) if v.bytes().all(|b| b.is_ascii_digit() || b == b'.') => (rest, refused(v)),
            _ => (path.trim_start_matches('/'), None),
        };
        if let Some(r) = refusal {
            conn.json(r).await;
            continue;
        }
        let segments: Vec<&str> = route.split('/').collect();
        match (method.as_str(), segments.as_slice()) {
            ("GET" | "HEAD", ["_ping"]) => {
                let h = "Builder-Version: 2\r\nCache-Control: no-cache, no-store, must-revalidate\r\n\
                    Content-Type: text/plain; charset=utf-8\r\nPragma: no-cache\r\n";
                conn.write(200, h, if method == "HEAD" { b"" } else { b"OK" }).await;
            }
            ("POST", ["images", "create"]) => {
                let from = param(query, "fromImage").unwrap_or_default();
                let tag = param(query, "tag").filter(|t| !t.is_empty()).unwrap_or_else(|| "latest".into());
                let image = normalize(&format!("{from}:{tag}"));
                let repo = if from.contains('/') { from.clone() } else { format!("library/{from}") };
                let layer = "4abcf2066143";
                let lines = [
                    json!({ "status": format!("Pulling from {repo}"), "id": tag }),
                    json!({ "status": "Pulling fs layer", "progressDetail": {}, "id": layer }),
                    json!({ "status": "Downloading", "progressDetail": { "current": 10, "total": 20 }, "id": layer }),
                    json!({ "status": "Download complete", "progressDetail": {}, "id": layer }),
                    json!({ "status": "Pull complete", "progressDetail": {}, "id": layer }),
                    json!({ "status": format!("Digest: sha256:{}", hex64(image.len() as u64)) }),
                    json!({ "status": format!("Status: Downloaded newer image for {image}") }),
                ];
                conn.write(200, CHUNKED_JSON, b"").await;
                lock(&state).images.insert(image);
                for l in lines {
                    conn.chunk(&format!("{l}\r\n")).await;
                }
                conn.chunk("").await;
            }
            ("POST", ["containers", id, "attach"]) => {
                let stdin = param(query, "stdin").is_some_and(|v| v == "1" || v == "true");
                let found = lock(&state).find(id).map(|c| (c.output.1.take(), c.stdin.0.take(), c.body["Tty"] == true));
                match found {
                    None => conn.json(no_such(id)).await,
                    Some((None, ..)) => {
                        conn.json((409, message("the fake engine takes one attach per container"))).await
                    }
                    Some((Some(out), tx, tty)) => return attach(conn, out, tx.filter(|_| stdin), tty).await,
                }
            }
            ("POST", ["containers", id, "wait"]) => {
                let status = lock(&state).find(id).map(|c| c.status.subscribe());
                let Some(mut status) = status else {
                    conn.json(no_such(id)).await;
                    continue;
                };
                conn.write(200, CHUNKED_JSON, b"").await;
                let _ = status.wait_for(|s| matches!(s, Status::Exited(_))).await;
                let exit = *status.borrow();
                let answer = match exit {
                    Status::Exited(code) => json!({ "StatusCode": code }),
                    _ => json!({ "StatusCode": -1, "Error": { "Message": "the container was removed" } }),
                };
                conn.chunk(&format!("{answer}\n")).await;
                conn.chunk("").await;
            }
            (method, segments) => {
                let answer = lock(&state).answer(method, segments, query, &body, &state);
                conn.json(answer).await;
            }
        }
    }
}

/// Docker 29's refusal of API version `v`, if it refuses it.
fn refused(v: &str) -> Option<(u16, Value)> {
    let parsed = v.split_once('.').and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)));
    match parsed {
        None => Some((404, message("page not found"))),
        Some(p) if p < MIN_API => Some((
            400,
            message(&format!(
                "client version {v} is too old. Minimum supported API version is 1.44, please upgrade your client to a newer version"
            )),
        )),
        Some(p) if p > MAX_API => {
            Some((400, message(&format!("client version {v} is too new. Maximum supported API version is 1.52"))))
        }
        Some(_) => None,
    }
}

/// The attach after its upgrade: the process's output out, stdin in.
async fn attach<S: AsyncRead + AsyncWrite + Unpin>(conn: Conn<S>, mut out: ChunkRx, stdin: Option<ChunkTx>, tty: bool) {
    let Conn { io, buf } = conn;
    let (mut rd, mut wr) = tokio::io::split(io);
    let kind = if tty { "raw-stream" } else { "multiplexed-stream" };
    let head = format!(
        "HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.{kind}\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"
    );
    if wr.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let input = async move {
        if let Some(tx) = stdin {
            let mut data = buf;
            loop {
                if !data.is_empty() && tx.send(std::mem::take(&mut data)).is_err() {
                    break;
                }
                let mut chunk = vec![0u8; 16 * 1024];
                match rd.read(&mut chunk).await {
                    Ok(0) | Err(_) => break, // stdin ends for the process
                    Ok(n) => data = chunk[..n].to_vec(),
                }
            }
        }
        std::future::pending::<()>().await
    };
    let output = async move {
        while let Some(data) = out.recv().await {
            if wr.write_all(&data).await.is_err() {
                return;
            }
        }
        let _ = wr.shutdown().await;
    };
    tokio::select! {
        () = input => {}
        () = output => {}
    }
}
