//! `cstream resume` on each engine: a `cstream run --record` killed with
//! SIGKILL mid-output and resumed from its recording (what it had and what
//! the resume appended are the whole output, byte for byte), a run whose
//! container exited meanwhile, an unknown run id, and a run still held by a
//! live cstream. The run id as `--json` and `--verbose` say it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn cstream(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cstream")).args(args).stdin(Stdio::null()).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn recording(what: &str) -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    std::env::temp_dir().join(format!("cstream-resume-{what}-{}-{nanos}.rec", std::process::id())).display().to_string()
}

/// `cstream run --record` started in the background.
fn recorded_run(engine: &str, label: &str, rec: &str, script: &str) -> Child {
    let args = ["run", "-H", engine, "--pull", "never", "--label", label, "--record", rec, IMAGE, "sh", "-c", script];
    Command::new(env!("CARGO_BIN_EXE_cstream"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits (20 s at most) until the recording holds `lines` lines of stdout.
fn until_recorded(rec: &str, lines: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while text(&cstream(&["replay", rec]).stdout).lines().count() < lines {
        assert!(Instant::now() < deadline, "{rec} has fewer than {lines} lines of output after 20 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_killed_cstream_is_resumed_from_its_recording_byte_for_byte() {
    let script = "i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo out$i; echo err$i >&2; sleep 0.01; done; exit 3";
    let all_out: String = (1..=300).map(|i| format!("out{i}\n")).collect();
    let all_err: String = (1..=300).map(|i| format!("err{i}\n")).collect();
    for engine in ENGINES {
        let (label, rec) = (label("cli-resume"), recording("killed"));
        let mut run = recorded_run(engine, &label, &rec, script);
        until_recorded(&rec, 20);
        run.kill().unwrap();
        run.wait().unwrap();
        let had = cstream(&["replay", &rec]);
        assert_eq!(had.status.code(), Some(125), "{engine}: the recording stops before the process ends");

        let rest = cstream(&["resume", "-H", engine, "--record", &rec]);
        assert_eq!(rest.status.code(), Some(3), "{engine}: {}", text(&rest.stderr));
        assert_eq!(text(&had.stdout) + &text(&rest.stdout), all_out, "{engine}: stdout, byte for byte");
        let had_err =
            text(&had.stderr).replace(&format!("cstream: {rec}: the recording ends before the process did\n"), "");
        assert_eq!(had_err + &text(&rest.stderr), all_err, "{engine}: stderr, byte for byte");

        let whole = cstream(&["replay", &rec]);
        assert_eq!((text(&whole.stdout), text(&whole.stderr)), (all_out.clone(), all_err.clone()), "{engine}");
        assert_eq!(whole.status.code(), Some(3), "{engine}: the recording now ends with the process");
        assert_eq!(left_behind(engine, &label), 0, "{engine}: the resume removed the container");
        std::fs::remove_file(&rec).unwrap();
    }
}

#[test]
fn a_run_whose_container_exited_meanwhile_is_read_to_its_end() {
    for engine in ENGINES {
        let (label, rec) = (label("cli-resume-exited"), recording("exited"));
        let mut run = recorded_run(engine, &label, &rec, "echo a; sleep 1; echo b >&2; exit 4");
        until_recorded(&rec, 1);
        run.kill().unwrap();
        run.wait().unwrap();
        std::thread::sleep(Duration::from_secs(2));
        let rest = cstream(&["resume", "-H", engine, "--record", &rec]);
        assert_eq!(
            (text(&rest.stdout), text(&rest.stderr), rest.status.code()),
            (String::new(), "b\n".into(), Some(4)),
            "{engine}"
        );
        let whole = cstream(&["replay", &rec]);
        assert_eq!(
            (text(&whole.stdout), text(&whole.stderr), whole.status.code()),
            ("a\n".into(), "b\n".into(), Some(4)),
            "{engine}"
        );
        assert_eq!(left_behind(engine, &label), 0, "{engine}");
        let again = cstream(&["resume", "-H", engine, "--record", &rec]);
        assert_eq!(again.status.code(), Some(125), "{engine}");
        assert!(text(&again.stderr).contains("has ended already"), "{engine}: {}", text(&again.stderr));
        std::fs::remove_file(&rec).unwrap();
    }
}

#[test]
fn an_unknown_run_and_a_run_still_held_are_refused() {
    for engine in ENGINES {
        let out = cstream(&["resume", "-H", engine, "no-such-run"]);
        assert_eq!(out.status.code(), Some(125), "{engine}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with("cstream: ") && err.contains("no-such-run") && err.lines().count() == 1,
            "{engine}: {err}"
        );

        // A live cstream holds its run: its id is in --json's container_create.
        let label = label("cli-resume-held");
        let args = [
            "run",
            "-H",
            engine,
            "--json",
            "--pull",
            "never",
            "--label",
            &label,
            IMAGE,
            "sh",
            "-c",
            "echo up; sleep 60",
        ];
        let mut child = Command::new(env!("CARGO_BIN_EXE_cstream"))
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut run_id, mut container) = (String::new(), String::new());
        for line in lines.by_ref() {
            let v: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
            if v["type"] == "container_create" {
                run_id = v["run_id"].as_str().expect("container_create names the run").to_string();
                container = v["id"].as_str().unwrap().to_string();
            }
            if v["type"] == "output" {
                break;
            }
        }
        let out = cstream(&["resume", "-H", engine, &run_id]);
        assert_eq!(out.status.code(), Some(125), "{engine}");
        assert!(text(&out.stderr).contains("still held by a live client"), "{engine}: {}", text(&out.stderr));
        let (status, body) = api(engine, "GET", &format!("/containers/{container}/json"));
        assert!(status == 200 && body.contains(r#""Running":true"#), "{engine}: the container is untouched: {status}");
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(left_behind(engine, &label), 1, "{engine}: the killed run's container, removed here");
    }
}

#[test]
fn verbose_says_the_run_id_with_the_container() {
    let label = label("cli-resume-verbose");
    let out = cstream(&["run", "-H", ENGINES[0], "--verbose", "--pull", "never", "--label", &label, IMAGE, "true"]);
    assert_eq!(out.status.code(), Some(0));
    let err = text(&out.stderr);
    let line = err.lines().find(|l| l.contains("created container")).unwrap_or_else(|| panic!("{err}"));
    let run_id = line.rsplit("(run ").next().unwrap().trim_end_matches(')');
    assert!(!run_id.is_empty() && !run_id.contains(' '), "{line}");
    assert_eq!(left_behind(ENGINES[0], &label), 0);
}
