//! `cstream exec` in a container kept up by `cstream run --keep --name`, on
//! each engine: the step's bytes and exit code, files kept between steps,
//! stdin, `--json`, and a container that is not there.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

fn cstream(args: &[&str], stdin: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cstream"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn exec_runs_steps_in_a_kept_container_as_run_runs_a_container() {
    for engine in ENGINES {
        let label = label("cli-exec");
        let name = format!("cstream-exec-{}", label.rsplit('-').next().unwrap());
        let run = ["run", "-H", engine, "--json", "--keep", "--init", "--pull", "never", "--name", &name, "--label"];
        let (mut up, _) = started(&[&run[..], &[&label, IMAGE, "sh", "-c", "echo up; exec sleep infinity"]].concat());

        let out = cstream(
            &["exec", "-H", engine, &name, "sh", "-c", "echo kept > /tmp/f; echo out; echo err >&2; exit 3"],
            b"",
        );
        assert_eq!(
            (text(&out.stdout), text(&out.stderr), out.status.code()),
            ("out\n".into(), "err\n".into(), Some(3)),
            "{engine}"
        );
        let out = cstream(&["exec", "-H", engine, &name, "cat", "/tmp/f"], b"");
        assert_eq!(
            (text(&out.stdout), out.status.code()),
            ("kept\n".into(), Some(0)),
            "{engine}: {}",
            text(&out.stderr)
        );
        let out = cstream(&["exec", "-i", "-H", engine, &name, "sh", "-c", "tr a-z A-Z"], b"piped in\n");
        assert_eq!(
            (text(&out.stdout), out.status.code()),
            ("PIPED IN\n".into(), Some(0)),
            "{engine}: {}",
            text(&out.stderr)
        );

        let out = cstream(&["exec", "--json", "-H", engine, &name, "sh", "-c", "exit 4"], b"");
        assert_eq!(out.status.code(), Some(4), "{engine}: {}", text(&out.stderr));
        let events: Vec<serde_json::Value> =
            text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
        assert_eq!(types, ["process_start", "process_end"], "{engine}");
        assert!(events[0]["exec_id"].as_str().is_some_and(|id| !id.is_empty()), "{}", events[0]);
        assert_eq!(events[1]["exit_code"], 4);

        up.kill().unwrap();
        up.wait().unwrap();
        assert_eq!(left_behind(engine, &label), 1, "{engine}: the kept container, until removed here");

        let out = cstream(&["exec", "-H", engine, &name, "true"], b"");
        assert_eq!(out.status.code(), Some(125), "{engine}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with("cstream: ") && err.contains("is not running") && err.lines().count() == 1,
            "{engine}: {err}"
        );
    }
}
