//! `cstream run --swarm` on the real three-node swarm of `scripts/swarm.sh`:
//! the same bytes, exit code and `--json` events as a run on one engine, and
//! `cstream gc` removing the service a killed `cstream` left. A swarm that
//! cannot be reached fails the tests, loudly.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const MANAGER: &str = "unix:///run/cstream-swarm/node1.sock";
const NODES: [&str; 3] = [
    "unix:///run/cstream-swarm/node1.sock",
    "unix:///run/cstream-swarm/node2.sock",
    "unix:///run/cstream-swarm/node3.sock",
];

fn cstream(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cstream")).args(args).stdin(Stdio::null()).output().unwrap()
}

fn filter(label: &str) -> String {
    let f = serde_json::json!({ "label": [label] }).to_string();
    f.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// Services with `label` on the manager, and containers with it on every node.
fn on_the_swarm(label: &str) -> Vec<String> {
    let (status, body) = api(MANAGER, "GET", &format!("/services?filters={}", filter(label)));
    assert_eq!(status, 200, "the swarm manager at {MANAGER} ({body}); run scripts/swarm.sh up");
    let services: serde_json::Value = serde_json::from_str(&body).unwrap();
    let mut left: Vec<String> = services.as_array().unwrap().iter().map(|s| format!("service {}", s["ID"])).collect();
    for node in NODES {
        let (_, body) = api(node, "GET", &format!("/containers/json?all=1&filters={}", filter(label)));
        let cs: serde_json::Value = serde_json::from_str(&body).unwrap();
        left.extend(cs.as_array().unwrap().iter().map(|c| format!("container {} on {node}", c["Id"])));
    }
    left
}

/// Waits (30 s at most) until nothing with `label` is on the swarm.
fn assert_nothing_left(label: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let left = on_the_swarm(label);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn run_on_the_swarm_has_the_bytes_exit_code_and_events_of_a_run() {
    let label = label("cli-swarm");
    let script = "echo out; echo err >&2; exit 3";
    let out =
        cstream(&["run", "-H", MANAGER, "--swarm", "--pull", "never", "--label", &label, IMAGE, "sh", "-c", script]);
    let said = format!("stderr {:?}, {}", String::from_utf8_lossy(&out.stderr), out.status);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n", "{said}");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    assert_eq!(out.status.code(), Some(3));

    let out = cstream(&[
        "run", "-H", MANAGER, "--swarm", "--json", "--pull", "never", "--label", &label, IMAGE, "sh", "-c", script,
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let events: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"container_create"));
    assert_eq!(types.last(), Some(&"container_remove"));
    let start = events.iter().find(|e| e["type"] == "process_start").expect("a process_start");
    for key in ["service_id", "task_id", "node_id"] {
        assert!(start[key].as_str().is_some_and(|v| !v.is_empty()), "{key} in {start}");
    }
    let end = events.iter().find(|e| e["type"] == "process_end").expect("a process_end");
    assert_eq!(end["exit_code"], 3, "{end}");
    assert_nothing_left(&label);
}

#[test]
fn what_a_swarm_cannot_do_is_refused_before_anything_is_made() {
    let label = label("cli-swarm-tty");
    let out = cstream(&["run", "-H", MANAGER, "--swarm", "-t", "--pull", "never", "--label", &label, IMAGE, "true"]);
    assert_eq!(out.status.code(), Some(125));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot be used with a swarm"), "{err}");
    assert_nothing_left(&label);
}

#[test]
fn gc_removes_the_service_a_killed_cstream_left() {
    let label = label("cli-swarm-gc");
    let run = ["run", "-H", MANAGER, "--swarm", "--json", "--pull", "never", "--label", &label, "--stop-timeout", "1"];
    let (mut child, service) = started(&[&run[..], &[IMAGE, "sh", "-c", "echo up; sleep 120"]].concat());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(on_the_swarm(&label).iter().any(|l| l.contains(&service)), "the killed run left its service");

    let out = cstream(&["gc", "-H", MANAGER, "--older-than", "0s"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).lines().any(|l| l == service), "{service} removed");
    assert_nothing_left(&label);
}
