//! `cstream run`'s docker options, proven from inside the container on each
//! engine and against a run without them: `--init`, `-m`, `--shm-size`,
//! `--ulimit`, `--add-host`, `-h`, `--device`, `--mount type=tmpfs`,
//! `--platform`, `--runtime`, and `--heartbeat`. What Podman 4.3's API would
//! ignore is refused, and that refusal is tested too.

mod common;
mod flag_support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use flag_support::*;

#[test]
fn init_runs_docker_init_or_catatonit_as_pid_1() {
    // Two commands, so that the shell stays and does not exec `tr`.
    let script = "tr '\\0' ' ' < /proc/1/cmdline; echo";
    for engine in ENGINES {
        let ran = sh(engine, &["--init"], script);
        assert_eq!((ran.code, ran.stderr.as_str()), (Some(0), ""), "{engine}: {ran:?}");
        let init = match is_podman(engine) {
            true => "/run/podman-init",
            false => "/sbin/docker-init",
        };
        assert_eq!(ran.stdout, format!("{init} -- sh -c {script} \n"), "{engine}");
        // Podman's init is catatonit, Docker's is tini (as docker-init).
        let version = sh(engine, &["--init"], &format!("{init} --version"));
        let want = if is_podman(engine) { "catatonit" } else { "tini version" };
        assert!(version.code == Some(0) && version.stdout.contains(want), "{engine}: {version:?}");
        // Without it the command is PID 1.
        assert_eq!(sh(engine, &[], script), Ran::ok(&format!("sh -c {script} \n")), "{engine}");
    }
}

/// `cstream run FLAGS IMAGE sleep 1000`, SIGTERM to cstream once it started:
/// its exit code and how long it took.
fn terminated(engine: &str, flags: &[&str]) -> (Option<i32>, Duration) {
    let l = label("init-signal");
    let args = run_args(engine, &l, flags, &[IMAGE, "sh", "-c", "echo started; exec sleep 1000"]);
    let child = Command::new(env!("CARGO_BIN_EXE_cstream"))
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = Running(child);
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.0.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line, "started\n", "{engine}");
    let sent = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.0.id().to_string()]).status().unwrap().success());
    let status = child.wait();
    assert_eq!(left_behind(engine, &l), 0, "{engine}: a container was left behind");
    (status.code(), sent.elapsed())
}

#[test]
fn init_forwards_the_stop_signal_to_the_command() {
    for engine in ENGINES {
        // The init passes SIGTERM on to `sleep`, which dies of it at once
        // (143 = 128 + 15), long before the 30 s grace period is over.
        let (code, took) = terminated(engine, &["--init", "--stop-timeout", "30"]);
        assert_eq!(code, Some(143), "{engine}");
        assert!(took < Duration::from_secs(10), "{engine}: {took:?}");
        // Without it `sleep` is PID 1, which SIGTERM does not kill: SIGKILL
        // after the grace period.
        let (code, took) = terminated(engine, &["--stop-timeout", "2"]);
        assert_eq!(code, Some(137), "{engine}");
        assert!(took >= Duration::from_secs(2), "{engine}: {took:?}");
    }
}

#[test]
fn m_is_short_for_memory() {
    let script = "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes";
    for engine in ENGINES {
        assert_eq!(sh(engine, &["-m", "32m"], script), Ran::ok("33554432\n"), "{engine}");
    }
}

#[test]
fn shm_size_is_the_size_of_dev_shm() {
    let script = "grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9]*k'";
    for engine in ENGINES {
        assert_eq!(sh(engine, &["--shm-size", "1m"], script), Ran::ok("size=1024k\n"), "{engine}");
        // Without it, the engine's default (64 MiB; Podman: 64000k).
        let default = sh(engine, &[], script);
        assert!(default == Ran::ok("size=65536k\n") || default == Ran::ok("size=64000k\n"), "{engine}: {default:?}");
    }
}

/// Whether the Podman service may raise a limit above its own hard one
/// (it holds CAP_SYS_RESOURCE), read from /proc.
fn podman_may_raise_limits() -> bool {
    let service = std::fs::read_dir("/proc").unwrap().flatten().find(|p| {
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        cmdline.contains("podman") && cmdline.contains("system service") && cmdline.contains("podman.sock")
    });
    let status = std::fs::read_to_string(service.expect("the Podman service runs here").path().join("status")).unwrap();
    let caps = status.lines().find_map(|l| l.strip_prefix("CapEff:")).unwrap().trim();
    u64::from_str_radix(caps, 16).unwrap() & (1 << 24) != 0
}

#[test]
fn ulimit_sets_the_soft_and_hard_limits() {
    let script = "ulimit -Sn; ulimit -Hn; ulimit -Su; ulimit -Hu";
    for engine in ENGINES {
        let flags = ["--ulimit", "nofile=512:1024", "--ulimit", "nproc=1000:2000"];
        assert_eq!(sh(engine, &flags, script), Ran::ok("512\n1024\n1000\n2000\n"), "{engine}");
        let without = sh(engine, &[], "ulimit -Sn");
        assert!(without.code == Some(0) && without.stdout != "512\n", "{engine}: {without:?}");
        // One limit alone: Podman 4.3 sets the other of nofile and nproc to
        // 1048576 itself, which a service without CAP_SYS_RESOURCE (as in
        // a container) cannot: the start fails, reported as cstream's 125.
        let alone = sh(engine, &["--ulimit", "nofile=512:1024"], "ulimit -Sn; ulimit -Hn; ulimit -Hu");
        match is_podman(engine) && !podman_may_raise_limits() {
            true => {
                assert_eq!((alone.code, alone.stdout.as_str()), (Some(125), ""), "{engine}: {alone:?}");
                assert!(alone.stderr.contains("error setting rlimit"), "{engine}: {alone:?}");
            }
            false if is_podman(engine) => assert_eq!(alone, Ran::ok("512\n1024\n1048576\n"), "{engine}"),
            false => {
                let (code, out) = (alone.code, alone.stdout.lines().take(2).collect::<Vec<_>>());
                assert_eq!((code, out), (Some(0), vec!["512", "1024"]), "{engine}: {alone:?}");
            }
        }
    }
}

#[test]
fn add_host_and_hostname() {
    for engine in ENGINES {
        let flags = ["--add-host", "myalias:10.1.2.3", "--add-host", "v6alias=::1"];
        let ran = sh(engine, &flags, "grep alias /etc/hosts");
        assert_eq!(ran, Ran::ok("10.1.2.3\tmyalias\n::1\tv6alias\n"), "{engine}");
        assert_eq!(sh(engine, &[], "grep -c alias /etc/hosts").stdout, "0\n", "{engine}");
        for flag in ["-h", "--hostname"] {
            assert_eq!(sh(engine, &[flag, "myhost"], "hostname"), Ran::ok("myhost\n"), "{engine} {flag}");
        }
        let default = sh(engine, &[], "hostname");
        assert!(default.code == Some(0) && default.stdout != "myhost\n", "{engine}: {default:?}");
    }
}

#[test]
fn device_gives_the_container_a_host_device_with_its_permissions() {
    // A character device (10, 259) outside the engines' default device list.
    assert!(std::path::Path::new("/dev/cpu_dma_latency").exists(), "this test needs /dev/cpu_dma_latency");
    let script = "ls -l /dev/xdev | grep -o '10, *259'; head -c 4 /dev/xdev | wc -c; printf 1234 > /dev/xdev";
    for engine in ENGINES {
        // Read-only: read works, write is refused by the device cgroup.
        let ran = sh(engine, &["--device", "/dev/cpu_dma_latency:/dev/xdev:r"], script);
        assert_eq!((ran.stdout.as_str(), ran.code), ("10, 259\n4\n", Some(1)), "{engine}: {ran:?}");
        assert!(ran.stderr.contains("Operation not permitted"), "{engine}: {ran:?}");
        // Without it the device is not there.
        let absent = sh(engine, &[], "ls /dev/xdev");
        assert_eq!(absent.code, Some(1), "{engine}: {absent:?}");
    }
}

#[test]
fn mount_type_tmpfs_is_a_tmpfs_of_that_size_and_mode() {
    let script = "grep ' /scratch ' /proc/mounts | cut -d' ' -f1-3; grep ' /scratch ' /proc/mounts | grep -o 'size=[0-9]*k,mode=[0-7]*'";
    for engine in ENGINES {
        let ran = sh(engine, &["--mount", "type=tmpfs,dst=/scratch,tmpfs-size=1m,tmpfs-mode=1770"], script);
        assert_eq!(ran, Ran::ok("tmpfs /scratch tmpfs\nsize=1024k,mode=1770\n"), "{engine}");
        assert_eq!(sh(engine, &[], "grep -c ' /scratch ' /proc/mounts").stdout, "0\n", "{engine}");
    }
}

#[test]
fn platform_runs_the_image_s_own_and_refuses_another() {
    for engine in ENGINES {
        let right = sh(engine, &["--platform", "linux/amd64"], "uname -m");
        let wrong = sh(engine, &["--platform", "linux/arm64"], "uname -m");
        match is_podman(engine) {
            // Podman 4.3 ignores the platform: refused, whichever it is.
            true => {
                right.assert_refused("the platform cannot be used with Podman");
                wrong.assert_refused("the platform cannot be used with Podman");
            }
            false => {
                assert_eq!(right, Ran::ok("x86_64\n"), "{engine}");
                wrong.assert_refused("does not match the specified platform: wanted linux/arm64, actual: linux/amd64");
            }
        }
    }
}

#[test]
fn runtime_is_the_engine_s_oci_runtime() {
    for engine in ENGINES {
        let runc = sh(engine, &["--runtime", "runc"], "echo ran");
        let missing = sh(engine, &["--runtime", "cstream-no-such-runtime"], "echo ran");
        match is_podman(engine) {
            true => {
                runc.assert_refused("the OCI runtime cannot be used with Podman");
                missing.assert_refused("the OCI runtime cannot be used with Podman");
            }
            false => {
                assert_eq!(runc, Ran::ok("ran\n"), "{engine}");
                missing.assert_refused("cstream-no-such-runtime");
                assert!(missing.stderr.contains("creating the container"), "{engine}: {missing:?}");
            }
        }
    }
}

/// The `elapsed` of each heartbeat in `--json` output.
fn heartbeats(json: &str) -> Vec<f64> {
    json.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["type"] == "heartbeat")
        .map(|v| v["elapsed"].as_f64().unwrap())
        .collect()
}

#[test]
fn heartbeat_turns_heartbeats_on() {
    for engine in ENGINES {
        let ran = sh(engine, &["--heartbeat", "1s", "--json"], "sleep 2.5");
        assert_eq!(ran.code, Some(0), "{engine}: {ran:?}");
        // One a second from the start (a third when the exit is seen late).
        let beats = heartbeats(&ran.stdout);
        assert!((2..=3).contains(&beats.len()), "{engine}: {ran:?}");
        assert!((1.0..2.0).contains(&beats[0]) && (2.0..3.0).contains(&beats[1]), "{engine}: {beats:?}");
    }
    let engine = ENGINES[0];
    let verbose = sh(engine, &["--heartbeat", "1s", "--verbose"], "sleep 1.5");
    assert!(verbose.stderr.contains("still running after 1s"), "{verbose:?}");
    // Off without it, and with 0.
    for flags in [&[][..], &["--heartbeat", "0"]] {
        let flags = [flags, &["--json"]].concat();
        let ran = sh(engine, &flags, "sleep 1.6");
        assert_eq!((ran.code, heartbeats(&ran.stdout).len()), (Some(0), 0), "{flags:?}: {ran:?}");
    }
    // And for a local process.
    let local = cstream(&["run", "--local", "--heartbeat", "1s", "--json", "--", "sleep", "1.5"]);
    assert_eq!(local.code, Some(0), "{local:?}");
    assert!(heartbeats(&local.stdout).first().is_some_and(|b| (1.0..2.0).contains(b)), "{local:?}");
}
