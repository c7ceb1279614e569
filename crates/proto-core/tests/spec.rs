//! RunSpec validation, image references, and the create body sent for a spec.

use std::time::Duration;

use cstream_proto_core::api::create::body;
use cstream_proto_core::spec::{ImageRef, MIN_MEMORY, Secret};
use cstream_proto_core::{RunInfo, RunSpec, SpecError};
use serde_json::{Value, json};

fn run() -> RunInfo {
    RunInfo { run_id: "r-42".into(), created_unix: 1_700_000_000, owner: None }
}

#[test]
fn image_references() {
    let cases = [
        ("alpine", None, "alpine", None, None, "alpine:latest", ("alpine", "latest")),
        ("alpine:3.20", None, "alpine", Some("3.20"), None, "alpine:3.20", ("alpine", "3.20")),
        ("library/alpine", None, "library/alpine", None, None, "library/alpine:latest", ("library/alpine", "latest")),
        ("localhost/app", Some("localhost"), "app", None, None, "localhost/app:latest", ("localhost/app", "latest")),
        (
            "127.0.0.1:5000/team/app:v1.2-rc_3",
            Some("127.0.0.1:5000"),
            "team/app",
            Some("v1.2-rc_3"),
            None,
            "127.0.0.1:5000/team/app:v1.2-rc_3",
            ("127.0.0.1:5000/team/app", "v1.2-rc_3"),
        ),
        (
            "[::1]:5000/app",
            Some("[::1]:5000"),
            "app",
            None,
            None,
            "[::1]:5000/app:latest",
            ("[::1]:5000/app", "latest"),
        ),
        (
            "ghcr.io/a__b/c-d.e",
            Some("ghcr.io"),
            "a__b/c-d.e",
            None,
            None,
            "ghcr.io/a__b/c-d.e:latest",
            ("ghcr.io/a__b/c-d.e", "latest"),
        ),
    ];
    for (input, registry, repo, tag, digest, display, pull) in cases {
        let r = ImageRef::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!((r.registry(), r.repository(), r.tag(), r.digest()), (registry, repo, tag, digest), "{input}");
        assert_eq!(r.to_string(), display);
        let (from, t) = r.pull_params();
        assert_eq!((from.as_str(), t), pull);
    }
    let d = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    let r = ImageRef::parse(&format!("app:v1@{d}")).unwrap();
    assert_eq!((r.tag(), r.digest()), (Some("v1"), Some(d)));
    assert_eq!(r.pull_params().1, d, "the digest wins as the pull tag");
    assert_eq!(ImageRef::parse(&format!("app@{d}")).unwrap().to_string(), format!("app@{d}"));
}

#[test]
fn bad_image_references_are_refused_with_a_reason() {
    let bad = [
        "",
        "team/UPPER",
        "UPPER/bad",
        "Alpine",
        "app:",
        "app:-bad",
        "app:a/b",
        "app@sha256:123",
        "app@sha256:ZZZ3456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "app@nodigest",
        "-app",
        "app-",
        "a//b",
        "a/.b",
        "a...b",
        "host:port99999/app",
        "bad_host.com:80/app",
        "[::1/app",
        "app name",
        "app\n",
        &"a".repeat(256),
        &format!("app:{}", "t".repeat(129)),
    ];
    for b in bad {
        match ImageRef::parse(b) {
            Err(SpecError::Image { reference, why }) => {
                assert_eq!(reference, b);
                assert!(!why.is_empty());
            }
            other => panic!("{b:?} gave {other:?}"),
        }
        assert!(RunSpec::builder(b).build().is_err());
    }
}

fn invalid(b: cstream_proto_core::spec::RunSpecBuilder) -> String {
    match b.build() {
        Err(e) => e.to_string(),
        Ok(_) => panic!("accepted"),
    }
}

#[test]
fn bad_specs_name_the_field_and_the_problem() {
    let b = || RunSpec::builder("alpine");
    assert!(
        invalid(b().mount("/src", "relative", false)).contains("mount target \"relative\": must be an absolute path")
    );
    assert!(invalid(b().mount("/src", "/a/../etc", false)).contains("must not contain '..'"));
    assert!(invalid(b().mount("src", "/a", false)).contains("mount source"));
    assert!(invalid(b().mount("/a", "/x", false).tmpfs("/x/", "")).contains("used by two mounts"));
    assert!(invalid(b().memory(MIN_MEMORY - 1)).contains("below the engine's minimum of 6 MiB"));
    assert!(invalid(b().memory(MIN_MEMORY).memory_swap(1)).contains("memory+swap"));
    assert!(invalid(b().memory_swap(-1)).contains("needs a memory limit"));
    assert!(invalid(b().cpu_millis(0)).contains("CPU limit"));
    assert!(invalid(b().pids_limit(0)).contains("pids limit"));
    assert!(invalid(b().working_dir("work")).contains("working directory"));
    assert!(invalid(b().env("A=B", "x")).contains("environment variable name"));
    assert!(invalid(b().env_list(["NOEQUALS"])).contains("expected NAME=value"));
    assert!(invalid(b().command(Vec::<String>::new())).contains("command"));
    assert!(invalid(b().command(["a\0b"])).contains("NUL"));
    assert!(invalid(b().cap_add("net admin")).contains("capability"));
    assert!(invalid(b().cap_add("NET_ADMIN").cap_drop("CAP_NET_ADMIN")).contains("both added and dropped"));
    assert!(invalid(b().privileged(true).no_new_privileges(true)).contains("cannot be used together"));
    assert!(invalid(b().name("-bad")).contains("container name"));
    assert!(invalid(b().label("io.cstream.run", "spoof")).contains("reserves"));
    assert!(invalid(b().stop_signal("TERM please")).contains("stop signal"));
    assert!(invalid(b().stop_signal("99")).contains("stop signal"));
    assert!(invalid(b().heartbeat(Some(Duration::ZERO))).contains("heartbeat"));
    assert!(invalid(b().timeout(Duration::ZERO)).contains("timeout"));
    assert!(invalid(b().tty_size(80, 24)).contains("needs tty mode"));
    assert!(invalid(b().tty(true).tty_size(0, 24)).contains("terminal size"));
    assert!(invalid(b().network("bad net")).contains("network mode"));
    assert!(invalid(b().log_driver("")).contains("log driver"));
}

#[test]
fn env_values_and_credentials_never_show_in_debug_output() {
    let spec = RunSpec::builder("alpine")
        .env("API_TOKEN", "hunter2")
        .envs([("DB_PASSWORD", "s3cret")])
        .registry_auth(Secret::new("eyJwYXNzd29yZCI6InAifQ"))
        .build()
        .unwrap();
    let dbg = format!("{spec:?}");
    assert!(dbg.contains("API_TOKEN=<redacted>") && dbg.contains("DB_PASSWORD=<redacted>"), "{dbg}");
    for secret in ["hunter2", "s3cret", "eyJwYXNzd29yZCI6InAifQ"] {
        assert!(!dbg.contains(secret), "{secret} leaked: {dbg}");
    }
    let err = invalid(RunSpec::builder("alpine").env("K", "secret\0value"));
    assert!(!err.contains("secret"), "{err}");
    let req = cstream_proto_core::api::requests::pull(
        cstream_proto_core::api::ApiVersion::new(1, 41),
        "alpine",
        "latest",
        Some(&Secret::new("topsecret")),
    );
    assert_eq!(req.header("X-Registry-Auth"), Some("topsecret"));
    assert!(!format!("{req:?}").contains("topsecret"));
}

#[test]
fn the_create_body_for_a_minimal_spec() {
    let spec = RunSpec::builder("alpine").build().unwrap();
    let v: Value = serde_json::from_slice(&body(&spec, &run())).unwrap();
    assert_eq!(
        v,
        json!({
            "Image": "alpine:latest",
            "Labels": {
                "io.cstream.created": "1700000000",
                "io.cstream.creator": concat!("cstream/", env!("CARGO_PKG_VERSION")),
                "io.cstream.run": "r-42"
            },
            "Tty": false, "OpenStdin": false, "StdinOnce": false,
            "AttachStdin": false, "AttachStdout": true, "AttachStderr": true,
            "StopSignal": "SIGTERM",
            "HostConfig": { "ReadonlyRootfs": false, "Privileged": false, "AutoRemove": false }
        })
    );
}

#[test]
fn the_create_body_for_a_full_spec() {
    let spec = RunSpec::builder("127.0.0.1:5000/team/app:v1")
        .command(["make", "test"])
        .entrypoint(["/bin/sh", "-c"])
        .env("CI", "true")
        .env_list(["GOPATH=/go", "EMPTY="])
        .working_dir("/workspace")
        .user("1000:1000")
        .mount("/host/src", "/workspace", false)
        .mount("/host/cache", "/cache", true)
        .tmpfs("/tmp", "size=64m")
        .memory(512 * 1024 * 1024)
        .cpu_millis(1500)
        .pids_limit(256)
        .read_only_rootfs(true)
        .network("none")
        .cap_drop("ALL")
        .cap_add("NET_BIND_SERVICE")
        .no_new_privileges(true)
        .label("team", "ci")
        .name("job-7")
        .tty(true)
        .stdin(true)
        .log_driver("none")
        .stop_signal("SIGINT")
        .build()
        .unwrap();
    let v: Value = serde_json::from_slice(&body(&spec, &run())).unwrap();
    assert_eq!(v["Image"], "127.0.0.1:5000/team/app:v1");
    assert_eq!(v["Cmd"], json!(["make", "test"]));
    assert_eq!(v["Entrypoint"], json!(["/bin/sh", "-c"]));
    assert_eq!(v["Env"], json!(["CI=true", "GOPATH=/go", "EMPTY="]));
    assert_eq!((v["WorkingDir"].as_str(), v["User"].as_str()), (Some("/workspace"), Some("1000:1000")));
    assert_eq!(v["Labels"]["team"], "ci");
    assert_eq!(v["Labels"].get("io.cstream.owner"), None, "no owner given, none sent");
    let owned = RunInfo { owner: Some("host=h;boot=b;pid=7;start=9".into()), ..run() };
    let v: Value = serde_json::from_slice(&body(&spec, &owned)).unwrap();
    assert_eq!(v["Labels"]["io.cstream.owner"], "host=h;boot=b;pid=7;start=9");
    assert_eq!(
        (v["Tty"].as_bool(), v["OpenStdin"].as_bool(), v["StdinOnce"].as_bool()),
        (Some(true), Some(true), Some(true))
    );
    assert_eq!(v["StopSignal"], "SIGINT");
    let h = &v["HostConfig"];
    assert_eq!(
        h["Mounts"],
        json!([
            {"Type": "bind", "Source": "/host/src", "Target": "/workspace", "ReadOnly": false},
            {"Type": "bind", "Source": "/host/cache", "Target": "/cache", "ReadOnly": true}
        ])
    );
    assert_eq!(h["Tmpfs"], json!({"/tmp": "size=64m"}));
    assert_eq!(h["Memory"], 536870912);
    assert_eq!(h["MemorySwap"], 536870912, "swap off unless asked");
    assert_eq!(h["NanoCpus"], 1_500_000_000u64);
    assert_eq!(h["PidsLimit"], 256);
    assert_eq!(h["ReadonlyRootfs"], true);
    assert_eq!(h["NetworkMode"], "none");
    assert_eq!((h["CapDrop"].clone(), h["CapAdd"].clone()), (json!(["ALL"]), json!(["NET_BIND_SERVICE"])));
    assert_eq!(h["SecurityOpt"], json!(["no-new-privileges"]));
    assert_eq!(h["Privileged"], false);
    assert_eq!(h["LogConfig"], json!({"Type": "none", "Config": {}}));
    let req = cstream_proto_core::api::requests::create(
        cstream_proto_core::api::ApiVersion::new(1, 41),
        Some("job-7"),
        body(&spec, &run()),
    );
    assert_eq!(req.path, "/v1.41/containers/create?name=job-7");
    assert_eq!(req.header("content-type"), Some("application/json"));
}

#[test]
fn swap_when_asked() {
    let spec = RunSpec::builder("a").memory(MIN_MEMORY).memory_swap(-1).build().unwrap();
    let v: Value = serde_json::from_slice(&body(&spec, &run())).unwrap();
    assert_eq!(v["HostConfig"]["MemorySwap"], -1);
}
