//! The grace period after a timeout is waited for, not spun through: the
//! run's own CPU time stays small while a process that ignores the stop
//! signal sits out its grace period. Alone in its binary, so that no other
//! test's CPU time counts.

use std::time::Duration;

use cstream_driver_hyper::EndReason;
use cstream_local::LocalProcess;

/// This process's CPU time so far, user and system, all threads
/// (`/proc/self/stat`, in the kernel's 100 Hz clock ticks).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[tokio::test(flavor = "current_thread")]
async fn a_timed_out_process_sitting_out_its_grace_period_costs_no_cpu() {
    let grace = Duration::from_secs(2);
    let before = cpu_time();
    let run = LocalProcess::new("sh", ["-c", "trap '' TERM; while true; do sleep 0.1; done"])
        .timeout(Duration::from_millis(100))
        .stop_grace(grace)
        .heartbeat(None)
        .run();
    let out = run.output().await.unwrap();
    let used = cpu_time() - before;
    assert_eq!(
        (out.status.reason(), out.status.code(), out.status.signal()),
        (EndReason::TimedOut, Some(137), Some(9))
    );
    assert!(out.status.duration() >= grace, "SIGKILL came after the grace period: {:?}", out.status.duration());
    assert!(used < Duration::from_millis(500), "{used:?} of CPU time over a {grace:?} grace period");
}
