//! `cstream gc`, in a test binary of its own: it removes every old enough
//! cstream container on an engine, which other tests running beside it would
//! not survive.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::*;

/// One gc at a time: each removes what the other's containers would be.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn cstream(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cstream")).args(args).stdin(Stdio::null()).output().unwrap()
}

#[test]
fn gc_removes_kept_containers_once_old_enough() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for engine in ENGINES {
        let out = cstream(&["run", "--json", "--keep", "--engine", engine, "--pull", "never", IMAGE, "true"]);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8(out.stdout).unwrap();
        let create: serde_json::Value = text
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|v| v["type"] == "container_create")
            .unwrap();
        let id = create["id"].as_str().unwrap().to_string();
        assert!(!text.contains("container_remove"), "kept");

        let young = cstream(&["gc", "--engine", engine, "--older-than", "1h"]);
        assert!(young.status.success());
        assert!(!String::from_utf8_lossy(&young.stdout).contains(&id), "a fresh container is left alone");

        let all = cstream(&["gc", "--engine", engine, "--older-than", "0s"]);
        assert!(all.status.success(), "{}", String::from_utf8_lossy(&all.stderr));
        assert!(String::from_utf8_lossy(&all.stdout).lines().any(|l| l == id), "{id} removed");
        let again = cstream(&["gc", "--engine", engine, "--older-than", "0s"]);
        assert!(!String::from_utf8_lossy(&again.stdout).contains(&id));
    }
}

/// `cstream run --json` of a process that runs until stopped, and its container's id.
fn running(engine: &str, label: &str) -> (Child, String) {
    let args = ["run", "--json", "--engine", engine, "--pull", "never", "--label", label, "--stop-timeout", "1"];
    started(&[&args[..], &[IMAGE, "sh", "-c", "echo up; sleep 120"]].concat())
}

fn listed(engine: &str, label: &str) -> Vec<String> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let e = cstream_engine::connect(engine, cstream_engine::Remote::Refuse).await.unwrap();
        e.containers_labelled(&[label]).await.unwrap().into_iter().map(|c| c.id).collect()
    })
}

#[test]
fn gc_removes_a_running_container_only_when_its_owner_is_gone() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    for engine in ENGINES {
        let label = format!("cstream.test=gc-owner-{}-{}", std::process::id(), engine.len());
        let (mut live1, id1) = running(engine, &label);
        let (mut live2, id2) = running(engine, &label);
        let (mut orphaned, orphan) = running(engine, &label);
        orphaned.kill().unwrap(); // SIGKILL: no cleanup of its own
        orphaned.wait().unwrap();

        let gc = cstream(&["gc", "--engine", engine, "--older-than", "0s"]);
        assert!(gc.status.success(), "{}", String::from_utf8_lossy(&gc.stderr));
        let removed = String::from_utf8_lossy(&gc.stdout);
        assert!(removed.lines().any(|l| l == orphan), "{engine}: the orphan goes: {removed}");
        assert!(!removed.contains(&id1) && !removed.contains(&id2), "{engine}: live runs stay: {removed}");
        let said = String::from_utf8_lossy(&gc.stderr);
        assert!(
            said.contains(&format!("left {id1} (running: its owner, pid {} on this host, runs)", live1.id())),
            "{said}"
        );
        let mut left = listed(engine, &label);
        left.sort();
        let mut want = vec![id1.clone(), id2.clone()];
        want.sort();
        assert_eq!(left, want, "{engine}: the engine's own list");

        // The live runs end as usual: stopped, then removed by their own cstream.
        for child in [&mut live1, &mut live2] {
            assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        for child in [&mut live1, &mut live2] {
            while child.try_wait().unwrap().is_none() {
                assert!(Instant::now() < deadline, "{engine}: cstream did not stop");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        assert_eq!(listed(engine, &label), Vec::<String>::new(), "{engine}: nothing left");
    }
}
