//! `cstream run`'s flags reach the container: each is proven from inside it,
//! on each engine, by what the process reads or cannot do, and against a run
//! without the flag (so a default that happens to match proves nothing).
//! Reads cgroup v2 files where the engine has them, else cgroup v1's.

mod common;

use std::process::{Command, Stdio};

use common::*;

/// What `cstream run --engine ENGINE --pull never --label L FLAGS IMAGE sh -c SCRIPT`
/// wrote and how it exited, after checking that no container carries L.
fn run(engine: &str, flags: &[&str], script: &str) -> (String, String, Option<i32>) {
    let l = label("flags");
    let mut args = vec!["run", "--engine", engine, "--pull", "never", "--label", &l];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[IMAGE, "sh", "-c", script]);
    let out = Command::new(env!("CARGO_BIN_EXE_cstream")).args(&args).stdin(Stdio::null()).output().unwrap();
    assert_eq!(left_behind(engine, &l), 0, "{engine} {flags:?}: a container was left behind");
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (text(out.stdout), text(out.stderr), out.status.code())
}

/// `cat` of the first cgroup file that exists.
fn cgroup(v2: &str, v1: &str) -> String {
    format!("cat /sys/fs/cgroup/{v2} 2>/dev/null || cat /sys/fs/cgroup/{v1}")
}

fn ok(out: &str) -> (String, String, Option<i32>) {
    (out.to_string(), String::new(), Some(0))
}

#[test]
fn memory_is_the_cgroup_s_memory_limit() {
    let script = cgroup("memory.max", "memory/memory.limit_in_bytes");
    for engine in ENGINES {
        assert_eq!(run(engine, &["--memory", "32m"], &script), ok("33554432\n"), "{engine}");
        // Without it: no limit ("max" on v2, the largest page-aligned i64 on v1).
        let (out, _, code) = run(engine, &[], &script);
        assert_eq!(code, Some(0));
        assert!(out == "max\n" || out == "9223372036854771712\n", "{engine}: {out:?}");
    }
}

#[test]
fn cpus_is_the_cgroup_s_cpu_quota() {
    let quota = "cat /sys/fs/cgroup/cpu.max 2>/dev/null \
                 || echo $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)";
    for engine in ENGINES {
        // Half a CPU: 50 ms in every 100 ms.
        assert_eq!(run(engine, &["--cpus", "0.5"], quota), ok("50000 100000\n"), "{engine}");
        let (out, _, code) = run(engine, &[], quota);
        assert_eq!(code, Some(0));
        assert!(out == "max 100000\n" || out == "-1 100000\n", "{engine}: no quota without it: {out:?}");
    }
}

#[test]
fn pids_limit_is_the_cgroup_s_pids_max() {
    let script = cgroup("pids.max", "pids/pids.max");
    for engine in ENGINES {
        assert_eq!(run(engine, &["--pids-limit", "8"], &script), ok("8\n"), "{engine}");
    }
}

#[test]
fn read_only_refuses_writes_to_the_root_but_not_to_a_tmpfs() {
    let script = "echo hi > /scratch/f; cat /scratch/f; touch /x";
    for engine in ENGINES {
        let got = run(engine, &["--read-only", "--tmpfs", "/scratch"], script);
        let want = ("hi\n".to_string(), "touch: /x: Read-only file system\n".to_string(), Some(1));
        assert_eq!(got, want, "{engine}: touch's own error and exit code");
        // Without it the root is writable.
        assert_eq!(run(engine, &[], "touch /x && echo written"), ok("written\n"), "{engine}");
    }
}

#[test]
fn tmpfs_mounts_a_tmpfs_of_the_size_given() {
    // The mount, then 2 MiB into 1 MiB: 1 MiB is written, the rest refused.
    let script = "grep ' /scratch ' /proc/mounts; \
                  dd if=/dev/zero of=/scratch/big bs=1024 count=2048 2>&1 | grep -o 'No space left on device'; \
                  wc -c < /scratch/big";
    for engine in ENGINES {
        let (out, err, code) = run(engine, &["--tmpfs", "/scratch:size=1m"], script);
        assert_eq!((err.as_str(), code), ("", Some(0)), "{engine}");
        let lines: Vec<&str> = out.lines().collect();
        let mount: Vec<&str> = lines[0].split(' ').collect();
        assert_eq!(mount[..3], ["tmpfs", "/scratch", "tmpfs"], "{engine}: {out}");
        assert!(mount[3].split(',').any(|o| o == "size=1024k"), "{engine}: {out}");
        assert_eq!(lines[1..], ["No space left on device", "1048576"], "{engine}: {out}");
        // Without it /scratch is not there.
        assert_eq!(
            run(engine, &[], "grep -c ' /scratch ' /proc/mounts"),
            ("0\n".into(), "".into(), Some(1)),
            "{engine}"
        );
    }
}

#[test]
fn cap_drop_all_leaves_no_capability_and_cap_add_brings_one_back() {
    let script = "grep CapEff /proc/self/status";
    for engine in ENGINES {
        assert_eq!(run(engine, &["--cap-drop", "ALL"], script), ok("CapEff:\t0000000000000000\n"), "{engine}");
        // NET_BIND_SERVICE is capability 10.
        let flags = ["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"];
        assert_eq!(run(engine, &flags, script), ok("CapEff:\t0000000000000400\n"), "{engine}");
        let (out, _, code) = run(engine, &[], script);
        assert_eq!(code, Some(0));
        assert!(out.starts_with("CapEff:\t") && out != "CapEff:\t0000000000000000\n", "{engine}: {out:?}");
    }
}

#[test]
fn security_opt_no_new_privileges_sets_the_process_s_flag() {
    let script = "grep NoNewPrivs /proc/self/status";
    for engine in ENGINES {
        for opt in ["no-new-privileges", "no-new-privileges:true"] {
            assert_eq!(run(engine, &["--security-opt", opt], script), ok("NoNewPrivs:\t1\n"), "{engine} {opt}");
        }
        assert_eq!(run(engine, &[], script), ok("NoNewPrivs:\t0\n"), "{engine}");
    }
}

#[test]
fn user_and_network() {
    for engine in ENGINES {
        assert_eq!(run(engine, &["--user", "65534:65534"], "echo $(id -u) $(id -g)"), ok("65534 65534\n"), "{engine}");
        // Only the loopback interface: /proc/net/dev's lines after its two headers.
        let script = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '";
        assert_eq!(run(engine, &["--network", "none"], script), ok("lo\n"), "{engine}");
    }
}
