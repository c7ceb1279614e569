//! Which engine `cstream` takes: `-H`/`--host`/`--engine`, `--context`,
//! `DOCKER_HOST`, what it refuses, what `cstream engines` lists, and an
//! engine reached over ssh (`scripts/sshd.sh`). Each cstream gets an
//! environment of its own; this process's is never changed.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;

const DOCKER_20: &str = "unix:///var/run/docker.sock";
const DOCKER_26: &str = "unix:///run/cstream-docker-current.sock";
const PODMAN: &str = "unix:///run/podman/podman.sock";
/// The sshd of `scripts/sshd.sh`; its `docker system dial-stdio` reaches Docker 20.10.
const SSH: &str = "ssh://root@127.0.0.1:2222";

/// The variables that choose an engine, none of them inherited.
const ENGINE_VARS: [&str; 8] = [
    "DOCKER_HOST",
    "CONTAINER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CERT_PATH",
    "DOCKER_API_VERSION",
    "XDG_RUNTIME_DIR",
];

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("cstream-cli-discovery-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The directory name the docker CLI gives a context: the sha256 of its name.
fn context_id(name: &str) -> &'static str {
    match name {
        "pod" => "425c89ed5bb78a7623fae60fd8a6f648488168740fe82cf6ad34caa4d07aa972",
        "d26" => "d3495f7d9d1ae5b4c2e7b2bcd1960d3a59fd69f1f23e46e7e80b1f752c0d7e47",
        other => panic!("no id for {other}"),
    }
}

/// A docker config with the context `name` at `host`.
fn docker_config(name: &str, host: &str) -> TempDir {
    let dir = TempDir::new();
    let meta = dir.0.join("contexts/meta").join(context_id(name));
    std::fs::create_dir_all(&meta).unwrap();
    let json = format!(r#"{{"Name":"{name}","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}"}}}}}}"#);
    std::fs::write(meta.join("meta.json"), json).unwrap();
    dir
}

/// cstream with `args`, the engine variables `vars` and no others, and a
/// docker config of its own (`config`, else an empty one).
fn cstream(config: Option<&Path>, vars: &[(&str, &str)], args: &[&str]) -> Output {
    let empty = TempDir::new();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cstream"));
    for var in ENGINE_VARS {
        cmd.env_remove(var);
    }
    cmd.env("DOCKER_CONFIG", config.unwrap_or(&empty.0)).envs(vars.iter().copied());
    cmd.args(args).stdin(Stdio::null()).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `run --keep` with a fresh label, and the engines that hold its container
/// after (by their own lists; the container is removed).
fn run_kept(config: Option<&Path>, vars: &[(&str, &str)], engine_args: &[&str]) -> (Output, Vec<&'static str>) {
    let l = label("discovery");
    let mut args = vec!["run"];
    args.extend_from_slice(engine_args);
    args.extend_from_slice(&["--pull", "never", "--keep", "--label", &l, IMAGE, "echo", "hi"]);
    let out = cstream(config, vars, &args);
    (out, held_by(&l))
}

/// Which of the three engines hold a container labelled `l` (and removes them).
fn held_by(l: &str) -> Vec<&'static str> {
    ENGINES.into_iter().filter(|e| left_behind(e, l) > 0).collect()
}

/// One line, `cstream: ...`, exit 125, nothing on stdout.
fn assert_refused(out: &Output) -> String {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{err}");
    assert!(out.stdout.is_empty(), "it ran: {}", text(&out.stdout));
    assert!(err.starts_with("cstream: ") && err.lines().count() == 1, "{err}");
    err
}

#[test]
fn docker_host_unreachable_is_one_line_and_125_and_nothing_runs() {
    let (out, held) = run_kept(None, &[("DOCKER_HOST", "unix:///nonexistent.sock")], &[]);
    let err = assert_refused(&out);
    assert_eq!(
        err,
        "cstream: no container engine found; tried: unix:///nonexistent.sock from DOCKER_HOST \
         (no such file: is the engine running?)\n"
    );
    assert_eq!(held, Vec::<&str>::new(), "nothing ran anywhere, /var/run/docker.sock included");
}

#[test]
fn dash_h_and_host_name_the_engine_before_docker_host() {
    let vars = [("DOCKER_HOST", DOCKER_20)];
    for flag in ["-H", "--host", "--engine"] {
        let (out, held) = run_kept(None, &vars, &[flag, DOCKER_26]);
        assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), "hi\n".into()), "{flag}: {}", text(&out.stderr));
        assert_eq!(held, [DOCKER_26], "{flag}");
    }
    let (out, held) = run_kept(None, &vars, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(held, [DOCKER_20], "DOCKER_HOST");
}

#[test]
fn context_names_the_engine_and_a_missing_one_is_refused() {
    let config = docker_config("pod", PODMAN);
    // As with the docker CLI, --context beats DOCKER_HOST.
    let (out, held) = run_kept(Some(&config.0), &[("DOCKER_HOST", DOCKER_20)], &["--context", "pod"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(held, [PODMAN]);
    // DOCKER_CONTEXT, with no DOCKER_HOST.
    let (out, held) = run_kept(Some(&config.0), &[("DOCKER_CONTEXT", "pod")], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(held, [PODMAN]);

    let (out, held) = run_kept(Some(&config.0), &[], &["--context", "nope"]);
    assert_eq!(held, Vec::<&str>::new());
    let err = assert_refused(&out);
    assert!(err.starts_with("cstream: cannot use docker context \"nope\": no such context ("), "{err}");
    let (out, held) = run_kept(Some(&config.0), &[("DOCKER_CONTEXT", "nope")], &[]);
    assert_eq!(held, Vec::<&str>::new());
    let err = assert_refused(&out);
    assert!(err.starts_with("cstream: cannot use docker context \"nope\" (named by DOCKER_CONTEXT)"), "{err}");

    let both = cstream(None, &[], &["run", "-H", DOCKER_20, "--context", "pod", IMAGE, "true"]);
    let err = assert_refused(&both);
    assert!(err.contains("'--engine <URL>' cannot be used with '--context <NAME>'"), "an address and a context: {err}");
}

#[test]
fn remote_and_tls_are_refused_from_the_environment_too() {
    let out = cstream(None, &[("DOCKER_HOST", "tcp://192.0.2.10:2375")], &["run", IMAGE, "true"]);
    let err = assert_refused(&out);
    assert!(err.contains("unauthenticated root access") && err.contains("the address is from DOCKER_HOST"), "{err}");
    let vars = [("DOCKER_HOST", "tcp://127.0.0.1:2375"), ("DOCKER_TLS_VERIFY", "1")];
    let out = cstream(None, &vars, &["run", "--pull", "never", IMAGE, "echo", "hi"]);
    let err = assert_refused(&out);
    assert_eq!(
        err,
        "cstream: cannot use engine address \"tcp://127.0.0.1:2375\" from DOCKER_HOST: TLS is not supported \
         (DOCKER_TLS_VERIFY is set); use a Unix socket or ssh:// instead\n"
    );
    let out = cstream(None, &[], &["run", "-H", "tcp://127.0.0.1:2376", IMAGE, "true"]);
    assert!(assert_refused(&out).contains("port 2376 is Docker's TLS port"));
    let out = cstream(None, &[], &["run", "-H", "npipe:////./pipe/docker_engine", IMAGE, "true"]);
    assert!(assert_refused(&out).contains("expected unix:///path/to/socket, tcp://host:port or ssh://"));
}

#[test]
fn engines_lists_what_discovery_would_try_and_where_each_came_from() {
    let out = cstream(None, &[("DOCKER_HOST", DOCKER_26)], &["engines"]);
    let lines = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(lines.lines().count(), 1, "DOCKER_HOST alone: {lines}");
    assert!(lines.starts_with(&format!("{DOCKER_26}\tdocker 26.")), "{lines}");
    assert!(lines.contains("\tfrom DOCKER_HOST\tAPI 1.24-1.45\tspeaks 1.45\t"), "{lines}");

    let out = cstream(None, &[], &["engines", "--engine-kind", "podman"]);
    assert_eq!(
        text(&out.stdout).lines().next().map(|l| l.split('\t').collect::<Vec<_>>()).unwrap()[..3],
        [PODMAN, "podman 4.3.1", "from the defaults"]
    );

    let config = docker_config("d26", DOCKER_26);
    let out = cstream(Some(&config.0), &[], &["engines", "--context", "d26"]);
    assert!(text(&out.stdout).contains("\tfrom --context d26\t"), "{}", text(&out.stdout));
    let out = cstream(None, &[], &["engines", "-H", "unix:///nonexistent.sock"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stdout),
        "unix:///nonexistent.sock\tunreachable\tfrom --engine\tcannot reach the container engine at \
         unix:///nonexistent.sock: no such file: is the engine running?\n"
    );
    let out = cstream(None, &[("DOCKER_CONTEXT", "nope")], &["engines"]);
    assert!(assert_refused(&out).contains("docker context \"nope\""));
}

#[test]
fn over_ssh_the_output_and_exit_code_are_the_process_s() {
    let l = label("ssh");
    let args =
        ["run", "-H", SSH, "--pull", "never", "--label", &l, IMAGE, "sh", "-c", "echo out; echo err >&2; exit 5"];
    let out = cstream(None, &[], &args);
    assert_eq!(
        (out.status.code(), text(&out.stdout), text(&out.stderr)),
        (Some(5), "out\n".into(), "err\n".into()),
        "run scripts/sshd.sh first"
    );
    assert_eq!(left_behind(DOCKER_20, &l), 0);
    let out = cstream(None, &[], &["run", "-H", "ssh://root@127.0.0.1:1", "--pull", "never", IMAGE, "true"]);
    let err = assert_refused(&out);
    assert!(err.contains("ssh: connect to host 127.0.0.1 port 1: Connection refused"), "{err}");
}

/// A terminal's Ctrl-C goes to the whole foreground process group: the ssh
/// connections must not die of it, or the process could not be stopped
/// through them, its output would be cut, and its container left behind.
#[test]
fn ctrl_c_at_a_terminal_stops_a_run_over_ssh_cleanly() {
    use std::os::unix::process::CommandExt;
    let l = label("ssh-sigint");
    let script = "trap 'exit 130' TERM; echo ready; while true; do sleep 0.1; done";
    let mut child = Command::new(env!("CARGO_BIN_EXE_cstream"))
        .args(["run", "-H", SSH, "--pull", "never", "--label", &l, IMAGE, "sh", "-c", script])
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0) // as a shell starts a job: its own group, the terminal's foreground
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    let group = format!("-{}", child.id());
    assert!(Command::new("kill").args(["-INT", "--", &group]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "cstream did not end");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let left = left_behind(DOCKER_20, &l);
    assert_eq!(status.code(), Some(130), "the process's own exit code; stderr: {err}");
    assert_eq!(left, 0);
}

/// Closing stdin over ssh closes ssh's stdin: the process reads to its end.
#[test]
fn stdin_over_ssh_reaches_its_end() {
    use std::io::Write;
    let l = label("ssh-stdin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_cstream"))
        .args(["run", "-i", "-H", SSH, "--pull", "never", "--label", &l, IMAGE, "sh", "-c", "cat; echo done"])
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"one\ntwo\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let left = left_behind(DOCKER_20, &l);
            panic!("the process never saw the end of its stdin ({left} container(s) removed)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!((out.status.code(), text(&out.stdout)), (Some(0), "one\ntwo\ndone\n".into()), "{}", text(&out.stderr));
    assert_eq!(left_behind(DOCKER_20, &l), 0);
}
