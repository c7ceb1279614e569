//! Cancellation and cleanup on the real engines: cancels at random moments,
//! a runtime shut down mid-run, a consumer that panics. None may leave a
//! container behind.

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use cstream_engine::{EndReason, EventKind};
use futures_util::StreamExt;

/// 100 runs, 8 at a time, each cancelled after a pseudo-random delay from
/// 0 to 1.2 s: while creating, starting, running or exiting.
async fn cancelled_at_random_moments(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("random-cancel");
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut delays = Vec::new();
    for _ in 0..100 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        delays.push(Duration::from_millis(seed % 1200));
    }
    for chunk in delays.chunks(8) {
        let runs = chunk.iter().enumerate().map(|(i, delay)| {
            // Half trap SIGTERM and exit; half ignore it (PID 1) and are killed after the grace period.
            let script = if i % 2 == 0 {
                "trap 'exit 143' TERM; echo start; while true; do echo tick; sleep 0.05; done"
            } else {
                "echo start; while true; do echo tick; sleep 0.05; done"
            };
            let s = spec(&target)
                .label("cstream.test", &label)
                .stop_grace(Duration::from_millis(500))
                .command(["sh", "-c", script])
                .build()
                .unwrap();
            let (engine, delay) = (engine.clone(), *delay);
            tokio::spawn(async move {
                let mut run = engine.run(s);
                let cancel_at = tokio::time::sleep(delay);
                tokio::pin!(cancel_at);
                let mut cancelled = false;
                let mut names = Vec::new();
                let mut end = None;
                loop {
                    tokio::select! {
                        () = &mut cancel_at, if !cancelled => {
                            run.cancel();
                            cancelled = true;
                        }
                        item = run.next() => match item {
                            Some(Ok(e)) => {
                                names.push(event_name(&e.kind));
                                if let EventKind::ProcessEnd(p) = e.kind {
                                    end = Some(p);
                                }
                            }
                            Some(Err(e)) => panic!("cancel after {delay:?}: {e}"),
                            None => break,
                        }
                    }
                }
                (delay, names, end)
            })
        });
        for r in futures_util::future::join_all(runs).await {
            let (delay, names, end) = r.unwrap();
            let end = end.unwrap_or_else(|| panic!("no ProcessEnd after a cancel at {delay:?}: {names:?}"));
            assert_eq!(end.reason, EndReason::Cancelled, "{delay:?}");
            if names.contains(&"ContainerCreate") {
                assert_eq!(names.last(), Some(&"ContainerRemove"), "{delay:?}: {names:?}");
            }
            // The exit code is the shell's own (seen: 143, 137, and 2 from busybox sh
            // interrupted in its trap); a run stopped before its process started has none.
            assert_eq!(end.exit_code.is_some(), names.contains(&"ProcessStart"), "{delay:?}: {names:?} {end:?}");
        }
    }
    assert_no_containers(&engine, &label).await;
}

/// The runtime that runs the run shuts down mid-run: the task's drop removes
/// the container over a blocking connection.
async fn runtime_shut_down_mid_run(target: Target) {
    let label = unique_label("shutdown");
    let l = label.clone();
    let endpoint = target.endpoint();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let run = rt.block_on(async {
            let engine = cstream_engine::connect(endpoint, cstream_engine::Remote::Refuse).await.unwrap();
            let s = spec(&target).label("cstream.test", &l).command(["sh", "-c", "echo up; exec sleep 600"]);
            let mut run = engine.run(s.build().unwrap());
            while let Some(e) = run.next().await {
                if matches!(e.unwrap().kind, EventKind::Output { .. }) {
                    break;
                }
            }
            run
        });
        drop(rt);
        drop(run);
    })
    .join()
    .unwrap();
    let engine = target.engine().await;
    // The blocking remove happened during the shutdown itself.
    assert_no_containers(&engine, &label).await;
}

/// A consumer task that panics while holding the stream.
async fn consumer_panics(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("panic");
    let s = spec(&target).label("cstream.test", &label).command(TICKING);
    let e = engine.clone();
    let consumer = tokio::spawn(async move {
        let mut run = e.run(s.build().unwrap());
        while let Some(item) = run.next().await {
            if matches!(item.unwrap().kind, EventKind::Output { .. }) {
                panic!("the consumer fails");
            }
        }
    });
    assert!(consumer.await.unwrap_err().is_panic());
    wait_until_no_containers(&engine, &label, Duration::from_secs(20)).await;
}

async fn timeout_reports_timed_out(target: Target) {
    let s = spec(&target)
        .command(["sh", "-c", "trap 'echo term; exit 9' TERM; echo start; while true; do sleep 0.05; done"])
        .timeout(Duration::from_secs(2));
    let o = outcome(&target, s).await;
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!((o.end().reason, o.end().exit_code), (EndReason::TimedOut, Some(9)));
    assert_eq!(o.stdout, b"start\nterm\n", "output before the stop is delivered");
}

on_each_engine!(cancelled_at_random_moments, runtime_shut_down_mid_run, consumer_panics, timeout_reports_timed_out);
