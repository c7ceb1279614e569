//! The command line speaks docker: what `cstream run` does not know is an
//! error, never an image; `--rm` is accepted, `-d` refused with a reason,
//! `-h` is the host name; options after the image are the command's; bad
//! values of the docker options are one line and 125 before anything runs;
//! and `--local` refuses every container-only option.

mod common;
mod flag_support;

use common::*;
use flag_support::*;

#[test]
fn rm_is_accepted_and_the_container_is_removed_as_always() {
    for engine in ENGINES {
        assert_eq!(sh(engine, &["--rm"], "echo ran"), Ran::ok("ran\n"), "{engine}");
    }
}

/// A folder the container writes `ran` into if it runs at all.
struct Witness(std::path::PathBuf);

impl Witness {
    fn new() -> Self {
        let d = std::env::temp_dir().join(label("witness").replace('=', "-"));
        std::fs::create_dir_all(&d).unwrap();
        Witness(d)
    }

    fn volume(&self) -> String {
        format!("{}:/out", self.0.display())
    }

    fn ran(&self) -> bool {
        self.0.join("ran").exists()
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `cstream run -v WITNESS:/out FLAGS IMAGE touch /out/ran`, which must fail
/// before anything runs: one line containing `says`, 125, no container, no
/// witness file.
fn refused(flags: &[&str], says: &str) {
    let engine = ENGINES[0];
    let witness = Witness::new();
    let volume = witness.volume();
    let l = label("usage");
    let mut all = vec!["-v", volume.as_str()];
    all.extend_from_slice(flags);
    let ran = cstream(&run_args(engine, &l, &all, &[IMAGE, "touch", "/out/ran"]));
    ran.assert_refused(says);
    assert_eq!(left_behind(engine, &l), 0, "{flags:?}: a container was left behind");
    assert!(!witness.ran(), "{flags:?}: the command ran");
}

#[test]
fn an_unknown_option_is_an_error_never_an_image() {
    refused(&["--bogus"], "cstream: unexpected argument '--bogus' found (see --help)");
    refused(&["-Q"], "unexpected argument '-Q' found");
    refused(&["--rm", "--keep"], "the argument '--rm' cannot be used with '--keep'");
    let bare = cstream(&[]);
    bare.assert_refused("no command given: run, replay, export, gc or engines");
    cstream(&["run"]).assert_refused("the following required arguments were not provided");
}

#[test]
fn detach_is_refused_with_the_reason() {
    for flag in ["-d", "--detach"] {
        refused(&[flag], "--detach is not supported: cstream streams the run to its end");
    }
    let local = cstream(&["run", "--local", "-d", "--", "true"]);
    local.assert_refused("--detach is not supported");
}

#[test]
fn options_after_the_image_belong_to_the_command() {
    for engine in ENGINES {
        let l = label("after-image");
        let ran = cstream(&run_args(engine, &l, &[], &[IMAGE, "echo", "-n", "--rm", "-d", "-h"]));
        assert_eq!(left_behind(engine, &l), 0);
        assert_eq!(ran, Ran::ok("--rm -d -h"), "{engine}");
        let ran = cstream(&run_args(engine, &l, &["-h", "myhost"], &[IMAGE, "hostname"]));
        assert_eq!(left_behind(engine, &l), 0);
        assert_eq!(ran, Ran::ok("myhost\n"), "{engine}");
    }
}

#[test]
fn help_and_version_print_and_exit_0() {
    let help = cstream(&["run", "--help"]);
    assert_eq!((help.code, help.stderr.as_str()), (Some(0), ""), "{help:?}");
    for option in ["-h, --hostname <NAME>", "-m, --memory <SIZE>", "-p, --publish", "--mount <SPEC>", "--init", "--rm"]
    {
        assert!(help.stdout.contains(option), "{option} in {}", help.stdout);
    }
    let version = cstream(&["--version"]);
    assert_eq!(version, Ran::ok(&format!("cstream {}\n", env!("CARGO_PKG_VERSION"))));
    assert_eq!(cstream(&["--help"]).code, Some(0));
}

#[test]
fn bad_values_are_one_line_and_nothing_runs() {
    let cases: [(&[&str], &str); 13] = [
        (&["--ulimit", "nofile"], "invalid ulimit \"nofile\": expected NAME=SOFT[:HARD]"),
        (&["--ulimit", "nofiles=5"], "invalid ulimit \"nofiles\": is not a limit's name"),
        (&["-p", "70000"], "invalid published port \"70000\": is out of range: ports are 1 to 65535"),
        (&["-p", "8000-8001:80"], "port ranges are not supported"),
        (&["--mount", "type=bind,src=/tmp,dst=rel"], "invalid mount target \"rel\": must be an absolute path"),
        (&["--mount", "type=volume,dst=/x,volume-opt=o=1"], "invalid mount option \"volume-opt\": is not supported"),
        (&["--add-host", "db:not-an-ip"], "invalid extra host IP \"not-an-ip\""),
        (&["--add-host", "db"], "invalid --add-host \"db\": expected HOST:IP"),
        (&["--shm-size", "0"], "--shm-size: invalid size \"0\": must be positive"),
        (&["--heartbeat", "soon"], "invalid duration \"soon\""),
        (&["--device", "dev/fuse"], "invalid device \"dev/fuse\": must be an absolute path"),
        (&["--platform", "Linux/amd64"], "invalid platform \"Linux/amd64\""),
        (&["-v", "a:/b:c:d"], "invalid volume \"a:/b:c:d\""),
    ];
    for (flags, says) in cases {
        refused(flags, says);
    }
    refused(&["--runtime", "a b"], "invalid OCI runtime \"a b\"");
    refused(&["-h", "under_score"], "invalid hostname \"under_score\"");
}

#[test]
fn local_refuses_every_container_only_option() {
    let cases: [&[&str]; 13] = [
        &["--init"],
        &["--platform", "linux/amd64"],
        &["--shm-size", "1m"],
        &["--ulimit", "nofile=5"],
        &["--add-host", "a:1.2.3.4"],
        &["-h", "myhost"],
        &["--mount", "type=tmpfs,dst=/x"],
        &["-p", "80"],
        &["--device", "/dev/fuse"],
        &["--runtime", "runc"],
        &["--rm"],
        &["-v", "name:/x"],
        &["-m", "64m"],
    ];
    for flags in cases {
        let mut args = vec!["run", "--local"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["--", "sh", "-c", "echo ran"]);
        cstream(&args).assert_refused("applies to containers only, not to --local");
    }
}
