//! Recordings that survive: a v1 recording made by cstream 0.1.0 replays
//! exactly; a killed cstream leaves everything it showed in its recording; a
//! full disk fails the recording (said once, exit 125), never the run. Needs
//! scripts/engines.sh's engines and image, and root for a tiny tmpfs.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

fn cstream(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cstream")).args(args).stdin(Stdio::null()).output().unwrap()
}

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name).to_str().unwrap().to_string()
}

/// A directory of this test's own, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        let dir = std::env::temp_dir().join(label(what).replace('=', "-"));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> String {
        self.0.join(name).to_str().unwrap().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).stderr(Stdio::null()).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// tests/data/v1.rec was made by cstream 0.1.0 (format v1) with
/// `cstream run --record v1.rec cstream-test:latest sh -c 'printf "out 1\n";
/// printf "err 1\n" >&2; sleep 0.2; printf "caf\303\251 2\n"; printf "err 2\n"
/// >&2; exit 3'` on Docker 20.10, and v1.json by its `replay --json`.
#[test]
fn a_v1_recording_replays_exactly_as_it_ran() {
    let out = cstream(&["replay", &data("v1.rec")]);
    assert_eq!(out.stdout, "out 1\ncafé 2\n".as_bytes());
    assert_eq!(out.stderr, b"err 1\nerr 2\n");
    assert_eq!(out.status.code(), Some(3));
    let json = cstream(&["replay", "--json", &data("v1.rec")]);
    assert_eq!(String::from_utf8(json.stdout).unwrap(), std::fs::read_to_string(data("v1.json")).unwrap());
    assert_eq!(json.status.code(), Some(3));
}

#[test]
fn a_newer_recording_is_refused() {
    let dir = TempDir::new("newer");
    let rec = dir.file("v9.rec");
    std::fs::write(&rec, b"cstream-recording v9\n\x01\0").unwrap();
    let out = cstream(&["replay", &rec]);
    assert_eq!(out.status.code(), Some(125));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!("cstream: {rec} was made by a newer cstream (recording format v9; this one reads v1 to v4)\n")
    );
}

/// A pipe read on a thread of its own, into a buffer the test can look at.
fn collect(mut pipe: impl Read + Send + 'static) -> (Arc<Mutex<Vec<u8>>>, std::thread::JoinHandle<()>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let into = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = pipe.read(&mut buf) {
            into.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    (seen, reader)
}

/// SIGKILL leaves no chance to flush: every byte cstream showed before it
/// was killed must already be in the recording.
#[test]
fn a_killed_cstream_leaves_everything_it_showed_in_its_recording() {
    let dir = TempDir::new("killed");
    for engine in ENGINES {
        let l = label("killed");
        let rec = dir.file("killed.rec");
        let script = "echo one; sleep 0.3; echo two >&2; sleep 0.3; echo ready; sleep 600";
        let mut child = Command::new(env!("CARGO_BIN_EXE_cstream"))
            .args(["run", "--engine", engine, "--pull", "never", "--label", &l, "--record", &rec, IMAGE])
            .args(["sh", "-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (stdout, out_reader) = collect(child.stdout.take().unwrap());
        let (stderr, err_reader) = collect(child.stderr.take().unwrap());
        let deadline = Instant::now() + Duration::from_secs(60);
        while !stdout.lock().unwrap().ends_with(b"ready\n") {
            assert!(Instant::now() < deadline, "{engine}: never ready: {:?}", stdout.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        out_reader.join().unwrap();
        err_reader.join().unwrap();
        // The container a killed cstream leaves (gc's job), removed.
        left_behind(engine, &l);
        let (shown_out, shown_err) = (stdout.lock().unwrap().clone(), stderr.lock().unwrap().clone());
        assert_eq!((&shown_out[..], &shown_err[..]), (&b"one\nready\n"[..], &b"two\n"[..]), "{engine}");

        let replayed = cstream(&["replay", &rec]);
        assert_eq!(replayed.stdout, shown_out, "{engine}: every byte shown on stdout is in the recording");
        let ends = format!("cstream: {rec}: the recording ends before the process did\n");
        assert_eq!(String::from_utf8(replayed.stderr).unwrap(), format!("two\n{ends}"), "{engine}");
        assert_eq!(replayed.status.code(), Some(125), "{engine}: the run's end is not in the recording");
    }
}

/// A recording that cannot even begin (every write to /dev/full fails)
/// stops the run before anything runs.
#[test]
fn a_recording_that_cannot_begin_stops_the_run_before_it_starts() {
    for engine in ENGINES {
        let l = label("devfull");
        let out = cstream(&[
            "run",
            "--engine",
            engine,
            "--pull",
            "never",
            "--label",
            &l,
            "--record",
            "/dev/full",
            IMAGE,
            "echo",
            "ran",
        ]);
        assert_eq!(out.status.code(), Some(125), "{engine}");
        assert_eq!(out.stdout, b"", "{engine}: nothing ran");
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            "cstream: the recording /dev/full failed: No space left on device (os error 28) (nothing was run)\n"
        );
        assert_eq!(left_behind(engine, &l), 0, "{engine}: no container was created");
    }
}

/// The disk fills up mid-run (a 4 KiB tmpfs): the process runs to its end
/// with all its output shown, the failure is said once, the exit code is
/// 125, and the recording keeps what was written before.
#[test]
fn a_full_disk_fails_the_recording_not_the_run() {
    let dir = TempDir::new("full");
    let mounted = Command::new("mount").args(["-t", "tmpfs", "-o", "size=4k", "tmpfs"]).arg(&dir.0).status().unwrap();
    assert!(mounted.success(), "mounting a tmpfs needs root");
    // 40 lines of 200 bytes, a line every 10 ms: far more than 4 KiB; and
    // a line that says so should the process be stopped.
    let script = "trap 'echo stopped; exit 1' TERM; \
                  i=0; while [ $i -lt 40 ]; do printf '%0200d\\n' $i; sleep 0.01; i=$((i+1)); done; exit 7";
    let want: String = (0..40).map(|i| format!("{i:0200}\n")).collect();
    for engine in ENGINES {
        let l = label("full");
        let rec = dir.file("run.rec");
        let out = cstream(&[
            "run", "--engine", engine, "--pull", "never", "--label", &l, "--record", &rec, IMAGE, "sh", "-c", script,
        ]);
        assert_eq!(String::from_utf8(out.stdout).unwrap(), want, "{engine}: the run went on to its end");
        assert_eq!(
            String::from_utf8(out.stderr).unwrap(),
            format!("cstream: the recording {rec} failed: No space left on device (os error 28)\n"),
            "{engine}: said once"
        );
        assert_eq!(out.status.code(), Some(125), "{engine}: the recording asked for is lost");
        assert_eq!(left_behind(engine, &l), 0, "{engine}: a container was left behind");
        // What was written before the disk filled up replays.
        let replayed = cstream(&["replay", &rec]);
        assert!(!replayed.stdout.is_empty() && want.as_bytes().starts_with(&replayed.stdout), "{engine}");
        assert_eq!(replayed.status.code(), Some(125), "{engine}");
        std::fs::remove_file(&rec).unwrap();
    }
}
