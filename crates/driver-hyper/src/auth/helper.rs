//! Docker's credential helper protocol: `docker-credential-NAME get` reads the
//! server address on stdin and prints `{"ServerURL", "Username", "Secret"}`,
//! or exits non-zero saying `credentials not found in native keychain`.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::AuthError;

/// What a helper prints when it has no login for the server.
const NOT_FOUND: &str = "credentials not found in native keychain";
/// The user name with which a helper says its secret is an identity token.
pub(crate) const TOKEN_USER: &str = "<token>";
/// The most of a helper's output that is read.
const MAX_OUTPUT: u64 = 1 << 20;

/// A helper's login: a user name (or [`TOKEN_USER`]) and its secret.
pub(crate) struct Answer {
    pub(crate) username: String,
    pub(crate) secret: String,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Answer").field("username", &self.username).field("secret", &"<redacted>").finish()
    }
}

/// Asks helper `name` (named by `origin`, for errors) for `server`'s login,
/// looking for it on `path`. `Ok(None)` when it has none; killed after `timeout`.
pub(crate) fn get(
    name: &str,
    origin: &str,
    server: &str,
    path: Option<&OsStr>,
    timeout: Duration,
) -> Result<Option<Answer>, AuthError> {
    let program = format!("docker-credential-{name}");
    let start_error = |why: String| AuthError::HelperStart { program: program.clone(), origin: origin.into(), why };
    if name.contains('/') || name.contains('\0') {
        return Err(start_error("a helper's name cannot contain '/'".into()));
    }
    let missing = || AuthError::HelperMissing { program: program.clone(), origin: origin.into() };
    let exe = find(&program, path).ok_or_else(missing)?;
    let mut child =
        match Command::new(&exe).arg("get").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn()
        {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(missing()),
            Err(e) => return Err(start_error(e.to_string())),
        };
    // The address, then end of file. A helper that exits without reading it
    // closes the pipe: that is its business, not an error here.
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(server.as_bytes());
    }
    let (stdout, stderr) = (read_all(child.stdout.take()), read_all(child.stderr.take()));
    let deadline = Instant::now() + timeout;
    let timed_out = || AuthError::HelperTimeout { program: program.clone(), server: server.into(), after: timeout };
    let status = wait(&mut child, deadline).ok_or_else(timed_out)?;
    // A helper that left a child holding its output open is not waited for past the deadline.
    let left = || deadline.saturating_duration_since(Instant::now());
    let stdout = stdout.recv_timeout(left()).map_err(|_| timed_out())?;
    let stderr = stderr.recv_timeout(left()).map_err(|_| timed_out())?;
    if !status.success() {
        let said = |b: &[u8]| String::from_utf8_lossy(b).trim().to_string();
        let (out, err) = (said(&stdout), said(&stderr));
        if out.contains(NOT_FOUND) || err.contains(NOT_FOUND) {
            return Ok(None);
        }
        let first_line = [&out, &err].iter().find_map(|s| s.lines().map(str::trim).find(|l| !l.is_empty()));
        let message = match (status.code(), first_line) {
            (Some(code), Some(line)) => format!("exit code {code}: {}", clip(line)),
            (Some(code), None) => format!("exit code {code}, with no message"),
            (None, _) => format!("{status}"),
        };
        return Err(AuthError::HelperFailed { program, server: server.into(), message });
    }
    let bad = |why: &str| AuthError::HelperAnswer { program: program.clone(), server: server.into(), why: why.into() };
    let v: serde_json::Value = serde_json::from_slice(&stdout).map_err(|_| bad("it is not JSON"))?;
    let text = |k: &str| v.get(k).and_then(|s| s.as_str()).map(str::to_string);
    let (Some(username), Some(secret)) = (text("Username"), text("Secret")) else {
        return Err(bad("it lacks the strings \"Username\" and \"Secret\""));
    };
    Ok(Some(Answer { username, secret }))
}

/// `program` in the absolute directories of `path`, as an executable file.
/// (Relative entries, the current directory among them, are skipped.)
fn find(program: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let executable = |p: &Path| std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    std::env::split_paths(path?).filter(|d| d.is_absolute()).map(|d| d.join(program)).find(|p| executable(p))
}

/// Reads a pipe to its end (at most [`MAX_OUTPUT`]) on a thread of its own.
fn read_all(pipe: Option<impl Read + Send + 'static>) -> mpsc::Receiver<Vec<u8>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(p) = pipe {
            let _ = p.take(MAX_OUTPUT).read_to_end(&mut buf);
        }
        let _ = tx.send(buf);
    });
    rx
}

/// The child's exit status, or `None` (and the child killed and reaped) at the deadline.
fn wait(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        let now = Instant::now();
        if now >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

/// One line of at most 200 characters.
fn clip(line: &str) -> String {
    match line.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &line[..i]),
        None => line.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Scripts are written and run one test at a time: a script still open
    /// for writing in a child forked by another thread cannot be executed.
    pub(crate) static SCRIPTS: Mutex<()> = Mutex::new(());

    /// A fresh directory, removed on drop.
    pub(crate) struct TempDir(pub(crate) PathBuf);

    impl TempDir {
        pub(crate) fn new(what: &str) -> TempDir {
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            let dir = std::env::temp_dir().join(format!("cstream-auth-{what}-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            TempDir(dir)
        }

        /// Writes `docker-credential-NAME` in it: see [`write_helper`].
        pub(crate) fn helper(&self, name: &str, body: &str) {
            write_helper(&self.0, name, body);
        }
    }

    /// Writes `dir/docker-credential-NAME`, running `body` under `/bin/sh`.
    pub(crate) fn write_helper(dir: &Path, name: &str, body: &str) {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(format!("docker-credential-{name}"));
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn ask(dir: &TempDir, name: &str, timeout: Duration) -> Result<Option<Answer>, AuthError> {
        get(name, "credsStore in test", "127.0.0.1:5001", Some(dir.0.as_os_str()), timeout)
    }

    #[test]
    fn answers_not_found_and_failures() {
        let _one = SCRIPTS.lock().unwrap_or_else(|p| p.into_inner());
        let dir = TempDir::new("helper");
        let asked = dir.0.join("asked");
        dir.helper(
            "ok",
            &format!(
                r#"[ "$1" = get ] || exit 9; cat > '{}'; echo '{{"ServerURL":"x","Username":"me","Secret":"s3"}}'"#,
                asked.display()
            ),
        );
        let a = ask(&dir, "ok", Duration::from_secs(10)).unwrap().unwrap();
        assert_eq!((a.username.as_str(), a.secret.as_str()), ("me", "s3"));
        assert_eq!(std::fs::read_to_string(&asked).unwrap(), "127.0.0.1:5001", "the address, exactly, on stdin");

        dir.helper("none", "echo 'credentials not found in native keychain'; exit 1");
        assert!(ask(&dir, "none", Duration::from_secs(10)).unwrap().is_none());
        dir.helper("deaf", "echo '{\"Username\":\"u\",\"Secret\":\"s\"}'");
        assert!(ask(&dir, "deaf", Duration::from_secs(10)).unwrap().is_some(), "a helper that never reads stdin");

        dir.helper("locked", "cat >/dev/null; echo 'error: the keyring is locked' >&2; echo second >&2; exit 3");
        let e = ask(&dir, "locked", Duration::from_secs(10)).unwrap_err();
        assert_eq!(
            e.to_string(),
            "credential helper docker-credential-locked failed for 127.0.0.1:5001: exit code 3: error: the keyring is locked"
        );
        dir.helper("quiet", "exit 1");
        let e = ask(&dir, "quiet", Duration::from_secs(10)).unwrap_err();
        assert!(e.to_string().ends_with("exit code 1, with no message"), "{e}");

        dir.helper("garbled", "echo 'Secret: s3cr3t-value'");
        let e = ask(&dir, "garbled", Duration::from_secs(10)).unwrap_err();
        assert!(matches!(e, AuthError::HelperAnswer { .. }), "{e:?}");
        assert!(!e.to_string().contains("s3cr3t"), "no secret in errors: {e}");
        dir.helper("partial", "echo '{\"Username\":\"u\"}'");
        let e = ask(&dir, "partial", Duration::from_secs(10)).unwrap_err();
        assert!(e.to_string().contains("lacks the strings"), "{e}");
    }

    #[test]
    fn missing_unrunnable_and_hanging_helpers() {
        let _one = SCRIPTS.lock().unwrap_or_else(|p| p.into_inner());
        let dir = TempDir::new("missing");
        let e = ask(&dir, "nothere", Duration::from_secs(10)).unwrap_err();
        assert_eq!(e.to_string(), "credential helper docker-credential-nothere (credsStore in test) is not on PATH");
        std::fs::write(dir.0.join("docker-credential-plain"), "not executable").unwrap();
        assert!(matches!(ask(&dir, "plain", Duration::from_secs(10)), Err(AuthError::HelperMissing { .. })));
        let e = get("../evil", "credsStore in test", "x", Some(dir.0.as_os_str()), Duration::from_secs(1)).unwrap_err();
        assert!(matches!(e, AuthError::HelperStart { .. }), "{e:?}");
        assert!(matches!(get("x", "o", "x", None, Duration::from_secs(1)), Err(AuthError::HelperMissing { .. })));

        dir.helper("slow", "sleep 30");
        let began = Instant::now();
        let e = ask(&dir, "slow", Duration::from_millis(300)).unwrap_err();
        assert!(matches!(e, AuthError::HelperTimeout { .. }), "{e:?}");
        assert!(began.elapsed() < Duration::from_secs(5), "{:?}", began.elapsed());
        // Exits at once but leaves a child holding its output open.
        dir.helper("daemon", "sleep 30 & echo '{\"Username\":\"u\",\"Secret\":\"s\"}'");
        let began = Instant::now();
        assert!(matches!(ask(&dir, "daemon", Duration::from_millis(300)), Err(AuthError::HelperTimeout { .. })));
        assert!(began.elapsed() < Duration::from_secs(5), "{:?}", began.elapsed());
    }
}
