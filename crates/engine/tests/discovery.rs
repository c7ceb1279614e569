//! Discovery on the real engines: where a run lands for each source
//! (`DOCKER_HOST`, docker contexts made here, addresses given), what is
//! refused, and engines reached through a real sshd (`scripts/sshd.sh`).
//!
//! The environment is passed in ([`Env`]), never set on this process: the
//! tests run in parallel.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use cstream_engine::{Discover, Engine, EngineKind, Env, Error, EventKind, Remote, RunSpec, Source};
use futures_util::StreamExt;

const DOCKER_20: &str = "unix:///var/run/docker.sock";
const DOCKER_26: &str = "unix:///run/cstream-docker-current.sock";
const PODMAN: &str = "unix:///run/podman/podman.sock";
/// The sshd of `scripts/sshd.sh`, whose `docker system dial-stdio` reaches Docker 20.10.
const SSH: &str = "ssh://root@127.0.0.1:2222";

/// The engine's kind and its own version, as it answers `GET /version`.
async fn which(engine: &Engine) -> (EngineKind, String) {
    let v = engine.version().await.unwrap_or_else(|e| panic!("{}: {e}", engine.endpoint()));
    (v.info.kind, v.versions.version)
}

async fn lands_on(d: Discover, env: &Env) -> (EngineKind, String) {
    let engine = d.connect_in(env).await.unwrap_or_else(|e| panic!("{e}"));
    which(&engine).await
}

fn is_docker(major: &str) -> impl Fn(&(EngineKind, String)) -> bool + '_ {
    move |(kind, version)| *kind == EngineKind::Docker && version.starts_with(major)
}

fn is_podman((kind, _): &(EngineKind, String)) -> bool {
    *kind == EngineKind::Podman
}

/// A docker config directory, as `docker context create` leaves it: one
/// context per `(name, host)`, and `current` as the current context.
fn docker_config(current: Option<&str>, contexts: &[(&str, &str)]) -> TempDir {
    let dir = TempDir::new();
    if let Some(name) = current {
        std::fs::write(dir.path().join("config.json"), format!(r#"{{"auths":{{}},"currentContext":"{name}"}}"#))
            .unwrap();
    }
    for (name, host) in contexts {
        let meta = dir.path().join("contexts/meta").join(sha256(name.as_bytes()));
        std::fs::create_dir_all(&meta).unwrap();
        let json = format!(
            r#"{{"Name":"{name}","Metadata":{{"Description":"made by a test"}},"Endpoints":{{"docker":{{"Host":"{host}","SkipTLSVerify":false}}}}}}"#
        );
        std::fs::write(meta.join("meta.json"), json).unwrap();
    }
    dir
}

/// No variables of this process's: only what a test gives, on the real file system.
fn env_with(config: &Path) -> Env {
    Env::new().var("DOCKER_CONFIG", config.display().to_string())
}

#[tokio::test]
async fn docker_host_runs_on_the_engine_it_names() {
    let env = Env::new().var("DOCKER_HOST", DOCKER_26);
    let engine = Discover::new().connect_in(&env).await.unwrap();
    assert!(is_docker("26.")(&which(&engine).await), "{:?}", which(&engine).await);
    // And a run there is Docker 26's: its own list holds the container while it runs.
    let label = unique_label("docker-host");
    let spec = RunSpec::builder(TEST_IMAGE)
        .pull(cstream_engine::PullPolicy::Never)
        .command(["sh", "-c", "echo from-docker-26; exit 4"])
        .label("cstream.test", &label)
        .build()
        .unwrap();
    let mut run = engine.run(spec);
    let first = run.next().await.unwrap().unwrap();
    let docker26 = Target::DockerCurrent.engine().await;
    let listed = docker26.containers_labelled(&[&format!("cstream.test={label}")]).await.unwrap();
    assert!(matches!(first.kind, EventKind::ContainerCreate { .. }), "{first:?}");
    assert_eq!(listed.len(), 1, "the container is Docker 26's");
    let o = drain(&mut run).await;
    assert_eq!(o.stdout, b"from-docker-26\n");
    o.assert_exit(4);
    assert_no_containers(&docker26, &label).await;
}

#[tokio::test]
async fn a_context_made_here_lands_on_the_engine_it_names() {
    let config = docker_config(Some("pod"), &[("pod", PODMAN), ("d26", DOCKER_26)]);
    let env = env_with(config.path());
    let found = Discover::new().candidates_in(&env).unwrap();
    assert_eq!(found.len(), 1);
    let by = cstream_engine::ContextBy::CurrentContext(config.path().join("config.json"));
    assert_eq!(found[0].from, Source::Context { name: "pod".into(), by });
    assert!(is_podman(&lands_on(Discover::new(), &env).await), "currentContext: Podman");
    let o = outcome_on(Discover::new(), &env, "echo on-podman").await;
    assert_eq!(o.stdout, b"on-podman\n");
    o.assert_exit(0);
    // DOCKER_CONTEXT beats currentContext.
    let env = env.var("DOCKER_CONTEXT", "d26");
    assert!(is_docker("26.")(&lands_on(Discover::new(), &env).await), "DOCKER_CONTEXT: Docker 26");
    // DOCKER_HOST beats both.
    let env = env.var("DOCKER_HOST", DOCKER_20);
    assert!(is_docker("20.10")(&lands_on(Discover::new(), &env).await), "DOCKER_HOST: Docker 20.10");
    // A context given beats DOCKER_HOST, as the docker CLI's --context does.
    assert!(is_podman(&lands_on(Discover::new().context("pod"), &env).await), "--context: Podman");
    // An address given beats everything.
    assert!(is_docker("26.")(&lands_on(Discover::new().host(DOCKER_26), &env).await), "given: Docker 26");
}

/// Runs `script` on the engine `d` finds in `env`, and checks that its
/// container is gone after, by that engine's own list.
async fn outcome_on(d: Discover, env: &Env, script: &str) -> Outcome {
    let engine = d.connect_in(env).await.unwrap();
    let label = unique_label("discovered");
    let spec = RunSpec::builder(TEST_IMAGE)
        .pull(cstream_engine::PullPolicy::Never)
        .command(["sh", "-c", script])
        .label("cstream.test", &label)
        .build()
        .unwrap();
    let o = collect(&engine, spec).await;
    assert_no_containers(&engine, &label).await;
    o
}

#[tokio::test]
async fn a_context_that_is_not_there_is_an_error_naming_it_never_a_fallback() {
    let config = docker_config(Some("vanished"), &[("pod", PODMAN)]);
    let e = Discover::new().connect_in(&env_with(config.path())).await.unwrap_err();
    assert!(matches!(&e, Error::Context { name, .. } if name == "vanished"), "{e:?}");
    let e = Discover::new().connect_in(&env_with(config.path()).var("DOCKER_CONTEXT", "typo")).await.unwrap_err();
    assert!(
        e.to_string().starts_with("cannot use docker context \"typo\" (named by DOCKER_CONTEXT): no such context"),
        "{e}"
    );
    // A context with no docker endpoint.
    let meta = config.path().join("contexts/meta").join(sha256(b"k8s"));
    std::fs::create_dir_all(&meta).unwrap();
    std::fs::write(meta.join("meta.json"), r#"{"Name":"k8s","Endpoints":{"kubernetes":{"Namespace":"x"}}}"#).unwrap();
    let e = Discover::new().context("k8s").connect_in(&env_with(config.path())).await.unwrap_err();
    assert!(e.to_string().contains("it has no docker endpoint"), "{e}");
}

#[tokio::test]
async fn docker_host_unreachable_is_an_error_never_a_run_on_the_default_socket() {
    let env = Env::new().var("DOCKER_HOST", "unix:///nonexistent.sock");
    let e = Discover::new().connect_in(&env).await.unwrap_err();
    assert_eq!(
        e.to_string(),
        "no container engine found; tried: unix:///nonexistent.sock from DOCKER_HOST (no such file: is the engine running?)"
    );
    // /var/run/docker.sock answers, and was not taken.
    Target::DockerUnix.engine().await;
}

#[tokio::test]
async fn remote_tcp_is_refused_from_every_source_without_consent() {
    let env = Env::new().var("DOCKER_HOST", "tcp://192.0.2.10:2375");
    let e = Discover::new().connect_in(&env).await.unwrap_err();
    assert!(matches!(e, Error::Endpoint { .. }), "{e:?}");
    assert!(e.to_string().contains("unauthenticated root access"), "{e}");
    assert!(e.to_string().ends_with("(the address is from DOCKER_HOST)"), "{e}");
    let config = docker_config(Some("far"), &[("far", "tcp://192.0.2.10:2375")]);
    let e = Discover::new().connect_in(&env_with(config.path())).await.unwrap_err();
    assert!(e.to_string().contains("(the address is from docker context \"far\""), "{e}");
    // Allowed, the address is tried (and refused by nobody here: it is only listed).
    let allowed = Discover::new().remote(Remote::Allow).candidates_in(&env_with(config.path())).unwrap();
    assert_eq!(allowed[0].endpoint, "tcp://192.0.2.10:2375");
    // Loopback TCP from DOCKER_HOST needs no consent: Podman's listener.
    let env = Env::new().var("DOCKER_HOST", "tcp://127.0.0.1:8080");
    assert!(is_podman(&lands_on(Discover::new(), &env).await));
}

#[tokio::test]
async fn tls_is_refused_before_anything_is_sent() {
    // Docker 20.10 answers plain HTTP here: a plain-text attempt would succeed.
    let cases = [
        Env::new().var("DOCKER_HOST", "tcp://127.0.0.1:2375").var("DOCKER_TLS_VERIFY", "1"),
        Env::new().var("DOCKER_HOST", "tcp://127.0.0.1:2375").var("DOCKER_CERT_PATH", "/certs"),
        Env::new().var("DOCKER_TLS_VERIFY", "1"),
    ];
    for env in cases {
        let e = Discover::new().connect_in(&env).await.unwrap_err();
        assert!(matches!(e, Error::Tls { .. }), "{env:?}: {e:?}");
        assert!(e.to_string().contains("TLS is not supported"), "{e}");
    }
    let config = docker_config(Some("secure"), &[("secure", "tcp://127.0.0.1:2375")]);
    let tls = config.path().join("contexts/tls").join(sha256(b"secure")).join("docker");
    std::fs::create_dir_all(&tls).unwrap();
    std::fs::write(tls.join("ca.pem"), "-----BEGIN CERTIFICATE-----\n").unwrap();
    let e = Discover::new().connect_in(&env_with(config.path())).await.unwrap_err();
    assert!(
        matches!(&e, Error::Tls { from: Some(from), .. } if from.starts_with("docker context \"secure\"")),
        "{e:?}"
    );
    let e = Discover::new().host("tcp://127.0.0.1:2376").connect_in(&Env::new()).await.unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e:?}");
}

/// The ssh processes this test process started that still exist (zombies included).
fn ssh_children() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid ...
        let Some((head, rest)) = stat.rsplit_once(") ") else { continue };
        let fields: Vec<&str> = rest.split(' ').collect();
        if head.ends_with("(ssh") && fields.get(1) == Some(&me.as_str()) {
            found.push(format!("{} {}", head, fields[0]));
        }
    }
    found
}

/// The ssh tests one at a time: each counts this process's ssh children.
static SSH_TESTS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn until_no_ssh_children() {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !ssh_children().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "ssh left running or unreaped: {:?}", ssh_children());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn ssh_runs_on_docker_20_and_leaves_no_container_and_no_ssh() {
    let _one = SSH_TESTS.lock().await;
    let engine = Discover::new()
        .host(SSH)
        .connect_in(&Env::new())
        .await
        .unwrap_or_else(|e| panic!("{e}; run scripts/sshd.sh first"));
    assert_eq!(engine.endpoint(), SSH);
    assert!(is_docker("20.10")(&which(&engine).await));
    let label = unique_label("ssh");
    let spec = RunSpec::builder(TEST_IMAGE)
        .pull(cstream_engine::PullPolicy::Never)
        .command(["sh", "-c", "echo out; echo err >&2; exit 7"])
        .label("cstream.test", &label)
        .build()
        .unwrap();
    let o = collect(&engine, spec).await;
    assert_eq!((o.stdout.as_slice(), o.stderr.as_slice()), (&b"out\n"[..], &b"err\n"[..]));
    o.assert_exit(7);
    assert_no_containers(&Target::DockerUnix.engine().await, &label).await;
    assert!(!ssh_children().is_empty(), "the engine's connections are ssh processes");
    drop(engine);
    until_no_ssh_children().await;
}

#[tokio::test]
async fn ssh_from_docker_host_and_from_a_context() {
    let _one = SSH_TESTS.lock().await;
    let env = Env::new().var("DOCKER_HOST", SSH).var("DOCKER_TLS_VERIFY", "1");
    // ssh takes no TLS: DOCKER_TLS_VERIFY does not concern it, as with the docker CLI.
    assert!(is_docker("20.10")(&lands_on(Discover::new(), &env).await));
    let config = docker_config(Some("over-ssh"), &[("over-ssh", SSH)]);
    let o = outcome_on(Discover::new(), &env_with(config.path()), "echo via-context; exit 3").await;
    assert_eq!(o.stdout, b"via-context\n");
    o.assert_exit(3);
    until_no_ssh_children().await;
}

#[tokio::test]
async fn an_ssh_host_that_refuses_is_ssh_s_own_message() {
    let _one = SSH_TESTS.lock().await;
    let e = Discover::new().host("ssh://root@127.0.0.1:1").connect_in(&Env::new()).await.unwrap_err();
    assert!(matches!(e, Error::Unreachable { .. }), "{e:?}");
    let text = e.to_string();
    assert!(text.starts_with("cannot reach the container engine at ssh://root@127.0.0.1:1: "), "{text}");
    assert!(
        text.contains("ssh: connect to host 127.0.0.1 port 1: Connection refused (ssh exit status: 255)"),
        "{text}"
    );
    // From DOCKER_HOST: the list of places tried, with ssh's word for it.
    let env = Env::new().var("DOCKER_HOST", "ssh://root@127.0.0.1:1");
    let e = Discover::new().connect_in(&env).await.unwrap_err();
    assert!(
        e.to_string().starts_with("no container engine found; tried: ssh://root@127.0.0.1:1 from DOCKER_HOST ("),
        "{e}"
    );
    assert!(e.to_string().contains("Connection refused"), "{e}");
    until_no_ssh_children().await;
}

/// A runtime dropped with a run in flight: the run's container is removed
/// over a blocking ssh connection (a plain `ssh` child, killed and reaped
/// after), as it is over a socket.
#[test]
fn a_runtime_dropped_mid_run_removes_the_container_over_a_blocking_ssh() {
    let _one = SSH_TESTS.blocking_lock();
    let label = unique_label("ssh-dropped");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let run = rt.block_on(async {
        let engine = cstream_engine::engine(SSH, Remote::Refuse).unwrap();
        let spec = RunSpec::builder(TEST_IMAGE)
            .pull(cstream_engine::PullPolicy::Never)
            .command(["sh", "-c", "echo up; exec sleep 600"])
            .label("cstream.test", &label)
            .build()
            .unwrap();
        let mut run = engine.run(spec);
        until_output(&mut run).await;
        run
    });
    drop(rt);
    let removed = cstream_engine::Run::wait_for_cleanup(Duration::from_secs(30));
    drop(run);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let docker = Target::DockerUnix.engine().await;
        let left = docker.containers_labelled(&[&format!("cstream.test={label}")]).await.unwrap();
        for c in &left {
            let _ = docker.remove_container(&c.id).await;
        }
        assert!(removed, "the removal did not end");
        assert!(left.is_empty(), "left behind: {left:?}");
    });
}
