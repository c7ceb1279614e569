//! A runtime shut down with many runs in flight: their tasks' drops remove
//! every container beside one another, not one after another, and dropping
//! the runtime waits for them (`Run::wait_for_cleanup` after
//! `shutdown_timeout`). Needs scripts/engines.sh's engines and image.
//!
//! The runs reach each engine through a proxy that notes when each removal
//! arrives and holds it for a second first: one after another, each removal
//! would arrive a second or more after the one before, and 8 would take 8 s
//! or more. (The engines themselves do part of a removal one at a time, so
//! the total is more than one removal's time.)

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cstream_engine::{EventKind, PullPolicy, Run, RunSpec};
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::*;

const RUNS: usize = 8;
/// How long the proxy holds each removal.
const HOLD: Duration = Duration::from_secs(1);

/// A Unix socket in front of an engine's that passes every connection on,
/// noting when those whose first request is a `DELETE` (the blocking
/// removals of dropped runs) arrive and holding them for [`HOLD`]. It serves
/// from a thread of its own until dropped.
struct SlowRemovals {
    path: PathBuf,
    removals: Arrivals,
    _stop: tokio::sync::oneshot::Sender<()>,
}

type Arrivals = Arc<Mutex<Vec<Instant>>>;

impl SlowRemovals {
    fn new(engine: &str) -> SlowRemovals {
        let upstream = PathBuf::from(engine.strip_prefix("unix://").unwrap());
        let path = std::env::temp_dir().join(format!("{}.sock", label("slow-removals").replace('=', "-")));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, listening) = std::sync::mpsc::channel();
        let (p, removals) = (path.clone(), Arrivals::default());
        let arrivals = removals.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            let path = p.clone();
            rt.block_on(async move {
                let listener = tokio::net::UnixListener::bind(&path).unwrap();
                ready.send(()).unwrap();
                let accept = async {
                    while let Ok((client, _)) = listener.accept().await {
                        tokio::spawn(pass_on(client, upstream.clone(), arrivals.clone()));
                    }
                };
                tokio::select! {
                    () = accept => {}
                    _ = stopped => {}
                }
            });
            let _ = std::fs::remove_file(&p);
        });
        listening.recv().unwrap();
        SlowRemovals { path, removals, _stop: stop }
    }

    fn endpoint(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Checks that all [`RUNS`] removals arrived, within half a hold of each
    /// other: none waited for another's answer.
    fn arrived_together(&self, engine: &str) {
        let at = self.removals.lock().unwrap().clone();
        assert_eq!(at.len(), RUNS, "{engine}: removals");
        let spread = *at.iter().max().unwrap() - *at.iter().min().unwrap();
        eprintln!("{engine}: the {RUNS} removals arrived within {spread:?}");
        assert!(spread < HOLD / 2, "{engine}: the removals arrived over {spread:?}, one after another");
    }
}

async fn pass_on(mut client: tokio::net::UnixStream, upstream: PathBuf, removals: Arrivals) {
    let mut first = vec![0u8; 64 * 1024];
    let n = match client.read(&mut first).await {
        Ok(0) | Err(_) => return,
        Ok(n) => n,
    };
    if first.starts_with(b"DELETE ") {
        removals.lock().unwrap().push(Instant::now());
        tokio::time::sleep(HOLD).await;
    }
    let Ok(mut engine) = tokio::net::UnixStream::connect(&upstream).await else { return };
    if engine.write_all(&first[..n]).await.is_ok() {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut engine).await;
    }
}

/// Starts [`RUNS`] runs labelled `label` (`key=value`) through `proxy` on
/// `rt` and waits until each has printed.
fn start_runs(rt: &tokio::runtime::Runtime, proxy: &SlowRemovals, label: &str) -> Vec<Run> {
    let (key, value) = label.split_once('=').unwrap();
    rt.block_on(async {
        let e = cstream_engine::connect(&proxy.endpoint(), cstream_engine::Remote::Refuse).await.unwrap();
        let mut runs: Vec<Run> = (0..RUNS)
            .map(|_| {
                let spec = RunSpec::builder(IMAGE)
                    .pull(PullPolicy::Never)
                    .label(key, value)
                    .command(["sh", "-c", "echo up; exec sleep 600"])
                    .build()
                    .unwrap();
                e.run(spec)
            })
            .collect();
        for run in &mut runs {
            while let Some(item) = run.next().await {
                if matches!(item.unwrap().kind, EventKind::Output { .. }) {
                    break;
                }
            }
        }
        runs
    })
}

/// Runs on each engine in a runtime made by `runtime`, which is then
/// dropped: it returns once every container is removed, all at once.
fn dropping_removes_together(what: &str, runtime: fn() -> tokio::runtime::Runtime) {
    for engine in ENGINES {
        let proxy = SlowRemovals::new(engine);
        let l = label(what);
        let rt = runtime();
        let runs = start_runs(&rt, &proxy, &l);
        let began = Instant::now();
        drop(rt);
        let took = began.elapsed();
        drop(runs);
        let left = left_behind(engine, &l);
        eprintln!("{engine}: dropping the runtime took {took:?} for {RUNS} removals held {HOLD:?} each");
        assert_eq!(left, 0, "{engine}: the runtime's drop returned before the removals were done");
        proxy.arrived_together(engine);
        assert!(took < HOLD * RUNS as u32, "{engine}: {took:?}: the removals went one after another");
    }
}

#[test]
fn dropping_a_runtime_removes_its_runs_containers_together() {
    dropping_removes_together("shutdown-together", || {
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
    })
}

#[test]
fn dropping_a_multi_thread_runtime_removes_its_runs_containers_together() {
    dropping_removes_together("shutdown-together-mt", || {
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
    })
}

#[test]
fn after_shutdown_timeout_wait_for_cleanup_waits_for_the_removals() {
    for engine in ENGINES {
        let proxy = SlowRemovals::new(engine);
        let l = label("shutdown-timeout");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let runs = start_runs(&rt, &proxy, &l);
        let began = Instant::now();
        rt.shutdown_timeout(Duration::from_millis(100));
        let shut = began.elapsed();
        let done = Run::wait_for_cleanup(Duration::from_secs(20));
        let took = began.elapsed();
        drop(runs);
        let left = left_behind(engine, &l);
        eprintln!("{engine}: shutdown_timeout returned after {shut:?}, the removals were done after {took:?}");
        assert!(done, "{engine}: removals still pending");
        assert_eq!(left, 0, "{engine}: wait_for_cleanup returned before the removals were done");
        proxy.arrived_together(engine);
        assert!(took < HOLD * RUNS as u32, "{engine}: {took:?}: the removals went one after another");
    }
}
