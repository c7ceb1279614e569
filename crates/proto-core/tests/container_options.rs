//! The options beyond the basics (init, platform, /dev/shm, ulimits, hosts,
//! host name, volumes and `--mount`, ports, devices, runtime, raw create
//! JSON): docker's syntaxes read, bad values refused with a typed error
//! naming the field, the create body and query sent, and what an engine
//! would ignore refused before anything is created.

mod support;

use std::borrow::Cow;

use cstream_proto_core::api::create::body;
use cstream_proto_core::spec::{Device, MountSpec, Protocol, Publish, Relabel, Tmpfs, Ulimit, Volume};
use cstream_proto_core::{Error, PullPolicy, RunInfo, RunSpec, SpecError};
use proptest::prelude::*;
use serde_json::{Value, json};
use support::{Engine, Flavor, Purpose, Reply, Split};

fn run_info() -> RunInfo {
    RunInfo { run_id: "r-42".into(), created_unix: 1_700_000_000, owner: None }
}

fn created(spec: &RunSpec) -> Value {
    serde_json::from_slice(&body(spec, &run_info())).unwrap()
}

/// The field and reason of a refused spec, or of a refused parse: texts
/// of cstream's own, borrowed, never allocated.
fn refused<T: std::fmt::Debug>(r: Result<T, SpecError>) -> (&'static str, &'static str) {
    match r {
        Err(SpecError::Invalid { field: Cow::Borrowed(field), why: Cow::Borrowed(why), .. }) => (field, why),
        other => panic!("not an Invalid: {other:?}"),
    }
}

#[test]
fn mount_specs_in_docker_s_syntax() {
    let v = |name: Option<&str>, target: &str, read_only, no_copy| {
        let name = name.map(Into::into);
        MountSpec::Volume(Volume { name, target: target.into(), read_only, no_copy, relabel: None })
    };
    let cases = [
        ("type=volume,source=cache,target=/cache", v(Some("cache"), "/cache", false, false)),
        ("src=cache,dst=/cache,readonly", v(Some("cache"), "/cache", true, false)),
        ("source=cache,destination=/cache,ro=true,volume-nocopy", v(Some("cache"), "/cache", true, true)),
        ("target=/anon,ro=0", v(None, "/anon", false, false)),
        ("type=volume,target=/c,consistency=cached", v(None, "/c", false, false)),
    ];
    for (text, want) in cases {
        assert_eq!(text.parse::<MountSpec>().unwrap(), want, "{text}");
    }
    let bind = "type=bind,src=/host,dst=/in,readonly".parse::<MountSpec>().unwrap();
    match bind {
        MountSpec::Bind(m) => assert_eq!((m.source.as_str(), m.target.as_str(), m.read_only), ("/host", "/in", true)),
        other => panic!("{other:?}"),
    }
    let tmpfs = "type=tmpfs,dst=/scratch,tmpfs-size=1m,tmpfs-mode=1770".parse::<MountSpec>().unwrap();
    let want = Tmpfs { target: "/scratch".into(), options: "size=1048576,mode=1770".into() };
    assert_eq!(tmpfs, MountSpec::Tmpfs(want));
    let ro = "type=tmpfs,dst=/t,ro".parse::<MountSpec>().unwrap();
    assert_eq!(ro, MountSpec::Tmpfs(Tmpfs { target: "/t".into(), options: "ro".into() }));
}

#[test]
fn bad_mount_specs_say_why() {
    let cases = [
        ("type=bind,target=/x", "mount", "type=bind needs a source (source=/host/path)"),
        ("type=volume,source=v", "mount", "needs a target (target=/path)"),
        ("type=nfs,target=/x", "mount", "type must be bind, volume or tmpfs"),
        ("type=volume,target=/x,volume-opt=o=addr", "mount option", ""),
        ("type=bind,src=/a,target=/x,bind-propagation=rshared", "mount option", ""),
        ("type=tmpfs,src=/a,target=/x", "mount", "type=tmpfs takes no source and no volume- options"),
        ("type=tmpfs,target=/x,tmpfs-size=0", "mount", "tmpfs-size must be positive"),
        ("type=tmpfs,target=/x,tmpfs-size=lots", "mount", ""),
        ("type=tmpfs,target=/x,tmpfs-size=99999999999g", "mount", "tmpfs-size is too large"),
        ("type=tmpfs,target=/x,tmpfs-mode=999", "mount", "tmpfs-mode must be octal, such as 1777"),
        ("type=bind,src=/a,target=/x,tmpfs-size=1m", "mount", "tmpfs- and volume- options do not apply to type=bind"),
        ("type=volume,target=/x,readonly=maybe", "mount", "a flag's value must be true, false, 1 or 0"),
        ("type=volume,target=/x,,", "mount", "has an empty option"),
        ("type=volume,target=", "mount", "an option needs a value, as key=value"),
        ("", "mount", "has an empty option"),
    ];
    for (text, field, why) in cases {
        let (f, w) = refused(text.parse::<MountSpec>());
        assert_eq!(f, field, "{text}");
        if !why.is_empty() {
            assert_eq!(w, why, "{text}");
        }
    }
    // A relative target, or a volume name the engines refuse, is the builder's to refuse.
    let b = |m: &str| RunSpec::builder("alpine").mount_spec(m.parse().unwrap()).build();
    assert_eq!(refused(b("type=volume,target=data")), ("mount target", "must be an absolute path"));
    assert_eq!(refused(b("type=bind,src=/a,target=rel")), ("mount target", "must be an absolute path"));
    assert_eq!(refused(b("type=tmpfs,target=../x")), ("tmpfs target", "must be an absolute path"));
    assert_eq!(refused(b("type=volume,src=a b,target=/x")).0, "volume name");
    assert_eq!(refused(b("type=volume,target=/")), ("mount target", "cannot be the root directory"));
    assert_eq!(refused(b("type=bind,src=rel,target=/x")).0, "mount source");
    let twice = RunSpec::builder("alpine").volume("v1", "/data", false).mount("/host", "/data/", false).build();
    assert_eq!(refused(twice), ("mount target", "is used by two mounts"));
}

#[test]
fn published_ports_in_docker_s_syntax() {
    let p = |ip: Option<&str>, host: Option<u16>, container, protocol| Publish {
        host_ip: ip.map(Into::into),
        host_port: host,
        container_port: container,
        protocol,
    };
    let cases = [
        ("80", p(None, None, 80, Protocol::Tcp)),
        ("8080:80", p(None, Some(8080), 80, Protocol::Tcp)),
        ("127.0.0.1:8080:80", p(Some("127.0.0.1"), Some(8080), 80, Protocol::Tcp)),
        ("127.0.0.1::80", p(Some("127.0.0.1"), None, 80, Protocol::Tcp)),
        ("53:53/udp", p(None, Some(53), 53, Protocol::Udp)),
        ("[::1]:8080:80/sctp", p(Some("::1"), Some(8080), 80, Protocol::Sctp)),
        ("[::1]::80", p(Some("::1"), None, 80, Protocol::Tcp)),
        ("65535:1", p(None, Some(65535), 1, Protocol::Tcp)),
    ];
    for (text, want) in cases {
        assert_eq!(text.parse::<Publish>().unwrap(), want, "{text}");
    }
    let out_of_range = "is out of range: ports are 1 to 65535";
    let cases = [
        ("70000", out_of_range),
        ("8080:0", out_of_range),
        ("99999:80", out_of_range),
        ("8000-8010:80", "port ranges are not supported; publish each port"),
        ("80/icmp", "the protocol must be tcp, udp or sctp"),
        ("http", "expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp|sctp]"),
        ("::1:80:80", "expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp|sctp], an IPv6 address in brackets"),
        ("[::1]80", "an IPv6 address in brackets needs :HOSTPORT:CONTAINERPORT after it"),
        (":8080:80", "the host IP is empty"),
        ("", "expected [IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp|sctp]"),
    ];
    for (text, why) in cases {
        assert_eq!(refused(text.parse::<Publish>()), ("published port", why), "{text}");
    }
    // Built by hand: the builder checks what the parser would have.
    let b = |p: Publish| RunSpec::builder("alpine").publish(p).build();
    assert_eq!(refused(b(Publish::tcp(0, 80))).0, "published port");
    assert_eq!(refused(b(Publish::tcp(8080, 0))).0, "published port");
    let mut bad_ip = Publish::tcp(8080, 80);
    bad_ip.host_ip = Some("localhost".into());
    assert_eq!(refused(b(bad_ip)), ("published port host IP", "must be an IPv4 or IPv6 address"));
    assert_eq!(refused(b("300.1.1.1:8080:80".parse().unwrap())).0, "published port host IP");
}

#[test]
fn ulimits_devices_hosts_and_the_rest_are_checked() {
    let u: Ulimit = "nofile=1024:4096".parse().unwrap();
    assert_eq!(u, Ulimit { name: "nofile".into(), soft: 1024, hard: 4096 });
    assert_eq!("core=-1".parse::<Ulimit>().unwrap(), Ulimit { name: "core".into(), soft: -1, hard: -1 });
    for bad in ["nofile", "nofile=", "nofile=a:b", "nofile=1:2:3"] {
        assert_eq!(refused(bad.parse::<Ulimit>()).0, "ulimit", "{bad}");
    }
    let b = || RunSpec::builder("alpine");
    let ulimit = |s: &str| b().ulimit(s.parse().unwrap()).build();
    assert_eq!(refused(ulimit("nofiles=5")).1, "is not a limit's name, such as nofile or nproc");
    assert_eq!(refused(ulimit("nofile=10:5")).1, "the soft limit must be at most the hard one; -1 is unlimited");
    assert_eq!(refused(ulimit("nofile=-1:5")).0, "ulimit");
    assert_eq!(refused(ulimit("=5")).0, "ulimit");
    assert_eq!(refused(ulimit("nofile=-2")).0, "ulimit");
    assert!(ulimit("nofile=5:-1").is_ok());
    let twice = b().ulimit("nproc=5".parse().unwrap()).ulimit("nproc=6".parse().unwrap()).build();
    assert_eq!(refused(twice), ("ulimit", "is given twice"));

    let d = |s: &str| s.parse::<Device>().unwrap();
    let dev = |h: &str, c: &str, p: &str| Device { host: h.into(), container: c.into(), permissions: p.into() };
    assert_eq!(d("/dev/fuse"), dev("/dev/fuse", "/dev/fuse", "rwm"));
    assert_eq!(d("/dev/fuse:r"), dev("/dev/fuse", "/dev/fuse", "r"));
    assert_eq!(d("/dev/fuse:/dev/f"), dev("/dev/fuse", "/dev/f", "rwm"));
    assert_eq!(d("/dev/fuse:/dev/f:rw"), dev("/dev/fuse", "/dev/f", "rw"));
    assert_eq!(refused("/a:/b:c:d".parse::<Device>()).0, "device");
    let device = |s: &str| b().device(d(s)).build();
    assert_eq!(refused(device("dev/fuse")).0, "device");
    assert_eq!(refused(device("/dev/fuse:f")).0, "device path in the container");
    assert_eq!(refused(device("/dev/fuse:/f:rwx")).0, "device permissions");
    assert_eq!(refused(device("/dev/fuse:/f:rr")).0, "device permissions");

    assert_eq!(refused(b().add_host("db", "10.0.0.300").build()).0, "extra host IP");
    assert_eq!(refused(b().add_host("db", "db.local").build()).0, "extra host IP");
    assert_eq!(refused(b().add_host("", "10.0.0.1").build()).0, "extra host name");
    assert_eq!(refused(b().add_host("a b", "10.0.0.1").build()).0, "extra host name");
    assert!(b().add_host("db", "::1").add_host("gw", "host-gateway").build().is_ok());
    assert_eq!(refused(b().shm_size(0).build()), ("shm size", "must be positive"));
    assert_eq!(refused(b().shm_size(u64::MAX).build()), ("shm size", "is too large"));
    for bad in ["-h", "a..b", "under_score", &"x".repeat(64), ""] {
        assert_eq!(refused(b().hostname(bad).build()).0, "hostname", "{bad}");
    }
    assert!(b().hostname("build-7.ci").build().is_ok());
    for bad in ["", "linux/", "Linux/amd64", "linux/amd64/v8/x", "linux amd64"] {
        assert_eq!(refused(b().platform(bad).build()).0, "platform", "{bad}");
    }
    assert!(b().platform("linux/arm/v7").build().is_ok());
    assert_eq!(refused(b().runtime("run c").build()).0, "OCI runtime");
    assert_eq!(refused(b().runtime("").build()).0, "OCI runtime");
    let anonymous =
        Volume { name: None, target: "/x".into(), read_only: false, no_copy: false, relabel: Some(Relabel::Shared) };
    assert_eq!(refused(b().mount_spec(MountSpec::Volume(anonymous)).build()).0, "volume");
    let colon = cstream_proto_core::spec::Mount {
        source: "/a:b".into(),
        target: "/x".into(),
        read_only: false,
        relabel: Some(Relabel::Private),
    };
    assert_eq!(refused(b().mount_spec(MountSpec::Bind(colon)).build()).0, "relabeled mount");
}

#[test]
fn the_create_body_carries_each_option() {
    let spec = RunSpec::builder("alpine")
        .init(true)
        .platform("linux/amd64")
        .shm_size(1 << 20)
        .ulimit("nofile=512:1024".parse().unwrap())
        .add_host("db", "10.1.2.3")
        .add_host("v6", "::1")
        .hostname("myhost")
        .volume("cache", "/cache", true)
        .mount_spec("target=/anon,volume-nocopy".parse().unwrap())
        .mount_spec("type=tmpfs,dst=/scratch,tmpfs-size=64k".parse().unwrap())
        .mount("/host/src", "/src", false)
        .mount_spec(MountSpec::Bind(cstream_proto_core::spec::Mount {
            source: "/host/z".into(),
            target: "/z".into(),
            read_only: true,
            relabel: Some(Relabel::Shared),
        }))
        .mount_spec(MountSpec::Volume(Volume {
            name: Some("labelled".into()),
            target: "/l".into(),
            read_only: false,
            no_copy: false,
            relabel: Some(Relabel::Private),
        }))
        .publish("127.0.0.1:8080:80".parse().unwrap())
        .publish("9090:80".parse().unwrap())
        .publish("53/udp".parse().unwrap())
        .device("/dev/fuse:/dev/f:rw".parse().unwrap())
        .runtime("runc")
        .build()
        .unwrap();
    let v = created(&spec);
    assert_eq!(v["Hostname"], "myhost");
    assert_eq!(v["ExposedPorts"], json!({"80/tcp": {}, "53/udp": {}}));
    let h = &v["HostConfig"];
    assert_eq!(h["Init"], true);
    assert_eq!(h["ShmSize"], 1 << 20);
    assert_eq!(h["Ulimits"], json!([{"Name": "nofile", "Soft": 512, "Hard": 1024}]));
    assert_eq!(h["ExtraHosts"], json!(["db:10.1.2.3", "v6:::1"]));
    assert_eq!(h["Runtime"], "runc");
    assert_eq!(
        h["Devices"],
        json!([{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/f", "CgroupPermissions": "rw"}])
    );
    assert_eq!(
        h["PortBindings"],
        json!({
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}, {"HostIp": "", "HostPort": "9090"}],
            "53/udp": [{"HostIp": "", "HostPort": ""}],
        })
    );
    assert_eq!(
        h["Mounts"],
        json!([
            {"Type": "bind", "Source": "/host/src", "Target": "/src", "ReadOnly": false},
            {"Type": "volume", "Source": "cache", "Target": "/cache", "ReadOnly": true},
            {"Type": "volume", "Target": "/anon", "ReadOnly": false, "VolumeOptions": {"NoCopy": true}},
        ])
    );
    assert_eq!(h["Binds"], json!(["/host/z:/z:ro,z", "labelled:/l:rw,Z"]));
    assert_eq!(h["Tmpfs"], json!({"/scratch": "size=65536"}));
    // The platform goes in the query, never in the body.
    assert!(!v.to_string().contains("linux/amd64"));

    // Without them, none of their keys is sent.
    let plain = created(&RunSpec::builder("alpine").build().unwrap());
    let keys = ["Hostname", "ExposedPorts"];
    assert!(keys.iter().all(|k| plain.get(k).is_none()), "{plain}");
    let host_keys =
        ["Init", "ShmSize", "Ulimits", "ExtraHosts", "Runtime", "Devices", "PortBindings", "Mounts", "Binds"];
    assert!(host_keys.iter().all(|k| plain["HostConfig"].get(k).is_none()), "{plain}");
}

#[test]
fn create_extra_is_merged_last_objects_key_by_key() {
    let spec = RunSpec::builder("alpine")
        .memory(64 << 20)
        .label("team", "ci")
        .create_extra(json!({
            "StopTimeout": 7,
            "Env": ["REPLACED=1"],
            "Labels": {"extra": "yes"},
            "HostConfig": {"Sysctls": {"net.ipv4.ip_forward": "1"}, "Memory": 128 << 20, "CapAdd": ["NET_ADMIN"]},
        }))
        .create_extra(json!({"HostConfig": {"Sysctls": {"kernel.msgmax": "65536"}}, "StopTimeout": null}))
        .env("A", "1")
        .build()
        .unwrap();
    let v = created(&spec);
    assert_eq!(v["StopTimeout"], Value::Null, "the second object replaced the first's number");
    assert_eq!(v["Env"], json!(["REPLACED=1"]), "an array is replaced, not merged");
    assert_eq!(v["Labels"]["extra"], "yes");
    assert_eq!(v["Labels"]["team"], "ci");
    assert_eq!(v["Labels"]["io.cstream.run"], "r-42", "cstream's labels stay");
    let h = &v["HostConfig"];
    assert_eq!(h["Sysctls"], json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "65536"}));
    assert_eq!(h["Memory"], 128 << 20, "a number is replaced");
    assert_eq!(h["MemorySwap"], 64 << 20, "what the extra does not name stays");
    assert_eq!(h["CapAdd"], json!(["NET_ADMIN"]));
    assert_eq!(v["Image"], "alpine:latest");
}

#[test]
fn create_extra_refuses_what_the_run_depends_on() {
    let b = |extra: Value| RunSpec::builder("alpine").create_extra(extra).build();
    for extra in [json!([1]), json!("HostConfig"), json!(null), json!(3)] {
        assert_eq!(refused(b(extra.clone())), ("create_extra", "must be a JSON object, merged into the create body"));
    }
    for key in ["Image", "Tty", "OpenStdin", "StdinOnce", "AttachStdin", "AttachStdout", "AttachStderr"] {
        let (field, why) = refused(b(json!({ key: true })));
        assert_eq!(field, "create_extra", "{key}");
        assert!(why.contains("the run depends on it"), "{key}: {why}");
    }
    assert_eq!(refused(b(json!({"HostConfig": {"AutoRemove": true}}))).0, "create_extra");
    assert_eq!(refused(b(json!({"Labels": {"io.cstream.run": "spoof"}}))).0, "create_extra");
    assert_eq!(refused(b(json!({"Labels": null}))).0, "create_extra");
    assert!(b(json!({})).is_ok());
}

/// What a scripted engine of `flavor` speaking `api` was sent for `spec`, and the run's errors.
fn sent(
    spec: &RunSpec,
    flavor: Flavor,
    api: &'static str,
    make: impl FnOnce(Engine) -> Engine,
) -> (Vec<String>, Vec<Error>) {
    let (t, engine) = support::run(spec, flavor, Split::Whole, |mut e| {
        e.api_version = api;
        make(e)
    });
    support::assert_cleaned_up(&t, &engine);
    (engine.requests, t.errors)
}

/// `["Ping", "Create", ...]` for the requests sent.
fn op_names(requests: &[String]) -> Vec<String> {
    use cstream_proto_core::api::Method;
    let method = |m: &str| match m {
        "GET" => Method::Get,
        "POST" => Method::Post,
        _ => Method::Delete,
    };
    let op = |r: &String| r.split_once(' ').map(|(m, p)| support::purpose_of(method(m), p)).unwrap();
    requests.iter().map(|r| format!("{:?}", op(r))).collect()
}

#[test]
fn the_platform_goes_with_the_create_and_the_pull() {
    let spec =
        RunSpec::builder("alpine").platform("linux/arm/v7").pull(PullPolicy::Always).heartbeat(None).build().unwrap();
    let (requests, errors) = sent(&spec, Flavor::Docker, "1.41", |e| e);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(requests[1], "POST /v1.41/images/create?fromImage=alpine&tag=latest&platform=linux%2Farm%2Fv7");
    assert_eq!(requests[2], "POST /v1.41/containers/create?platform=linux%2Farm%2Fv7");
    let named = RunSpec::builder("alpine").name("n1").platform("linux/amd64").heartbeat(None).build().unwrap();
    let (requests, _) = sent(&named, Flavor::Docker, "1.45", |e| e);
    assert_eq!(requests[1], "POST /v1.45/containers/create?name=n1&platform=linux%2Famd64");
}

#[test]
fn a_platform_mismatch_is_the_engine_s_own_words_not_a_missing_image() {
    let mismatch = "image with reference alpine:latest was found but does not match the specified platform: \
                    wanted linux/arm64, actual: linux/amd64";
    let spec = |pull| RunSpec::builder("alpine").platform("linux/arm64").pull(pull).heartbeat(None).build().unwrap();
    let (requests, errors) = sent(&spec(PullPolicy::Never), Flavor::Docker, "1.41", |e| {
        e.reply(Purpose::Create, [Reply::EngineError(404, mismatch)])
    });
    assert_eq!(requests.len(), 2, "ping and create only: {requests:?}");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].to_string(), format!("creating the container: the engine answered 404: {mismatch}"));
    // With pull missing, a pull is tried first (the registry may have that
    // platform), as docker does; the second create's 404 is then the error.
    let replies = [Reply::EngineError(404, mismatch), Reply::EngineError(404, mismatch)];
    let (requests, errors) =
        sent(&spec(PullPolicy::Missing), Flavor::Docker, "1.41", |e| e.reply(Purpose::Create, replies));
    assert_eq!(op_names(&requests), ["Ping", "Create", "Pull", "Create"]);
    assert_eq!(errors.len(), 1);
    assert!(matches!(&errors[0], Error::Engine { status: 404, message, .. } if message == mismatch), "{errors:?}");
}

#[test]
fn what_an_engine_would_ignore_is_refused_before_anything_is_created() {
    let with = |b: cstream_proto_core::spec::RunSpecBuilder| b.heartbeat(None).build().unwrap();
    let cases = [
        (with(RunSpec::builder("alpine").platform("linux/amd64")), Flavor::Podman, "1.41", "platform", "Podman"),
        (with(RunSpec::builder("alpine").runtime("runc")), Flavor::Podman, "1.41", "OCI runtime", "Podman"),
        (with(RunSpec::builder("alpine").platform("linux/amd64")), Flavor::Docker, "1.40", "platform", "API 1.40"),
    ];
    for (spec, flavor, api, want_field, want_engine) in cases {
        let (requests, errors) = sent(&spec, flavor, api, |e| e);
        assert_eq!(requests, ["GET /_ping"], "{want_field} on {want_engine}");
        match &errors[..] {
            [Error::Spec(SpecError::Unsupported { field, engine, .. })] => {
                assert_eq!((field.as_ref(), engine.as_str()), (want_field, want_engine));
            }
            other => panic!("{other:?}"),
        }
    }
    // What the engines honour goes on.
    let fine = with(RunSpec::builder("alpine").init(true).shm_size(1 << 20).hostname("h").runtime("runc"));
    let (requests, errors) = sent(&fine, Flavor::Docker, "1.41", |e| e);
    assert!(errors.is_empty() && requests.len() > 2, "{requests:?} {errors:?}");
    let podman = with(RunSpec::builder("alpine").init(true).ulimit("nofile=5".parse().unwrap()));
    let (_, errors) = sent(&podman, Flavor::Podman, "1.41", |e| e);
    assert!(errors.is_empty(), "{errors:?}");
    let message =
        SpecError::Unsupported { field: "platform".into(), engine: "Podman".into(), why: "it ignores it".into() };
    assert_eq!(message.to_string(), "the platform cannot be used with Podman: it ignores it");
}

proptest! {
    #[test]
    fn the_parsers_never_panic(s in "\\PC{0,40}") {
        let _ = s.parse::<MountSpec>();
        let _ = s.parse::<Publish>();
        let _ = s.parse::<Ulimit>();
        let _ = s.parse::<Device>();
    }

    #[test]
    fn docker_like_text_never_panics_the_builder(
        mount in "(type=(bind|volume|tmpfs|x),)?(src=[a-z/.]{0,6},)?(dst=[a-z/.]{0,6})?(,ro|,tmpfs-size=[0-9kmg]{1,4}|,tmpfs-mode=[0-9]{1,5})?",
        port in "([0-9.:\\[\\]]{0,8}:)?[0-9]{0,6}(/(tcp|udp|x))?",
        ulimit in "[a-z]{0,7}=-?[0-9]{0,20}(:-?[0-9]{0,20})?",
    ) {
        let mut b = RunSpec::builder("alpine");
        if let Ok(m) = mount.parse() { b = b.mount_spec(m); }
        if let Ok(p) = port.parse() { b = b.publish(p); }
        if let Ok(u) = ulimit.parse() { b = b.ulimit(u); }
        let _ = b.build();
    }
}

#[test]
fn a_limit_podman_may_not_raise_is_not_a_command_that_cannot_be_invoked() {
    use cstream_proto_core::api::answers::start_failure_exit_code;
    // Podman 4.3 with --ulimit on a host without CAP_SYS_RESOURCE: an EPERM, so 125, not 126.
    let rlimit = "preparing container c0 for attach: runc: runc create failed: unable to start container process: \
                  error during container init: error setting rlimits for ready process: error setting rlimit type 6: \
                  operation not permitted: OCI permission denied";
    assert_eq!(start_failure_exit_code(rlimit), None);
    let not_executable = "runc create failed: unable to start container process: exec: \"/etc\": permission denied: \
                          OCI permission denied";
    assert_eq!(start_failure_exit_code(not_executable), Some(126));
}
