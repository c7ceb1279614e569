//! `cstream gc`, in a test binary of its own: it removes every old enough
//! cstream container on an engine, which other tests running beside it would
//! not survive.

use std::process::{Command, Stdio};

const IMAGE: &str = "cstream-test:latest";

fn cstream(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cstream")).args(args).stdin(Stdio::null()).output().unwrap()
}

#[test]
fn gc_removes_kept_containers_once_old_enough() {
    for engine in
        ["unix:///var/run/docker.sock", "unix:///run/cstream-docker-current.sock", "unix:///run/podman/podman.sock"]
    {
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
