//! The pull progress: drawn on a terminal (tmux), a line per layer and a
//! summary, each line within the terminal's width, only the summary on a
//! narrow one; never written when stderr is not a terminal. Pulls
//! 127.0.0.1:5000/cstream-test:v1 (scripts/registry.sh); needs tmux
//! (scripts/test.sh installs it).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

const IMAGE_V1: &str = "127.0.0.1:5000/cstream-test:v1";

/// A tmux server and its session, killed when dropped, and then no
/// container left with the label of its run.
struct Session {
    name: String,
    engine: &'static str,
    label: String,
    script: std::path::PathBuf,
}

impl Drop for Session {
    fn drop(&mut self) {
        tmux_gone(&self.name);
        let _ = std::fs::remove_file(&self.script);
        if std::thread::panicking() {
            left_behind(self.engine, &self.label);
        }
    }
}

/// Runs `cstream run --pull always` in a `cols`-wide tmux window and
/// returns the lines the run left on the screen, wrapped lines joined (so a
/// line wider than the window shows as one line longer than it).
fn pull_on_a_terminal(engine: &'static str, cols: u16) -> Vec<String> {
    let label = label("progress");
    let name = format!("cstream-progress-{}-{}-{cols}", std::process::id(), engine.len());
    // The command, in a script of its own: typed, it would be wider than the window.
    let script = std::env::temp_dir().join(format!("{name}.sh"));
    let command = format!(
        "{} run --engine {engine} --pull always --label {label} {IMAGE_V1} echo ran; echo rc=$?",
        env!("CARGO_BIN_EXE_cstream"),
    );
    std::fs::write(&script, command).unwrap();
    let session = Session { name, engine, label, script };
    let cols = cols.to_string();
    let name = session.name.as_str();
    tmux(name, &["new-session", "-d", "-s", name, "-x", &cols, "-y", "30", "bash --norc"]);
    tmux(name, &["send-keys", "-t", name, &format!("sh {}", session.script.display()), "Enter"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let screen = loop {
        let screen = tmux(name, &["capture-pane", "-t", name, "-p", "-J"]);
        if screen.contains("rc=") {
            break screen;
        }
        assert!(Instant::now() < deadline, "the run never ended:\n{screen}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(left_behind(engine, &session.label), 0, "{engine}: a container was left behind");
    let lines: Vec<String> = screen.lines().map(|l| l.trim_end().to_string()).collect();
    // The last line with the command: the terminal may echo it before the prompt.
    let start = lines.iter().rposition(|l| l.contains(".sh")).expect("the command on the screen") + 1;
    let end = lines.iter().position(|l| l == "rc=0").unwrap_or_else(|| panic!("{engine}: rc=0:\n{screen}")) + 1;
    lines[start..end].to_vec()
}

/// `id: Status`: a layer line, as Docker (the tag, `v1`) and Podman (each
/// blob by its short id) name them.
fn is_layer_line(line: &str) -> bool {
    line.split_once(": ").is_some_and(|(id, status)| {
        (1..=12).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric())
            && status.starts_with(|c: char| c.is_ascii_uppercase())
    })
}

#[test]
fn pull_progress_on_a_terminal_shows_each_layer_within_the_width() {
    for engine in ENGINES {
        let lines = pull_on_a_terminal(engine, 60);
        let all = lines.join("\n");
        assert!(lines.iter().any(|l| is_layer_line(l)), "{engine}: a layer line:\n{all}");
        assert!(lines.iter().all(|l| l.chars().count() < 60), "{engine}: a line as wide as the window:\n{all}");
        let n = lines.len();
        assert!(n >= 3, "{engine}:\n{all}");
        assert!(lines[n - 3].starts_with(&format!("Pulled {IMAGE_V1} in ")), "{engine}: the summary:\n{all}");
        assert_eq!(lines[n - 2..], ["ran", "rc=0"], "{engine}: the process's output, under the progress:\n{all}");
    }
}

#[test]
fn pull_progress_on_a_narrow_terminal_is_the_summary_alone() {
    for engine in ENGINES {
        let lines = pull_on_a_terminal(engine, 30);
        let all = lines.join("\n");
        assert!(lines.iter().all(|l| l.chars().count() < 30), "{engine}:\n{all}");
        assert!(!lines.iter().any(|l| is_layer_line(l)), "{engine}: no layer line:\n{all}");
        assert_eq!(lines.len(), 3, "{engine}: the summary, then the process's output:\n{all}");
        assert!(lines[0].starts_with("Pulled 127.0.0.1:5000"), "{engine}:\n{all}");
    }
}

#[test]
fn no_progress_when_stderr_is_not_a_terminal() {
    for engine in ENGINES {
        let l = label("progress");
        let out = Command::new(env!("CARGO_BIN_EXE_cstream"))
            .args(["run", "--engine", engine, "--pull", "always", "--label", &l, IMAGE_V1, "echo", "ran"])
            .env_remove("CSTREAM_LOG")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(left_behind(engine, &l), 0, "{engine}: a container was left behind");
        assert_eq!(out.status.code(), Some(0), "{engine}: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!((out.stdout.as_slice(), out.stderr.as_slice()), (&b"ran\n"[..], &b""[..]), "{engine}");
    }
}
