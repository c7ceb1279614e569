//! Discovery worked out from environments and docker configs given.

use std::path::Path;

use super::*;
use crate::context::meta_file;

fn meta(host: &str) -> String {
    format!(r#"{{"Name":"x","Metadata":{{}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#)
}

/// A docker config in /cfg: `current` as its currentContext, and contexts
/// `work` (Podman's socket) and `docker26` (Docker 26's).
fn config(current: &str) -> Env {
    let dir = Path::new("/cfg");
    Env::new()
        .var("DOCKER_CONFIG", "/cfg")
        .file("/cfg/config.json", format!(r#"{{"currentContext":"{current}","auths":{{}}}}"#))
        .file(meta_file(dir, "work"), meta("unix:///run/podman/podman.sock"))
        .file(meta_file(dir, "docker26"), meta("unix:///run/cstream-docker-current.sock"))
}

fn found(d: &Discover, env: &Env) -> Vec<(String, String)> {
    let found = d.candidates_in(env).unwrap_or_else(|e| panic!("{e}"));
    found.into_iter().map(|c| (c.endpoint, c.from.to_string())).collect()
}

fn one(endpoint: &str, from: &str) -> Vec<(String, String)> {
    vec![(endpoint.to_string(), from.to_string())]
}

#[test]
fn the_default_sockets_rootless_ones_included_and_narrowed_by_kind() {
    let env = Env::new().var("XDG_RUNTIME_DIR", "/run/user/1000");
    let endpoints = |kind: Option<Runtime>| -> Vec<String> {
        let found = Discover::new().kind(kind).candidates_in(&env).unwrap();
        assert!(found.iter().all(|c| c.from == Source::Default));
        found.into_iter().map(|c| c.endpoint).collect()
    };
    assert_eq!(
        endpoints(None),
        [
            "unix:///var/run/docker.sock",
            "unix:///run/user/1000/docker.sock",
            "unix:///run/podman/podman.sock",
            "unix:///run/user/1000/podman/podman.sock",
        ]
    );
    assert_eq!(endpoints(Some(Runtime::Docker)), ["unix:///var/run/docker.sock", "unix:///run/user/1000/docker.sock"]);
    assert_eq!(
        endpoints(Some(Runtime::Podman)),
        ["unix:///run/podman/podman.sock", "unix:///run/user/1000/podman/podman.sock"]
    );
    let none = Discover::new().candidates_in(&Env::new()).unwrap();
    assert_eq!(none.len(), 2, "no XDG_RUNTIME_DIR: the rootful sockets only");
}

#[test]
fn the_order_given_docker_host_docker_context_current_context_defaults() {
    let d = Discover::new();
    let env = config("work");
    assert_eq!(
        found(&d, &env),
        one("unix:///run/podman/podman.sock", "docker context \"work\" (currentContext in /cfg/config.json)")
    );
    let env = env.var("DOCKER_CONTEXT", "docker26");
    assert_eq!(
        found(&d, &env),
        one("unix:///run/cstream-docker-current.sock", "docker context \"docker26\" (DOCKER_CONTEXT)"),
        "DOCKER_CONTEXT beats currentContext"
    );
    let env = env.var("DOCKER_HOST", "unix:///run/cstream-docker-current.sock");
    assert_eq!(
        found(&d, &env),
        one("unix:///run/cstream-docker-current.sock", "DOCKER_HOST"),
        "DOCKER_HOST beats contexts"
    );
    assert_eq!(
        found(&d.clone().host("tcp://127.0.0.1:8080"), &env),
        one("tcp://127.0.0.1:8080", "the address given"),
        "an address given beats everything"
    );
    // As with the docker CLI's --context: a context given beats DOCKER_HOST.
    assert_eq!(
        found(&d.clone().context("work"), &env),
        one("unix:///run/podman/podman.sock", "docker context \"work\"")
    );
    // The last of host and context given counts.
    assert_eq!(found(&d.clone().context("work").host("/x.sock"), &env), one("/x.sock", "the address given"));
}

#[test]
fn docker_host_and_container_host_by_kind() {
    let env = Env::new().var("DOCKER_HOST", "tcp://127.0.0.1:2375").var("CONTAINER_HOST", "unix:///c.sock");
    assert_eq!(found(&Discover::new(), &env), one("tcp://127.0.0.1:2375", "DOCKER_HOST"));
    assert_eq!(found(&Discover::new().kind(Runtime::Podman), &env), one("unix:///c.sock", "CONTAINER_HOST"));
    let podman_only = Env::new().var("CONTAINER_HOST", "unix:///c.sock");
    assert_eq!(found(&Discover::new(), &podman_only), one("unix:///c.sock", "CONTAINER_HOST"));
    let docker = found(&Discover::new().kind(Runtime::Docker), &podman_only);
    assert_eq!(docker, one("unix:///var/run/docker.sock", "the defaults"), "CONTAINER_HOST names no Docker engine");
    let empty = Env::new().var("DOCKER_HOST", "").var("DOCKER_CONTEXT", "");
    assert_eq!(
        found(&Discover::new().kind(Runtime::Docker), &empty),
        one("unix:///var/run/docker.sock", "the defaults")
    );
}

#[test]
fn podman_looks_at_no_docker_context() {
    let env = config("work").var("DOCKER_CONTEXT", "docker26");
    let found = Discover::new().kind(Runtime::Podman).candidates_in(&env).unwrap();
    assert!(found.iter().all(|c| c.from == Source::Default), "{found:?}");
    // A context given is used whatever the kind.
    let given = Discover::new().kind(Runtime::Podman).context("docker26").candidates_in(&env).unwrap();
    assert_eq!(given[0].endpoint, "unix:///run/cstream-docker-current.sock");
}

#[test]
fn the_context_named_default_is_no_context() {
    for env in [config("default"), config("work").var("DOCKER_CONTEXT", "default")] {
        let found = Discover::new().candidates_in(&env).unwrap();
        assert!(found.iter().all(|c| c.from == Source::Default), "{found:?}");
    }
    // Given, it stands for DOCKER_HOST or the defaults, never another context.
    let env = config("work");
    assert!(Discover::new().context("default").candidates_in(&env).unwrap().iter().all(|c| c.from == Source::Default));
    let env = env.var("DOCKER_HOST", "unix:///h.sock");
    assert_eq!(found(&Discover::new().context("default"), &env), one("unix:///h.sock", "DOCKER_HOST"));
}

#[test]
fn a_context_that_cannot_be_used_is_an_error_naming_it_never_a_fallback() {
    let e = Discover::new().candidates_in(&config("gone")).unwrap_err();
    assert!(
        matches!(&e, Error::Context { name, by: Some(by), .. } if name == "gone" && by == "currentContext in /cfg/config.json"),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with(
            "cannot use docker context \"gone\" (named by currentContext in /cfg/config.json): no such context ("
        ),
        "{e}"
    );
    let e = Discover::new().candidates_in(&config("work").var("DOCKER_CONTEXT", "nope")).unwrap_err();
    assert!(
        matches!(&e, Error::Context { name, by: Some(by), .. } if name == "nope" && by == "DOCKER_CONTEXT"),
        "{e:?}"
    );
    let e = Discover::new().context("nope").candidates_in(&config("work")).unwrap_err();
    assert!(e.to_string().starts_with("cannot use docker context \"nope\": no such context"), "{e}");
    let e = Discover::new().context("work").candidates_in(&Env::new().file("/x", "")).unwrap_err();
    assert!(e.to_string().contains("neither DOCKER_CONFIG nor HOME is set"), "{e}");
    let bad = Env::new().var("HOME", "/home/u").file("/home/u/.docker/config.json", "{oops");
    let e = Discover::new().candidates_in(&bad).unwrap_err();
    assert!(matches!(e, Error::Config { .. }), "{e:?}");
}

#[test]
fn tls_is_refused_wherever_it_is_asked_for() {
    let tls = |d: Discover, env: &Env| match d.candidates_in(env) {
        Err(Error::Tls { endpoint, from, why }) => (endpoint, from, why),
        other => panic!("{other:?}"),
    };
    let verify = Env::new().var("DOCKER_TLS_VERIFY", "1");
    let host = verify.clone().var("DOCKER_HOST", "tcp://127.0.0.1:2375");
    assert_eq!(
        tls(Discover::new(), &host),
        ("tcp://127.0.0.1:2375".into(), Some("DOCKER_HOST".into()), "DOCKER_TLS_VERIFY is set".into())
    );
    assert_eq!(tls(Discover::new().host("unix:///x.sock"), &verify).1, None, "given: no source to name");
    assert_eq!(tls(Discover::new(), &verify).1.as_deref(), Some("the defaults"), "the default sockets too");
    let cert = Env::new().var("DOCKER_CERT_PATH", "/certs").var("DOCKER_HOST", "tcp://127.0.0.1:2375");
    assert_eq!(tls(Discover::new(), &cert).2, "DOCKER_CERT_PATH is set");
    // DOCKER_CERT_PATH alone asks nothing of a Unix socket; ssh never takes TLS.
    let unix = Env::new().var("DOCKER_CERT_PATH", "/certs").var("DOCKER_HOST", "unix:///x.sock");
    assert!(Discover::new().candidates_in(&unix).is_ok());
    let ssh = verify.clone().var("DOCKER_HOST", "ssh://me@box");
    assert!(Discover::new().candidates_in(&ssh).is_ok());
    let port = Env::new().var("DOCKER_HOST", "tcp://127.0.0.1:2376");
    assert_eq!(tls(Discover::new().remote(Remote::Allow), &port).2, "port 2376 is Docker's TLS port");

    let dir = Path::new("/cfg");
    let skip = config("work").file(meta_file(dir, "work"), meta("tcp://127.0.0.1:2375").replace("false", "true"));
    let (endpoint, from, why) = tls(Discover::new(), &skip);
    assert_eq!(endpoint, "tcp://127.0.0.1:2375");
    assert_eq!(from.as_deref(), Some("docker context \"work\" (currentContext in /cfg/config.json)"));
    assert_eq!(why, "the context sets SkipTLSVerify");
    let key = dir.join("contexts/tls").join(crate::context::id("work")).join("docker/key.pem");
    let material = config("work").file(key, "-----BEGIN PRIVATE KEY-----");
    assert!(tls(Discover::new(), &material).2.starts_with("the context has TLS files: /cfg/contexts/tls/"));
    // A context's own TLS settings count, not the environment's.
    assert!(Discover::new().candidates_in(&config("work").var("DOCKER_CERT_PATH", "/certs")).is_ok());
}

#[test]
fn a_remote_tcp_address_needs_consent_wherever_it_came_from() {
    let remote = Env::new().var("DOCKER_HOST", "tcp://203.0.113.9:2375");
    let e = Discover::new().candidates_in(&remote).unwrap_err();
    assert!(matches!(e, Error::Endpoint { .. }), "{e:?}");
    assert!(e.to_string().contains("unauthenticated root access"), "{e}");
    assert!(e.to_string().ends_with("(the address is from DOCKER_HOST)"), "{e}");
    assert!(Discover::new().remote(Remote::Allow).candidates_in(&remote).is_ok());

    let dir = Path::new("/cfg");
    let context = config("work").file(meta_file(dir, "work"), meta("tcp://203.0.113.9:2375"));
    let e = Discover::new().candidates_in(&context).unwrap_err();
    assert!(
        e.to_string().ends_with("(the address is from docker context \"work\" (currentContext in /cfg/config.json))"),
        "{e}"
    );
    assert!(Discover::new().remote(Remote::Allow).candidates_in(&context).is_ok());
}

#[test]
fn bad_addresses_and_versions_are_errors_not_fallbacks() {
    for bad in ["https://box:2375", "docker.sock", "ssh://me:pw@box", "tcp://box"] {
        let env = Env::new().var("DOCKER_HOST", bad);
        assert!(Discover::new().candidates_in(&env).is_err(), "{bad}");
    }
    let e = Discover::new().candidates_in(&Env::new().var("DOCKER_API_VERSION", "1.x")).unwrap_err();
    assert!(matches!(e, Error::BadApiVersion(_)), "{e:?}");
    let pinned = Discover::new().candidates_in(&Env::new().var("DOCKER_API_VERSION", "1.44")).unwrap();
    assert_eq!(pinned[0].engine().unwrap().pinned_api_version(), Some(ApiVersion::new(1, 44)));
}

#[tokio::test]
async fn nothing_answering_lists_each_place_where_it_came_from_and_why() {
    let env = Env::new().var("DOCKER_HOST", "unix:///nonexistent.sock");
    let e = Discover::new().connect_in(&env).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "no container engine found; tried: unix:///nonexistent.sock from DOCKER_HOST (no such file: is the engine running?)"
    );
    let e = Discover::new().host("unix:///nonexistent.sock").connect_in(&Env::new()).await.unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "an address given: that engine's own error: {e:?}");
}
