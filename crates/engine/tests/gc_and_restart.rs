//! `gc`, and dockerd killed and restarted mid-run. These act on every
//! cstream container of an engine, or on the engine itself, so they run one
//! at a time, in a test binary of their own (cargo runs binaries one after
//! another).

mod common;

use std::sync::LazyLock;
use std::time::{Duration, Instant};

use common::*;
use cstream_engine::EventKind;
use cstream_engine::core::api::{ApiVersion, requests};
use futures_util::StreamExt;

static ONE_AT_A_TIME: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

/// gc removes cstream's containers older than the age given, and never one
/// without cstream's label.
async fn gc_removes_only_labelled_containers(target: Target) {
    let _one = ONE_AT_A_TIME.lock().await;
    let engine = target.engine().await;
    let label = unique_label("gc");
    // Ours, kept after its run as a killed process would leave it.
    let kept = outcome_kept(&engine, &target, &label).await;
    // Someone else's, made through the raw API, without cstream's labels.
    let body = serde_json::json!({"Image": TEST_IMAGE, "Cmd": ["true"], "Labels": {"cstream.test": label}});
    let answer = engine.call(requests::create(ApiVersion::new(1, 41), None, body.to_string().into())).await.unwrap();
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    let foreign: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    let foreign = foreign["Id"].as_str().unwrap().to_string();

    let removed = engine.gc(Duration::from_secs(3600), false).await.unwrap().removed;
    assert!(!removed.contains(&kept), "a fresh container is not old enough");
    let removed = engine.gc(Duration::ZERO, false).await.unwrap().removed;
    assert!(removed.contains(&kept), "{removed:?}");
    assert!(!removed.contains(&foreign), "a container without cstream's label was removed");
    let left: Vec<String> = engine
        .containers_labelled(&[&format!("cstream.test={label}")])
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, std::slice::from_ref(&foreign));
    engine.remove_container(&foreign).await.unwrap();
    assert_no_containers(&engine, &label).await;
}

async fn outcome_kept(engine: &cstream_engine::Engine, target: &Target, label: &str) -> String {
    let s = spec(target).label("cstream.test", label).keep(true).command(["true"]).build().unwrap();
    let o = collect(engine, s).await;
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert!(!o.names.contains(&"ContainerRemove"));
    o.events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ContainerCreate { id, .. } => Some(id.clone()),
            _ => None,
        })
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_gc_removes_only_labelled_containers() {
    gc_removes_only_labelled_containers(Target::DockerUnix).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_current_gc_removes_only_labelled_containers() {
    gc_removes_only_labelled_containers(Target::DockerCurrent).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_gc_removes_only_labelled_containers() {
    gc_removes_only_labelled_containers(Target::PodmanUnix).await
}

/// A container whose process ended, made by a run of this live process
/// that did not keep it: the run still reads its end and then removes it,
/// so gc leaves it (and says why) until `force`.
async fn gc_leaves_a_stopped_container_its_live_run_still_holds(target: Target) {
    let _one = ONE_AT_A_TIME.lock().await;
    let engine = target.engine().await;
    let label = unique_label("gc-held");
    let v = ApiVersion::new(1, 41);
    let owner = cstream_engine::Owner::this_process().expect("an owner for this process").to_string();
    let created =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 60).to_string();
    let labels = serde_json::json!({
        "cstream.test": label, "io.cstream.run": label, "io.cstream.created": created, "io.cstream.owner": owner,
    });
    let body = serde_json::json!({"Image": TEST_IMAGE, "Cmd": ["true"], "Labels": labels});
    let answer = engine.call(requests::create(v, None, body.to_string().into())).await.unwrap();
    assert_eq!(answer.status, 201, "{:?}", answer.body);
    let id = serde_json::from_slice::<serde_json::Value>(&answer.body).unwrap()["Id"].as_str().unwrap().to_string();
    assert_eq!(engine.call(requests::start(v, &id)).await.unwrap().status, 204);
    assert_eq!(engine.call(requests::wait_not_running(v, &id)).await.unwrap().status, 200);

    let collected = engine.gc(Duration::ZERO, false).await.unwrap();
    assert!(!collected.removed.contains(&id), "gc removed a stopped container its live run holds");
    let (_, why) = collected.left.iter().find(|(c, _)| *c == id).expect("the container listed as left");
    assert!(why.contains(&format!("pid {}", std::process::id())), "{why}");
    let held = engine.containers_labelled(&[&format!("cstream.test={label}")]).await.unwrap();
    assert_eq!(held.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), [id.as_str()], "the engine still holds it");

    let collected = engine.gc(Duration::ZERO, true).await.unwrap();
    assert!(collected.removed.contains(&id), "force removes it");
    assert_no_containers(&engine, &label).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_gc_leaves_a_stopped_container_its_live_run_still_holds() {
    gc_leaves_a_stopped_container_its_live_run_still_holds(Target::DockerUnix).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_current_gc_leaves_a_stopped_container_its_live_run_still_holds() {
    gc_leaves_a_stopped_container_its_live_run_still_holds(Target::DockerCurrent).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_gc_leaves_a_stopped_container_its_live_run_still_holds() {
    gc_leaves_a_stopped_container_its_live_run_still_holds(Target::PodmanUnix).await
}

fn engines_script(arg: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/engines.sh");
    let status =
        std::process::Command::new("bash").arg(script).arg(arg).env("CSTREAM_ENGINES", "docker").status().unwrap();
    assert!(status.success(), "scripts/engines.sh {arg} failed");
}

/// dockerd is killed mid-run: the run ends with an error within seconds, not
/// a hang; once dockerd is back, nothing of the run is left, removed by the
/// run's own retries (checked before gc runs), and gc finds nothing of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_killed_and_restarted_mid_run() {
    let _one = ONE_AT_A_TIME.lock().await;
    let target = Target::DockerUnix;
    let engine = target.engine().await;
    let label = unique_label("restart");
    let s = spec(&target).label("cstream.test", &label).command(TICKING);
    let mut run = engine.run(s.build().unwrap());
    let mut container = None;
    loop {
        let e = run.next().await.expect("the run goes on").expect("no error");
        match e.kind {
            EventKind::ContainerCreate { id, .. } => container = Some(id),
            EventKind::Output { .. } => break,
            _ => {}
        }
    }
    let container = container.expect("ContainerCreate before the output");
    let pid = std::fs::read_to_string("/var/run/docker.pid").expect("dockerd's pid file").trim().to_string();
    let killed = Instant::now();
    assert!(std::process::Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    let mut first_error = None;
    let mut restarted = false;
    let mut names = Vec::new();
    while let Some(item) = tokio::time::timeout(Duration::from_secs(60), run.next()).await.expect("the run ends") {
        match item {
            Ok(e) => names.push(e.kind.name()),
            Err(e) => {
                first_error.get_or_insert((killed.elapsed(), e.to_string()));
                if !restarted {
                    // Bring dockerd back while the run is still trying to remove its container.
                    tokio::task::spawn_blocking(|| engines_script("up")).await.unwrap();
                    restarted = true;
                }
            }
        }
    }
    let ended = killed.elapsed();
    let (after, message) = first_error.expect("a killed engine is an error, never a quiet end");
    assert!(after < Duration::from_secs(5), "the error took {after:?}: {message}");
    if !restarted {
        tokio::task::spawn_blocking(|| engines_script("up")).await.unwrap();
    }
    let engine = target.engine().await;
    // The run removed its container itself, retrying through the restart:
    // the engine holds nothing of it before gc runs (the removal may take
    // the engine a moment to finish).
    wait_until_no_containers(&engine, &label, Duration::from_secs(10)).await;
    let removed = engine.gc(Duration::ZERO, false).await.unwrap().removed;
    eprintln!("error after {after:?}: {message}; run ended after {ended:?} with {names:?}; gc removed {removed:?}");
    assert!(!removed.contains(&container), "gc found the run's container {container}: the run left it");
    assert_no_containers(&engine, &label).await;
}
