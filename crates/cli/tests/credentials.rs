//! Registry logins as Docker and Podman users have them, through the built
//! `cstream`: a real `docker-credential-*` helper named by `credsStore` or
//! `credHelpers`, Podman's `auth.json`, and the ways a lookup fails. The
//! pulls are real: the image is removed from the engine first, pulled from the
//! registry on 127.0.0.1:5001 (basic auth, `scripts/registry.sh`), and removed
//! again. Each `cstream` gets its own PATH, HOME and config folders; this
//! process's environment is never changed.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use base64::Engine as _;
use common::*;
use cstream_engine::core::api::requests;

/// The image on the registry that wants a login (cstream/cstream-secret).
const AUTH_IMAGE: &str = "127.0.0.1:5001/cstream-test:v1";
/// The helper the tests write: `docker-credential-cstreamtest`.
const HELPER: &str = "cstreamtest";

/// The tests pull and remove the same image, and write scripts that must not
/// be open for writing in a child another test forks: one at a time.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner())
}

/// A user's setup in a fresh folder: `bin/` (put first on PATH), `docker/`
/// (DOCKER_CONFIG), `home/` (HOME), `run/` (XDG_RUNTIME_DIR when asked).
struct User {
    dir: PathBuf,
    env: Vec<(&'static str, PathBuf)>,
}

impl User {
    fn new(what: &str) -> User {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
        let dir = std::env::temp_dir().join(format!("cstream-cred-{what}-{}-{nanos}", std::process::id()));
        for sub in ["bin", "docker", "home", "run/containers"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let env = vec![("DOCKER_CONFIG", dir.join("docker")), ("HOME", dir.join("home"))];
        User { dir, env }
    }

    fn docker_config(&self, json: serde_json::Value) {
        std::fs::write(self.dir.join("docker/config.json"), json.to_string()).unwrap();
    }

    fn config_path(&self) -> String {
        self.dir.join("docker/config.json").display().to_string()
    }

    /// `bin/docker-credential-NAME`: logs into 127.0.0.1:5001 with `password`
    /// (or has no login when `None`), and writes the address it was asked
    /// for to `asked`.
    fn helper(&self, name: &str, password: Option<&str>) {
        let answer = match password {
            Some(p) => format!(
                r#"[ "$url" = 127.0.0.1:5001 ] && {{ printf '{{"ServerURL":"%s","Username":"cstream","Secret":"{p}"}}' "$url"; exit 0; }}"#
            ),
            None => String::new(),
        };
        let asked = self.dir.join("asked");
        self.script(
            name,
            &format!(
                "[ \"$1\" = get ] || exit 2\nurl=$(cat)\nprintf '%s' \"$url\" > '{}'\n{answer}\necho 'credentials not found in native keychain'\nexit 1",
                asked.display()
            ),
        );
    }

    fn script(&self, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = self.dir.join(format!("bin/docker-credential-{name}"));
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// The address the helper was asked for, if it was asked.
    fn asked(&self) -> Option<String> {
        std::fs::read_to_string(self.dir.join("asked")).ok()
    }

    /// `cstream ARGS` as this user: PATH with `bin/` first, and none of this
    /// machine's own credential files.
    fn cstream(&self, args: &[&str]) -> Output {
        let path = format!("{}:{}", self.dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
        let mut c = Command::new(env!("CARGO_BIN_EXE_cstream"));
        c.args(args).stdin(Stdio::null()).env("PATH", path);
        for k in ["XDG_RUNTIME_DIR", "REGISTRY_AUTH_FILE", "XDG_CONFIG_HOME", "DOCKER_HOST", "CONTAINER_HOST"] {
            c.env_remove(k);
        }
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c.output().unwrap()
    }

    /// `cstream run --pull always` of [`AUTH_IMAGE`] on `engine`, with the
    /// image removed from the engine first; checks no container is left.
    fn pull_and_run(&self, engine: &str) -> Output {
        forget(engine, AUTH_IMAGE);
        let l = label("cred");
        let out =
            self.cstream(&["run", "--pull", "always", "--engine", engine, "--label", &l, AUTH_IMAGE, "echo", "hi"]);
        assert_eq!(left_behind(engine, &l), 0, "{engine}: a container was left behind");
        out
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A run that pulled with the login: `hi`, exit 0, and the image now on the
/// engine (then removed again).
fn assert_pulled_and_ran(engine: &str, out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{engine}: {err}");
    assert_eq!(out.stdout, b"hi\n", "{engine}");
    assert_eq!(err, "", "{engine}");
    assert!(present(engine, AUTH_IMAGE), "{engine}: the image was not pulled");
    forget(engine, AUTH_IMAGE);
}

/// A run that failed before the process: 125, one line on stderr, nothing
/// on stdout; returns the line.
fn one_line_failure(engine: &str, out: &Output) -> String {
    let err = String::from_utf8(out.stderr.clone()).unwrap();
    assert_eq!(out.status.code(), Some(125), "{engine}: {err}");
    assert!(out.stdout.is_empty(), "{engine}: {:?}", String::from_utf8_lossy(&out.stdout));
    assert!(err.starts_with("cstream: ") && err.ends_with('\n') && err.lines().count() == 1, "{engine}: {err:?}");
    err
}

/// Sends `method` `/images/NAME{suffix}` to `engine`; the answer's status.
fn image_call(engine: &str, method: &str, image: &str, suffix: &str) -> u16 {
    api(engine, method, &format!("/images/{}{suffix}", requests::encode_query(image))).0
}

/// Removes `image` from `engine` (only the tag, where other tags share it).
fn forget(engine: &str, image: &str) {
    let status = image_call(engine, "DELETE", image, "?force=1");
    assert!(status == 200 || status == 404, "{engine}: removing {image}: {status}");
}

fn present(engine: &str, image: &str) -> bool {
    image_call(engine, "GET", image, "/json") == 200
}

#[test]
fn a_creds_store_helper_logs_in_on_each_engine() {
    let _one = one_at_a_time();
    let user = User::new("store");
    user.helper(HELPER, Some("cstream-secret"));
    user.docker_config(serde_json::json!({"auths": {"127.0.0.1:5001": {}}, "credsStore": HELPER}));
    for engine in ENGINES {
        let _ = std::fs::remove_file(user.dir.join("asked"));
        let out = user.pull_and_run(engine);
        assert_eq!(user.asked().as_deref(), Some("127.0.0.1:5001"), "{engine}: the helper was asked for the registry");
        assert_pulled_and_ran(engine, &out);
    }
}

#[test]
fn a_cred_helpers_entry_beats_creds_store_on_each_engine() {
    let _one = one_at_a_time();
    let user = User::new("helpers");
    user.helper(HELPER, Some("cstream-secret"));
    // The store is not on PATH: asking it would fail the run.
    user.docker_config(serde_json::json!({"credsStore": "cstreamnothere", "credHelpers": {"127.0.0.1:5001": HELPER}}));
    for engine in ENGINES {
        let _ = std::fs::remove_file(user.dir.join("asked"));
        let out = user.pull_and_run(engine);
        assert_eq!(user.asked().as_deref(), Some("127.0.0.1:5001"), "{engine}");
        assert_pulled_and_ran(engine, &out);
    }
}

#[test]
fn podman_auth_json_logs_in_on_each_engine() {
    let _one = one_at_a_time();
    let auth = serde_json::json!({"auths": {"127.0.0.1:5001": {
        "auth": base64::engine::general_purpose::STANDARD.encode("cstream:cstream-secret")
    }}})
    .to_string();
    for engine in ENGINES {
        // $XDG_RUNTIME_DIR/containers/auth.json, as `podman login` writes it.
        let mut user = User::new("xdg");
        std::fs::write(user.dir.join("run/containers/auth.json"), &auth).unwrap();
        user.env.push(("XDG_RUNTIME_DIR", user.dir.join("run")));
        assert_pulled_and_ran(engine, &user.pull_and_run(engine));
        // $REGISTRY_AUTH_FILE, with an empty Docker config before it.
        let mut user = User::new("authfile");
        user.docker_config(serde_json::json!({"auths": {}}));
        std::fs::write(user.dir.join("mine.json"), &auth).unwrap();
        user.env.push(("REGISTRY_AUTH_FILE", user.dir.join("mine.json")));
        assert_pulled_and_ran(engine, &user.pull_and_run(engine));
    }
}

#[test]
fn no_login_or_a_wrong_one_fails_the_pull_on_each_engine() {
    let _one = one_at_a_time();
    for (what, password) in [("none", None), ("wrong", Some("wrong-secret"))] {
        let user = User::new(what);
        user.helper(HELPER, password);
        user.docker_config(serde_json::json!({"credsStore": HELPER}));
        for engine in ENGINES {
            let _ = std::fs::remove_file(user.dir.join("asked"));
            let out = user.pull_and_run(engine);
            let err = one_line_failure(engine, &out).to_ascii_lowercase();
            // The registry's refusal (Docker: "unauthorized: authentication required" or
            // "no basic auth credentials"; Podman: "authentication required").
            assert!(
                ["unauthorized", "authentication required", "no basic auth credentials"]
                    .iter()
                    .any(|w| err.contains(w)),
                "{what} {engine}: {err}"
            );
            assert!(!err.contains("credential helper"), "no login is not a helper error: {err}");
            assert_eq!(user.asked().as_deref(), Some("127.0.0.1:5001"), "{what} {engine}");
            assert!(!present(engine, AUTH_IMAGE), "{what} {engine}");
        }
    }
}

#[test]
fn a_helper_that_cannot_answer_fails_the_run_before_it_starts() {
    let _one = one_at_a_time();
    let user = User::new("broken");
    user.script(
        "cstreamfails",
        "cat >/dev/null\necho 'error getting credentials - err: exit status 1, out: keyring locked'\nexit 1",
    );
    user.script("cstreamgarbled", "echo 'Username=cstream Secret=cstream-secret'");
    let config = user.config_path();
    let engine = ENGINES[0];
    for (store, want) in [
        (
            "cstreamnothere",
            format!("cstream: credential helper docker-credential-cstreamnothere (credsStore in {config}) is not on PATH\n"),
        ),
        (
            "cstreamfails",
            "cstream: credential helper docker-credential-cstreamfails failed for 127.0.0.1:5001: exit code 1: \
             error getting credentials - err: exit status 1, out: keyring locked\n"
                .to_string(),
        ),
        (
            "cstreamgarbled",
            "cstream: credential helper docker-credential-cstreamgarbled gave an unreadable answer for 127.0.0.1:5001: it is not JSON\n"
                .to_string(),
        ),
    ] {
        user.docker_config(serde_json::json!({"credsStore": store}));
        let l = label("credfail");
        let out = user.cstream(&["run", "--pull", "always", "--engine", engine, "--label", &l, AUTH_IMAGE, "echo", "hi"]);
        assert_eq!(one_line_failure(engine, &out), want);
        assert_eq!(left_behind(engine, &l), 0);
    }
    // With --pull never there is nothing to log in for: the store is not asked.
    user.docker_config(serde_json::json!({"credsStore": "cstreamnothere"}));
    let out = user.cstream(&["run", "--pull", "never", "--engine", engine, IMAGE, "echo", "hi"]);
    assert_eq!(
        (out.status.code(), &out.stdout[..]),
        (Some(0), &b"hi\n"[..]),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A config.json that is not JSON is an error naming it, not a run without a login.
    std::fs::write(user.dir.join("docker/config.json"), "{\"auths\": {").unwrap();
    let out = user.cstream(&["run", "--engine", engine, AUTH_IMAGE, "echo", "hi"]);
    let err = one_line_failure(engine, &out);
    assert!(
        err.starts_with(&format!("cstream: cannot use the registry credentials in {config}: it is not JSON")),
        "{err}"
    );
}
