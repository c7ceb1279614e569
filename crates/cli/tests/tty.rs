//! `cstream run -it` on a real terminal (tmux): the process sees our size,
//! keys reach it, window size changes follow, and our terminal is given back
//! as it was. Needs tmux (scripts/test.sh installs it).

mod common;

use std::time::{Duration, Instant};

use common::*;

fn wait_for(session: &str, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let screen = tmux(session, &["capture-pane", "-t", session, "-p", "-J"]);
        if screen.contains(what) {
            return screen;
        }
        if Instant::now() >= deadline {
            let sessions = tmux(session, &["list-sessions"]);
            panic!("{what:?} never appeared:\n{screen}\n(tmux's sessions: {sessions:?})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A tmux server of its own and its session, killed when dropped (a failing
/// test too), and then no container left with the label of its run.
struct Session {
    name: String,
    engine: &'static str,
    label: String,
}

impl Drop for Session {
    fn drop(&mut self) {
        tmux_gone(&self.name);
        if std::thread::panicking() {
            left_behind(self.engine, &self.label);
        }
    }
}

/// Runs `cstream run -it` in a 90x30 tmux window. `sized_before_start`: the
/// engine gives the process its terminal size before it starts (Podman; Docker
/// from API 1.42 through `ConsoleSize`), so `stty size` as the very first
/// command must read it. Docker 20.10 refuses a resize before start (the
/// README says so), so its terminal is 0x0, for which `stty size` prints
/// nothing, until the resize cstream sends right after start: there the
/// process first waits for a size (10 s at most).
///
/// The process prints its size, then watches it (`stty size` every 50 ms) and
/// prints it again once it changed: the test resizes the window, waits for the
/// new size on the screen, and only then types a line for the process to read.
fn interactive_terminal(engine: &'static str, sized_before_start: bool) {
    let session =
        Session { name: format!("cstream-tty-{}-{}", std::process::id(), engine.len()), engine, label: label("tty") };
    let name = session.name.as_str();
    tmux(name, &["new-session", "-d", "-s", name, "-x", "90", "-y", "30", "bash --norc"]);
    let first = match sized_before_start {
        true => "",
        false => "i=0; while [ -z \"$(stty size 2>/dev/null)\" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; ",
    };
    let script = format!(
        "{first}s=$(stty size); echo $s; while [ \"$(stty size)\" = \"$s\" ]; do sleep 0.05; done; stty size; read x; echo got:$x; exit 3"
    );
    let cmd = format!(
        "{} run -it --engine {engine} --pull never --label {} cstream-test:latest sh -c '{script}'; echo rc=$?; if stty -a | grep -q -- -icanon; then echo STILL-$(echo RAW); else echo TERMINAL-$(echo OK); fi",
        env!("CARGO_BIN_EXE_cstream"),
        session.label,
    );
    tmux(name, &["send-keys", "-t", name, &cmd, "Enter"]);
    // The process's first reading of its size: the line after the command
    // (the last line showing it: the terminal may echo it before the prompt).
    let screen = wait_for(name, "30 90");
    let lines: Vec<&str> = screen.lines().collect();
    let command = lines.iter().rposition(|l| l.contains("echo got:")).expect("the command on the screen");
    let first_reading = lines.get(command + 1).copied().unwrap_or("");
    assert_eq!(first_reading.trim(), "30 90", "the first reading of the size:\n{screen}");
    // A window size change follows the terminal to the process, which says so.
    tmux(name, &["resize-window", "-t", name, "-x", "100", "-y", "40"]);
    let screen = wait_for(name, "40 100");
    let lines: Vec<&str> = screen.lines().collect();
    let command = lines.iter().rposition(|l| l.contains("echo got:")).expect("the command on the screen");
    assert_eq!(lines.get(command + 2).map(|l| l.trim()), Some("40 100"), "the size after the change:\n{screen}");
    tmux(name, &["send-keys", "-t", name, "abc", "Enter"]);
    let screen = wait_for(name, "rc=");
    let screen = if screen.contains("STILL-RAW") { screen } else { wait_for(name, "TERMINAL-OK") };
    assert!(screen.contains("got:abc"), "the keys reached the process:\n{screen}");
    assert!(screen.contains("rc=3"), "{screen}");
    // Back in canonical mode: the terminal was restored.
    assert!(screen.contains("TERMINAL-OK") && !screen.contains("STILL-RAW"), "{screen}");
    assert_eq!(left_behind(engine, &session.label), 0, "{engine}: a container was left behind");
}

#[test]
fn interactive_terminal_on_docker() {
    interactive_terminal("unix:///var/run/docker.sock", false)
}

#[test]
fn interactive_terminal_on_the_current_docker_sized_from_the_first_instruction() {
    interactive_terminal("unix:///run/cstream-docker-current.sock", true)
}

#[test]
fn interactive_terminal_on_podman_sized_from_the_first_instruction() {
    interactive_terminal("unix:///run/podman/podman.sock", true)
}
