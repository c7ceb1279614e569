//! A swarm node whose dockerd stops mid-run: the manager marks it down after
//! its heartbeat timeout, and the run ends with a clear error in bounded
//! time, its service removed. In a test binary of its own, since it stops a
//! node the other swarm tests place jobs on. Needs `scripts/swarm.sh up`.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use common::swarm::*;
use common::unique_label;
use cstream_engine::Error;
use cstream_engine::core::swarm::Placement;

/// Starts node 3's dockerd again however the test ends.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        let ok = std::process::Command::new("scripts/swarm.sh").current_dir(repo()).arg("start-node").arg("3").status();
        assert!(ok.is_ok_and(|s| s.success()), "scripts/swarm.sh start-node 3 failed");
    }
}

fn repo() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_mid_run_ends_the_run_clearly_in_bounded_time() {
    let label = unique_label("swarm-down");
    let hostname = {
        let nodes = get(&manager().await, "/v1.41/nodes").await;
        let n3 = nodes
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["Description"]["Hostname"].as_str().is_some_and(|h| h.ends_with('3')));
        n3.expect("a node whose hostname ends in 3")["Description"]["Hostname"].as_str().unwrap().to_string()
    };
    let placement = Placement { constraints: vec![format!("node.hostname=={hostname}")] };
    let spec = job(&label).command(["sh", "-c", "echo up; sleep 90"]).build().unwrap();
    let began = Instant::now();
    let mut restart = None;
    let s = run_on_swarm(spec, placement, |_| {
        let stopped =
            std::process::Command::new("scripts/swarm.sh").current_dir(repo()).arg("stop-node").arg("3").status();
        assert!(stopped.is_ok_and(|s| s.success()), "scripts/swarm.sh stop-node 3 failed");
        restart = Some(Restart);
    })
    .await;
    let took = began.elapsed();
    let down = s.errors.iter().any(|e| matches!(e, Error::Run(cstream_engine::core::Error::NodeDown { .. })));
    assert!(down, "{:?}", s.errors);
    assert!(took < Duration::from_secs(60), "the run took {took:?} to end");
    assert_eq!(s.names.last(), Some(&"ContainerRemove"), "{:?}", s.names);
    let services = get(&manager().await, &format!("/v1.41/services?filters={}", label_filter(&label))).await;
    assert_eq!(services.as_array().unwrap().len(), 0, "service left: {services}");
    drop(restart);
    assert_nothing_left(&label).await;
}
