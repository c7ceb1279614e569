//! What the `cstream` binary's tests share: the engines, the test image, a
//! unique label, the engine's own list of what a test left behind, one call
//! to its API, and a terminal (tmux) of a test's own.

#![allow(dead_code)]

/// The image `scripts/engines.sh` imports into every engine.
pub const IMAGE: &str = "cstream-test:latest";

/// Docker 20.10, Docker 26 and Podman, over their Unix sockets.
pub const ENGINES: [&str; 3] =
    ["unix:///var/run/docker.sock", "unix:///run/cstream-docker-current.sock", "unix:///run/podman/podman.sock"];

/// A label no other run carries: `cstream.test=WHAT-PID-NANOS`.
pub fn label(what: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("cstream.test={what}-{}-{nanos}", std::process::id())
}

/// How many containers carry `label` (`key=value`) on `engine`, by the
/// engine's own list; removes them, so that a failing test leaves nothing
/// behind either.
pub fn left_behind(engine: &str, label: &str) -> usize {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let e = cstream_engine::connect(engine, cstream_engine::Remote::Refuse)
            .await
            .unwrap_or_else(|e| panic!("{engine} unreachable ({e}); run scripts/engines.sh"));
        let left = e.containers_labelled(&[label]).await.unwrap();
        for c in &left {
            let _ = e.remove_container(&c.id).await;
        }
        left.len()
    })
}

/// One call to `engine`'s API: its status and body.
pub fn api(engine: &str, method: &str, path: &str) -> (u16, String) {
    use cstream_engine::core::api::{ApiVersion, Method, requests};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let e = cstream_engine::connect(engine, cstream_engine::Remote::Refuse)
            .await
            .unwrap_or_else(|e| panic!("{engine} unreachable ({e}); run scripts/engines.sh"));
        let mut r = requests::inspect(ApiVersion::new(1, 41), "x");
        r.method = match method {
            "GET" => Method::Get,
            "POST" => Method::Post,
            _ => Method::Delete,
        };
        r.path = format!("/v1.41{path}");
        let a = e.call(r).await.unwrap();
        (a.status, String::from_utf8_lossy(&a.body).into_owned())
    })
}

/// `cstream ARGS` (a `run --json`) started, read until its first output: the
/// process, and the id its `container_create` named (a container's, or a
/// swarm job's service's). Its stdout is drained after, so it never blocks.
pub fn started(args: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_cstream"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut id = String::new();
    for line in lines.by_ref() {
        let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if v["type"] == "container_create" {
            id = v["id"].as_str().unwrap().to_string();
        }
        if v["type"] == "output" {
            break;
        }
    }
    assert!(!id.is_empty(), "no container_create before the output");
    std::thread::spawn(move || lines.for_each(drop));
    (child, id)
}

/// Runs tmux with a server of the session's own (socket `NAME.sock` in the
/// temporary directory): no other test's session ending or starting can stop
/// it. Kill it with `tmux(name, &["kill-server"])` and [`tmux_gone`].
pub fn tmux(name: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("tmux")
        .arg("-S")
        .arg(tmux_socket(name))
        .args(args)
        .output()
        .expect("tmux is installed (scripts/test.sh installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn tmux_socket(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{name}.sock"))
}

/// Kills session `name`'s own tmux server and removes its socket.
pub fn tmux_gone(name: &str) {
    tmux(name, &["kill-server"]);
    let _ = std::fs::remove_file(tmux_socket(name));
}
