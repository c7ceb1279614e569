//! The swarm tests' helpers: the manager, what the engines hold, a run on
//! the swarm read to its end.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use cstream_engine::core::api::{Header, Method, Request, RequestKind};
use cstream_engine::core::swarm::Placement;
use cstream_engine::{Engine, Error, EventKind, ProcessId, Remote, Stream};
use futures_util::StreamExt;

use super::TEST_IMAGE;

pub const MANAGER: &str = "unix:///run/cstream-swarm/node1.sock";
pub const NODES: [&str; 3] = [
    "unix:///run/cstream-swarm/node1.sock",
    "unix:///run/cstream-swarm/node2.sock",
    "unix:///run/cstream-swarm/node3.sock",
];

pub async fn manager() -> Engine {
    match cstream_engine::connect(MANAGER, Remote::Refuse).await {
        Ok(e) => e,
        Err(e) => panic!("the swarm manager is not reachable at {MANAGER} ({e}); run scripts/swarm.sh up first"),
    }
}

fn request(method: Method, path: &str, body: Vec<u8>) -> Request {
    let headers = vec![Header { name: "Content-Type".into(), value: "application/json".into(), sensitive: false }];
    Request { method, path: path.into(), headers, body: body.into(), kind: RequestKind::Unary }
}

/// `GET path` on `engine`, as JSON.
pub async fn get(engine: &Engine, path: &str) -> serde_json::Value {
    let answer = engine.call(request(Method::Get, path, vec![])).await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(answer.status, 200, "GET {path}: {}", String::from_utf8_lossy(&answer.body));
    serde_json::from_slice(&answer.body).unwrap()
}

/// `POST path` with a JSON body on `engine`: the answer, as JSON.
pub async fn post(engine: &Engine, path: &str, body: serde_json::Value) -> serde_json::Value {
    let answer = engine.call(request(Method::Post, path, body.to_string().into_bytes())).await;
    let answer = answer.unwrap_or_else(|e| panic!("POST {path}: {e}"));
    assert!(answer.status < 300, "POST {path}: {} {}", answer.status, String::from_utf8_lossy(&answer.body));
    serde_json::from_slice(&answer.body).unwrap()
}

/// A service's logs (stdout and stderr, in order), read once to their end.
pub async fn logs_text(engine: &Engine, service: &str) -> String {
    let path = format!("/v1.41/services/{service}/logs?stdout=1&stderr=1");
    let answer = engine.call(request(Method::Get, &path, vec![])).await.unwrap();
    assert_eq!(answer.status, 200, "GET {path}: {}", String::from_utf8_lossy(&answer.body));
    let (mut rest, mut text) = (&answer.body[..], Vec::new());
    while let [_, _, _, _, a, b, c, d, tail @ ..] = rest {
        let (payload, after) = tail.split_at((u32::from_be_bytes([*a, *b, *c, *d]) as usize).min(tail.len()));
        text.extend_from_slice(payload);
        rest = after;
    }
    String::from_utf8_lossy(&text).into_owned()
}

/// `value` as JSON, percent-encoded for a query string.
pub fn query(value: &serde_json::Value) -> String {
    let f = value.to_string();
    f.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

pub fn label_filter(label: &str) -> String {
    query(&serde_json::json!({ "label": [format!("cstream.test={label}")] }))
}

/// No service with the test's label on the manager, and no container with it
/// on any node (the task's containers go away shortly after their service).
pub async fn assert_nothing_left(label: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut left = Vec::new();
        let m = manager().await;
        let services = get(&m, &format!("/v1.41/services?filters={}", label_filter(label))).await;
        left.extend(services.as_array().unwrap().iter().map(|s| format!("service {}", s["ID"])));
        for node in NODES {
            let e = cstream_engine::connect(node, Remote::Refuse).await.unwrap();
            let cs = get(&e, &format!("/v1.41/containers/json?all=1&filters={}", label_filter(label))).await;
            left.extend(cs.as_array().unwrap().iter().map(|c| format!("container {} on {node}", c["Id"])));
        }
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "left behind after 30 s: {left:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// What a swarm run did.
#[derive(Debug, Default)]
pub struct Seen {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub names: Vec<&'static str>,
    pub errors: Vec<Error>,
    pub end: Option<cstream_engine::ProcessEnd>,
    /// From `ProcessStart`: service, task, node.
    pub placed: Option<(String, String, String)>,
}

pub async fn run_on_swarm(
    spec: cstream_engine::RunSpec,
    placement: Placement,
    mut on_start: impl FnMut(&cstream_engine::RunHandle),
) -> Seen {
    let engine = manager().await;
    let mut run = engine.run_on_swarm(spec, placement);
    let mut seen = Seen::default();
    let all = async {
        while let Some(item) = run.next().await {
            match item {
                Ok(e) => {
                    if seen.names.last() != Some(&"Output") || e.kind.name() != "Output" {
                        seen.names.push(e.kind.name());
                    }
                    match e.kind {
                        EventKind::Output { stream: Stream::Stdout, data } => seen.stdout.extend_from_slice(&data),
                        EventKind::Output { data, .. } => seen.stderr.extend_from_slice(&data),
                        EventKind::ProcessStart { process: ProcessId::Task { service, task, node, .. }, .. } => {
                            seen.placed = Some((service, task, node));
                            on_start(&run.handle());
                        }
                        EventKind::ProcessEnd(end) => seen.end = Some(end),
                        _ => {}
                    }
                }
                Err(e) => seen.errors.push(e),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(120), all).await.expect("the swarm run ends within two minutes");
    seen
}

pub fn job(label: &str) -> cstream_engine::core::spec::RunSpecBuilder {
    cstream_engine::RunSpec::builder(TEST_IMAGE)
        .pull(cstream_engine::PullPolicy::Never)
        .heartbeat(None)
        .label("cstream.test", label)
}

/// The node ids of the swarm's workers.
pub async fn workers() -> BTreeSet<String> {
    let nodes = get(&manager().await, "/v1.41/nodes").await;
    let workers = nodes.as_array().unwrap().iter().filter(|n| n["Spec"]["Role"] == "worker");
    workers.map(|n| n["ID"].as_str().unwrap().to_string()).collect()
}
