//! `-v` and `--mount` (named and anonymous volumes, bind mounts, SELinux
//! relabel options) and `-p` on each engine: what the container sees, what
//! the engine holds after, and a published port reached from the host.

mod common;
mod flag_support;

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use flag_support::*;

#[test]
fn a_named_volume_outlives_the_run_until_removed_through_the_api() {
    for engine in ENGINES {
        let volume = NamedVolume::new(engine);
        let name = volume.name.as_str();
        // `-v NAME:/data`: a name, not $PWD/NAME.
        let wrote =
            sh(engine, &["-v", &format!("{name}:/data")], "echo kept > /data/f; grep -c ' /data ' /proc/mounts");
        assert_eq!(wrote, Ran::ok("1\n"), "{engine}");
        assert!(!std::path::Path::new(name).exists(), "{engine}: not a path in the current directory");
        assert!(volume.exists(), "{engine}: the volume stays after the run");
        // A second run sees the file, through --mount, read-only.
        let spec = format!("type=volume,src={name},dst=/data,readonly");
        let read = sh(engine, &["--mount", &spec], "cat /data/f; touch /data/g");
        assert_eq!(read.stdout, "kept\n", "{engine}: {read:?}");
        assert_eq!((read.stderr.as_str(), read.code), ("touch: /data/g: Read-only file system\n", Some(1)), "{engine}");
        // Removed through the engine's API, it is gone.
        let (status, body) = api(engine, "DELETE", &format!("/volumes/{name}"));
        assert_eq!(status, 204, "{engine}: {body}");
        assert!(!volume.exists(), "{engine}");
    }
}

/// The names of the volumes mounted at `targets`, from /proc/self/mountinfo:
/// the mount's root is `.../volumes/NAME/_data` on the engine's host.
const VOLUME_NAMES: &str = "for t in /anon /anon2; do grep \" $t \" /proc/self/mountinfo | cut -d' ' -f4; done";

#[test]
fn anonymous_volumes_are_removed_with_the_container() {
    for engine in ENGINES {
        let ran = sh(engine, &["-v", "/anon", "--mount", "type=volume,dst=/anon2"], VOLUME_NAMES);
        assert_eq!((ran.code, ran.stderr.as_str()), (Some(0), ""), "{engine}: {ran:?}");
        let names: Vec<&str> =
            ran.stdout.lines().filter_map(|root| root.strip_suffix("/_data")?.rsplit('/').next()).collect();
        assert_eq!(names.len(), 2, "{engine}: {ran:?}");
        // Any left behind is removed, then reported.
        let left: Vec<&str> =
            names.into_iter().filter(|name| api(engine, "GET", &format!("/volumes/{name}")).0 != 404).collect();
        for name in &left {
            api(engine, "DELETE", &format!("/volumes/{name}"));
        }
        assert!(left.is_empty(), "{engine}: volumes left behind: {left:?}");
    }
}

/// A folder holding the file `f` (`host`), removed on drop.
struct HostDir(std::path::PathBuf);

impl HostDir {
    fn new() -> Self {
        let d = std::env::temp_dir().join(label("bind").replace('=', "-"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("f"), "host\n").unwrap();
        HostDir(d)
    }
}

impl Drop for HostDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn bind_mounts_by_mount_and_by_volume_with_relabel_options() {
    let dir = HostDir::new();
    let d = dir.0.display().to_string();
    let script = "cat /in/f; touch /in/x";
    let read_only = ("host\n".to_string(), "touch: /in/x: Read-only file system\n".to_string(), Some(1));
    for engine in ENGINES {
        let cases = [
            vec!["--mount".to_string(), format!("type=bind,source={d},target=/in,readonly")],
            vec!["-v".to_string(), format!("{d}:/in:ro,z")],
            vec!["-v".to_string(), format!("{d}:/in:Z,ro")],
        ];
        for flags in cases {
            let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
            let ran = sh(engine, &flags, script);
            assert_eq!((ran.stdout, ran.stderr, ran.code), read_only.clone(), "{engine} {flags:?}");
        }
        // Writable with :z; the file is written on the host.
        let ran = sh(engine, &["-v", &format!("{d}:/in:z")], "echo from-container > /in/w");
        assert_eq!(ran, Ran::ok(""), "{engine}");
        assert_eq!(std::fs::read_to_string(dir.0.join("w")).unwrap(), "from-container\n", "{engine}");
    }
    // A relative path with a `/` or a leading `.` is a host path from the current directory.
    let parent = dir.0.parent().unwrap();
    let base = dir.0.file_name().unwrap().to_str().unwrap();
    for source in [format!("./{base}"), format!("{base}/")] {
        let l = label("bind-relative");
        let spec = format!("{source}:/in:ro");
        let args = run_args(ENGINES[0], &l, &["-v", &spec], &[IMAGE, "cat", "/in/f"]);
        let out = Command::new(env!("CARGO_BIN_EXE_cstream")).args(&args).current_dir(parent).output().unwrap();
        assert_eq!(left_behind(ENGINES[0], &l), 0);
        assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(0), &b"host\n"[..]), "{source}: {out:?}");
    }
}

/// A port no one listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Connects to 127.0.0.1:`port` until the container's server answers (an
/// engine's proxy may accept before the server listens, and close at once),
/// for 30 s at most; what it sent.
fn fetch(port: u16, child: &mut std::process::Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("cstream exited ({status}) before the port answered");
        }
        if let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = c.set_read_timeout(Some(Duration::from_secs(5)));
            let mut got = String::new();
            if c.read_to_string(&mut got).is_ok() && !got.is_empty() {
                return got;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("nothing answered on 127.0.0.1:{port} within 30 s");
}

#[test]
fn a_published_port_is_reachable_from_the_host() {
    for engine in ENGINES {
        for form in ["127.0.0.1:{port}:8000", "{port}:8000/tcp"] {
            let port = free_port();
            let publish = form.replace("{port}", &port.to_string());
            let l = label("publish");
            let args = run_args(engine, &l, &["-p", &publish], &[IMAGE, "sh", "-c", "echo served | nc -l -p 8000"]);
            let child = Command::new(env!("CARGO_BIN_EXE_cstream"))
                .args(&args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut child = Running(child);
            let got = fetch(port, &mut child.0);
            let status = child.wait();
            assert_eq!(left_behind(engine, &l), 0, "{engine}: a container was left behind");
            assert_eq!((got.as_str(), status.code()), ("served\n", Some(0)), "{engine} -p {publish}");
        }
    }
}
