//! What the tests of `run`'s docker options share: running `cstream run`
//! with a fresh label and checking that no container carries it after, and
//! asking the engine itself (its volumes, a container's inspect).

#![allow(dead_code)]

use std::process::{Command, Stdio};

use crate::common::{IMAGE, api, label, left_behind};

/// What a `cstream` process wrote and how it exited.
#[derive(Debug, PartialEq, Eq)]
pub struct Ran {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

impl Ran {
    /// Exit 0, nothing on stderr, and this on stdout.
    pub fn ok(stdout: &str) -> Ran {
        Ran { stdout: stdout.into(), stderr: String::new(), code: Some(0) }
    }

    /// Asserts a failure before the process ran: 125, nothing on stdout,
    /// one line `cstream: ...` on stderr that contains `says`.
    pub fn assert_refused(&self, says: &str) {
        assert_eq!((self.code, self.stdout.as_str()), (Some(125), ""), "{self:?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line: {self:?}");
        assert!(lines[0].starts_with("cstream: ") && lines[0].contains(says), "{says:?} in {self:?}");
    }
}

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

/// `cstream ARGS`, stdin closed.
pub fn cstream(args: &[&str]) -> Ran {
    let out = Command::new(env!("CARGO_BIN_EXE_cstream")).args(args).stdin(Stdio::null()).output().unwrap();
    Ran { stdout: text(out.stdout), stderr: text(out.stderr), code: out.status.code() }
}

/// The arguments of `cstream run` on `engine` with `label` and `flags`, then `args` (IMAGE COMMAND...).
pub fn run_args<'a>(engine: &'a str, l: &'a str, flags: &[&'a str], args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec!["run", "--engine", engine, "--pull", "never", "--label", l];
    all.extend_from_slice(flags);
    all.extend_from_slice(args);
    all
}

/// `cstream run --engine ENGINE --pull never --label L FLAGS IMAGE sh -c SCRIPT`,
/// after which no container may carry L.
pub fn sh(engine: &str, flags: &[&str], script: &str) -> Ran {
    let l = label("docker-flags");
    let ran = cstream(&run_args(engine, &l, flags, &[IMAGE, "sh", "-c", script]));
    assert_eq!(left_behind(engine, &l), 0, "{engine} {flags:?}: a container was left behind");
    ran
}

pub fn is_podman(engine: &str) -> bool {
    engine.contains("podman")
}

/// A named volume for one test, removed (through the engine's API) on drop
/// if the test did not remove it itself.
pub struct NamedVolume<'a> {
    pub engine: &'a str,
    pub name: String,
}

impl<'a> NamedVolume<'a> {
    pub fn new(engine: &'a str) -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        NamedVolume { engine, name: format!("cstream-test-vol-{}-{nanos}", std::process::id()) }
    }

    /// Whether the engine holds it (`GET /volumes/NAME`: 200 or 404).
    pub fn exists(&self) -> bool {
        match api(self.engine, "GET", &format!("/volumes/{}", self.name)) {
            (200, _) => true,
            (404, _) => false,
            other => panic!("{}: GET /volumes/{}: {other:?}", self.engine, self.name),
        }
    }
}

impl Drop for NamedVolume<'_> {
    fn drop(&mut self) {
        let _ = api(self.engine, "DELETE", &format!("/volumes/{}?force=1", self.name));
    }
}

/// A `cstream` process a test started; if the test fails while it runs, it
/// is stopped on drop as a user would (SIGTERM twice: at once), so that it
/// removes its container.
pub struct Running(pub std::process::Child);

impl Running {
    /// Waits for it to exit.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.0.wait().unwrap()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let pid = self.0.id().to_string();
            for _ in 0..2 {
                let _ = Command::new("kill").args(["-TERM", &pid]).status();
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            let _ = self.0.wait();
        }
    }
}
