//! `cstream run -it` on a real terminal (tmux): the process sees our size,
//! keys reach it, window size changes follow, and our terminal is given back
//! as it was. Needs tmux (scripts/test.sh installs it).

use std::process::Command;
use std::time::{Duration, Instant};

fn tmux(args: &[&str]) -> String {
    let out = Command::new("tmux").args(args).output().expect("tmux is installed (scripts/test.sh installs it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn wait_for(session: &str, what: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let screen = tmux(&["capture-pane", "-t", session, "-p", "-J"]);
        if screen.contains(what) {
            return screen;
        }
        assert!(Instant::now() < deadline, "{what:?} never appeared:\n{screen}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `cstream run -it` in a 90x30 tmux window. `sized_before_start`: the
/// engine gives the process its terminal size before it starts (Podman; Docker
/// from API 1.42 through `ConsoleSize`), so `stty size` as the very first
/// command must read it; Docker 20.10 resizes right after start, so there the
/// process first waits a moment.
fn interactive_terminal(engine: &str, sized_before_start: bool) {
    let session = format!("cstream-tty-{}-{}", std::process::id(), engine.len());
    tmux(&["new-session", "-d", "-s", &session, "-x", "90", "-y", "30", "bash --norc"]);
    let first = if sized_before_start { "" } else { "sleep 1; " };
    let script = format!("{first}stty size; read x; echo got:$x; stty size; exit 3");
    let cmd = format!(
        "{} run -it --engine {engine} --pull never cstream-test:latest sh -c '{script}'; echo rc=$?; if stty -a | grep -q -- -icanon; then echo STILL-$(echo RAW); else echo TERMINAL-$(echo OK); fi",
        env!("CARGO_BIN_EXE_cstream")
    );
    tmux(&["send-keys", "-t", &session, &cmd, "Enter"]);
    // The process's first reading of its size: the line after the command
    // (the last line showing it: the terminal may echo it before the prompt).
    let screen = wait_for(&session, "30 90");
    let lines: Vec<&str> = screen.lines().collect();
    let command = lines.iter().rposition(|l| l.contains("stty size; read x")).expect("the command on the screen");
    let first_reading = lines.get(command + 1).copied().unwrap_or("");
    assert_eq!(first_reading.trim(), "30 90", "the first reading of the size:\n{screen}");
    // A window size change follows the terminal to the process.
    tmux(&["resize-window", "-t", &session, "-x", "100", "-y", "40"]);
    std::thread::sleep(Duration::from_millis(800));
    tmux(&["send-keys", "-t", &session, "abc", "Enter"]);
    let screen = wait_for(&session, "rc=");
    let screen = if screen.contains("STILL-RAW") { screen } else { wait_for(&session, "TERMINAL-OK") };
    tmux(&["kill-session", "-t", &session]);
    assert!(screen.contains("got:abc"), "the keys reached the process:\n{screen}");
    assert!(screen.contains("40 100"), "the new size reached the process:\n{screen}");
    assert!(screen.contains("rc=3"), "{screen}");
    // Back in canonical mode: the terminal was restored.
    assert!(screen.contains("TERMINAL-OK") && !screen.contains("STILL-RAW"), "{screen}");
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
