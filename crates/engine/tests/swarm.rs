//! Runs on a real three-node Docker Swarm (`scripts/swarm.sh up`: a manager
//! and two workers, each a dockerd in a network namespace of its own): the
//! same events, bytes and exit codes as on one engine, spread over the
//! nodes, and no service or container left on any node afterwards. A swarm
//! that cannot be reached fails the tests, loudly.

#[macro_use]
mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::swarm::*;
use common::unique_label;
use cstream_engine::core::swarm::Placement;
use cstream_engine::{EndReason, Error, EventKind, ProcessId};
use futures_util::StreamExt;
use sha2::Digest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exit_code_and_exact_bytes() {
    let label = unique_label("swarm-bytes");
    let script = "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done; printf 'no newline'; exit 3";
    let s =
        run_on_swarm(job(&label).command(["sh", "-c", script]).build().unwrap(), Placement::default(), |_| {}).await;
    assert!(s.errors.is_empty(), "{:?}", s.errors);
    assert_eq!(String::from_utf8_lossy(&s.stdout), "out1\nout2\nout3\nout4\nout5\nno newline");
    assert_eq!(String::from_utf8_lossy(&s.stderr), "err1\nerr2\nerr3\nerr4\nerr5\n");
    let end = s.end.expect("a ProcessEnd");
    assert_eq!((end.exit_code, end.reason), (Some(3), EndReason::Exited));
    assert_eq!(s.names.first(), Some(&"ContainerCreate"));
    assert_eq!(s.names.last(), Some(&"ContainerRemove"));
    assert_nothing_left(&label).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_at_once_spread_over_the_nodes_each_where_its_events_say() {
    let label = unique_label("swarm-16");
    let m = manager().await;
    let runs = (0..16).map(|i| {
        let spec = job(&label).command(["sh", "-c", &format!("sleep 1; echo job-{i}")]).build().unwrap();
        let m = m.clone();
        tokio::spawn(async move {
            let mut checked = None;
            let mut run = m.run_on_swarm(spec, Placement::default());
            let mut out = Vec::new();
            let mut end = None;
            while let Some(item) = run.next().await {
                match item.unwrap().kind {
                    EventKind::ProcessStart { process: ProcessId::Task { service, task, node, .. }, .. } => {
                        // The engine's own task list says the same node.
                        let t = get(&m, &format!("/v1.41/tasks/{task}")).await;
                        assert_eq!((t["ServiceID"].as_str(), t["NodeID"].as_str()), (Some(&*service), Some(&*node)));
                        checked = Some(node);
                    }
                    EventKind::Output { data, .. } => out.extend_from_slice(&data),
                    EventKind::ProcessEnd(e) => end = Some(e),
                    _ => {}
                }
            }
            assert_eq!(String::from_utf8_lossy(&out), format!("job-{i}\n"));
            assert_eq!(end.unwrap().exit_code, Some(0));
            checked.expect("a ProcessStart naming its node")
        })
    });
    let nodes: Vec<String> = futures_util::future::join_all(runs).await.into_iter().map(|r| r.unwrap()).collect();
    let distinct: BTreeSet<&String> = nodes.iter().collect();
    assert!(distinct.len() >= 2, "16 jobs all on one node: {nodes:?}");
    assert_nothing_left(&label).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_constraint_pins_the_job_to_a_worker() {
    let label = unique_label("swarm-pin");
    let workers = workers().await;
    assert_eq!(workers.len(), 2, "scripts/swarm.sh makes two workers");
    for _ in 0..4 {
        let placement = Placement { constraints: vec!["node.role==worker".into()] };
        let s = run_on_swarm(job(&label).command(["true"]).build().unwrap(), placement, |_| {}).await;
        assert!(s.errors.is_empty(), "{:?}", s.errors);
        let (_, _, node) = s.placed.expect("placed");
        assert!(workers.contains(&node), "ran on {node}, not a worker ({workers:?})");
    }
    assert_nothing_left(&label).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_job_and_removes_the_service() {
    let label = unique_label("swarm-cancel");
    let began = Instant::now();
    let spec =
        job(&label).command(["sh", "-c", "echo up; sleep 60"]).stop_grace(Duration::from_secs(2)).build().unwrap();
    let s = run_on_swarm(spec, Placement::default(), |h| h.cancel()).await;
    let end = s.end.expect("a ProcessEnd");
    assert_eq!(end.reason, EndReason::Cancelled, "{:?} {:?}", end, s.errors);
    assert!(began.elapsed() < Duration::from_secs(30), "took {:?}", began.elapsed());
    assert_eq!(s.names.last(), Some(&"ContainerRemove"));
    assert_nothing_left(&label).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_stops_the_job() {
    let label = unique_label("swarm-timeout");
    let began = Instant::now();
    let spec = job(&label)
        .command(["sleep", "60"])
        .timeout(Duration::from_secs(3))
        .stop_grace(Duration::from_secs(1))
        .build()
        .unwrap();
    let s = run_on_swarm(spec, Placement::default(), |_| {}).await;
    assert_eq!(s.end.expect("a ProcessEnd").reason, EndReason::TimedOut, "{:?}", s.errors);
    assert!(began.elapsed() < Duration::from_secs(30), "took {:?}", began.elapsed());
    assert_nothing_left(&label).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_image_is_a_typed_error_and_no_service_is_left() {
    let label = unique_label("swarm-missing");
    let spec = cstream_engine::RunSpec::builder("cstream-no-such-image:never")
        .pull(cstream_engine::PullPolicy::Never)
        .heartbeat(None)
        .label("cstream.test", &label)
        .command(["true"])
        .build()
        .unwrap();
    let s = run_on_swarm(spec, Placement::default(), |_| {}).await;
    let missing = s.errors.iter().any(|e| matches!(e, Error::Run(cstream_engine::core::Error::ImageMissing { .. })));
    assert!(missing, "{:?}", s.errors);
    let end = s.end.expect("a ProcessEnd");
    assert_eq!(end.reason, EndReason::StartFailed);
    assert_nothing_left(&label).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixty_four_mib_hashed_end_to_end() {
    // Random bytes, not text: the job's logs (the `local` driver by default)
    // keep them as written.
    const N: u64 = 64 << 20;
    let label = unique_label("swarm-64m");
    let script = format!(
        "mkfifo /tmp/f && (sha256sum < /tmp/f >&2 &) && head -c {N} /dev/urandom | tee /tmp/f; s=$?; wait; sleep 0.2; exit $s"
    );
    let s =
        run_on_swarm(job(&label).command(["sh", "-c", &script]).build().unwrap(), Placement::default(), |_| {}).await;
    // Under load the swarm's live log stream can drop messages (seen once in a CI run: the
    // follow skipped ~1.7 s of them). The final read finds that out, and the run must say so:
    // output it cannot vouch for is reported, never passed off as whole.
    let unvouched = |e: &Error| matches!(e, Error::Run(cstream_engine::core::Error::OutputUnvouched { .. }));
    assert!(s.errors.iter().all(unvouched), "{:?}", s.errors);
    let theirs = String::from_utf8_lossy(&s.stderr);
    let ours = format!("{:x}", sha2::Sha256::digest(&s.stdout));
    if s.errors.is_empty() {
        assert_eq!(s.stdout.len() as u64, N);
        assert_eq!(theirs.split_whitespace().next(), Some(ours.as_str()), "{theirs:?}");
    } else {
        eprintln!("the swarm lost output on its live path, and the run said so: {:?}", s.errors);
        assert_ne!(theirs.split_whitespace().next(), Some(ours.as_str()), "reported lost, yet whole");
    }
    assert_eq!(s.end.unwrap().exit_code, Some(0));
    assert_nothing_left(&label).await;
}

/// gc on the manager while a job's run still holds its service: the task's
/// container has exited, and the swarm reads the job's logs from it, so gc
/// leaves it (and the service, whose owner lives); the logs are still there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_leaves_a_held_jobs_container_and_its_logs() {
    let label = unique_label("swarm-gc-held");
    let m = manager().await;
    let owner = cstream_engine::Owner::this_process().expect("an owner for this process").to_string();
    let created =
        (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() - 60).to_string();
    // The labels a run of this process puts on its service and container.
    let labels = serde_json::json!({
        "cstream.test": label, "io.cstream.run": label, "io.cstream.created": created, "io.cstream.owner": owner,
    });
    let body = serde_json::json!({
        "Name": format!("cstream-{label}"),
        "Labels": labels,
        "TaskTemplate": {
            "ContainerSpec": {"Image": common::TEST_IMAGE, "Command": ["sh", "-c", "echo held"], "Labels": labels},
            "RestartPolicy": {"Condition": "none"},
            "Placement": {"Constraints": ["node.role==manager"]},
            "LogDriver": {"Name": "local"},
        },
        "Mode": {"Replicated": {"Replicas": 1}},
    });
    let service = post(&m, "/v1.41/services/create", body).await["ID"].as_str().unwrap().to_string();
    let tasks = format!("/v1.41/tasks?filters={}", common::swarm::query(&serde_json::json!({"service": [service]})));
    let deadline = Instant::now() + Duration::from_secs(30);
    while get(&m, &tasks).await.as_array().unwrap().iter().all(|t| t["Status"]["State"] != "complete") {
        assert!(Instant::now() < deadline, "the job did not complete: {}", get(&m, &tasks).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let collected = m.gc(Duration::ZERO, false).await.unwrap();
    assert!(!collected.removed.contains(&service), "{collected:?}");
    let held = get(&m, &format!("/v1.41/containers/json?all=1&filters={}", label_filter(&label))).await;
    assert_eq!(held.as_array().unwrap().len(), 1, "the manager holds the job's container still: {held}");
    let logs = logs_text(&m, &service).await;
    assert!(logs.ends_with("held\n"), "the job's logs after gc: {logs:?}");

    let gone = m.call(cstream_engine::core::api::requests::remove_service(
        cstream_engine::core::api::ApiVersion::new(1, 41),
        &service,
    ));
    assert_eq!(gone.await.unwrap().status, 200);
    assert_nothing_left(&label).await;
}
