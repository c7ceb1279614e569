//! Image pulls from real registries on loopback (`scripts/registry.sh`):
//! policies, progress events, digests, credentials, and the ways a pull
//! fails. Each test runs on Docker and on Podman, one at a time (they remove
//! and pull the same images).

#[macro_use]
mod common;

use std::sync::LazyLock;
use std::time::Duration;

use common::*;
use cstream_engine::core::api::{ApiVersion, requests};
use cstream_engine::{Engine, Error, EventKind, PullPolicy, RegistryAuth, RunSpec};

const OPEN: &str = "127.0.0.1:5000/cstream-test:v1";
const AUTH: &str = "127.0.0.1:5001/cstream-test:v1";

static ONE_AT_A_TIME: LazyLock<tokio::sync::Mutex<()>> = LazyLock::new(|| tokio::sync::Mutex::new(()));

/// Removes the image from the engine, so a run must pull it.
async fn forget(engine: &Engine, image: &str) {
    let mut r = requests::inspect(ApiVersion::new(1, 41), "x");
    r.method = cstream_engine::core::api::Method::Delete;
    r.path = format!("/v1.41/images/{}?force=1", requests::encode_query(image));
    let a = engine.call(r).await.unwrap();
    assert!(a.status == 200 || a.status == 404, "removing {image}: {} {:?}", a.status, a.body);
}

fn pull_spec(image: &str, label: &str) -> cstream_engine::core::spec::RunSpecBuilder {
    RunSpec::builder(image).label("cstream.test", label).heartbeat(None).command(["sh", "-c", "echo pulled and ran"])
}

async fn missing_image_is_pulled_with_progress(target: Target) {
    let _one = ONE_AT_A_TIME.lock().await;
    let engine = target.engine().await;
    forget(&engine, OPEN).await;
    let label = unique_label("pull");
    let o = collect(&engine, pull_spec(OPEN, &label).build().unwrap()).await;
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!(o.stdout, b"pulled and ran\n");
    assert_eq!(o.names.first(), Some(&"ImagePullStart"));
    let create = o.names.iter().position(|n| *n == "ContainerCreate").unwrap();
    let complete = o.names.iter().position(|n| *n == "ImagePullComplete").expect("ImagePullComplete");
    assert!(complete < create);
    let (digest, duration) = o
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ImagePullComplete { digest, duration, .. } => Some((digest.clone(), *duration)),
            _ => None,
        })
        .unwrap();
    assert!(duration > Duration::ZERO);
    assert_progress(target, &o);
    if !target.is_podman() {
        assert!(digest.as_deref().is_some_and(|d| d.starts_with("sha256:")), "{digest:?}");
    }
    o.assert_exit(0);
    assert_no_containers(&engine, &label).await;
}

/// The progress a pull of [`OPEN`] reports, before it completes.
///
/// What each engine sends, as the tests run (`cstream-test:latest`, which every
/// other test uses, stays, so no engine downloads a layer here):
/// - Docker 20.10 and 26 hold the same image (the same config digest) as
///   `cstream-test:latest`, so they only tag it, with no layer lines: "Pulling
///   from cstream-test" (id `v1`) and "Status: Downloaded newer image for
///   127.0.0.1:5000/cstream-test:v1" (no id).
/// - Podman reports each blob by its short id: the layer it holds "Already
///   exists", the config "Pulling fs layer" then "Download complete".
fn assert_progress(target: Target, o: &Outcome) {
    let progress: Vec<&cstream_engine::core::event::PullProgress> = o
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ImagePullProgress(p) => Some(p),
            _ => None,
        })
        .collect();
    let seen: Vec<(&str, &str)> = progress.iter().map(|p| (p.layer.as_str(), p.status.as_str())).collect();
    eprintln!("{target:?} pull progress: {seen:?}");
    assert!(!progress.is_empty(), "{target:?}: no ImagePullProgress: {:?}", o.names);
    assert!(progress.iter().all(|p| p.image == OPEN), "{target:?}: {progress:?}");
    let first = o.names.iter().position(|n| *n == "ImagePullProgress").unwrap();
    let complete = o.names.iter().position(|n| *n == "ImagePullComplete").unwrap();
    assert!(o.names[first..complete].iter().all(|n| *n == "ImagePullProgress"), "{:?}", o.names);
    if target.is_podman() {
        let short_id = |l: &str| l.len() == 12 && l.bytes().all(|b| b.is_ascii_hexdigit());
        assert!(seen.iter().all(|(layer, _)| short_id(layer)), "{target:?}: one line per blob: {seen:?}");
        assert!(seen.iter().any(|(_, status)| *status == "Download complete"), "{target:?}: {seen:?}");
    } else {
        assert!(seen.contains(&("v1", "Pulling from cstream-test")), "{target:?}: {seen:?}");
        let tagged = format!("Status: Downloaded newer image for {OPEN}");
        assert!(seen.contains(&("", tagged.as_str())), "{target:?}: {seen:?}");
    }
}

async fn pull_always_pulls_a_present_image(target: Target) {
    let _one = ONE_AT_A_TIME.lock().await;
    let engine = target.engine().await;
    let label = unique_label("always");
    let first = collect(&engine, pull_spec(OPEN, &label).build().unwrap()).await;
    assert!(first.errors.is_empty(), "{:?}", first.errors);
    let o = collect(&engine, pull_spec(OPEN, &label).pull(PullPolicy::Always).build().unwrap()).await;
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!(o.names.first(), Some(&"ImagePullStart"));
    o.assert_exit(0);
}

async fn pull_by_digest(target: Target) {
    let _one = ONE_AT_A_TIME.lock().await;
    let engine = target.engine().await;
    let digest = manifest_digest().await;
    let image = format!("127.0.0.1:5000/cstream-test@{digest}");
    // Podman cannot remove by digest ("tag not known"): remove by tag, the same image.
    forget(&engine, OPEN).await;
    let label = unique_label("digest");
    let o = collect(&engine, pull_spec(&image, &label).build().unwrap()).await;
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    o.assert_exit(0);
}

/// The registry's digest of cstream-test:v1, asked over plain HTTP.
async fn manifest_digest() -> String {
    let out = tokio::process::Command::new("curl")
        .args(["-sI", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json"])
        .arg("http://127.0.0.1:5000/v2/cstream-test/manifests/v1")
        .output()
        .await
        .unwrap();
    let head = String::from_utf8(out.stdout).unwrap();
    head.lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("docker-content-digest:").map(|d| d.trim().to_string()))
        .unwrap_or_else(|| panic!("no digest from the registry; run scripts/registry.sh: {head}"))
}

async fn credentials(target: Target) {
    let _one = ONE_AT_A_TIME.lock().await;
    let engine = target.engine().await;
    let label = unique_label("auth");
    // Wrong credentials, then none: a clear error, and no container.
    for auth in [Some(RegistryAuth::new("cstream", "wrong", "127.0.0.1:5001")), None] {
        forget(&engine, AUTH).await;
        let mut s = pull_spec(AUTH, &label);
        if let Some(a) = &auth {
            s = s.registry_auth(a.to_secret());
        }
        let o = collect(&engine, s.build().unwrap()).await;
        let message = match &o.errors[..] {
            [Error::Run(e @ cstream_engine::core::Error::Pull { .. })] => e.to_string(),
            other => panic!("{target:?} {auth:?}: {other:?}"),
        };
        let m = message.to_ascii_lowercase();
        // Docker: "unauthorized: authentication required" or "no basic auth credentials"; Podman: "authentication required".
        assert!(
            ["unauthorized", "authentication required", "no basic auth credentials"].iter().any(|w| m.contains(w)),
            "{message}"
        );
        assert!(!o.names.contains(&"ContainerCreate"));
    }
    // The right ones.
    let good = RegistryAuth::new("cstream", "cstream-secret", "127.0.0.1:5001");
    let o = collect(&engine, pull_spec(AUTH, &label).registry_auth(good.to_secret()).build().unwrap()).await;
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    o.assert_exit(0);
    assert_no_containers(&engine, &label).await;
}

async fn pulls_that_fail(target: Target) {
    let _one = ONE_AT_A_TIME.lock().await;
    let engine = target.engine().await;
    let label = unique_label("pullfail");
    let unknown: &[&str] = &["not found", "manifest unknown", "name unknown"];
    for (image, expect) in [
        ("127.0.0.1:5999/nothing:v1", &["connection refused"][..]),
        ("127.0.0.1:5000/cstream-test:no-such-tag", unknown),
        ("127.0.0.1:5000/no-such-repo:v1", unknown),
    ] {
        let o = collect(&engine, pull_spec(image, &label).build().unwrap()).await;
        let message = match &o.errors[..] {
            [Error::Run(e @ cstream_engine::core::Error::Pull { .. })] => e.to_string(),
            other => panic!("{target:?} {image}: {other:?}"),
        };
        let m = message.to_ascii_lowercase();
        assert!(expect.iter().any(|w| m.contains(w)), "{target:?} {image}: {message}");
        assert!(message.contains(image), "the error names the image: {message}");
        assert!(!o.names.contains(&"ContainerCreate"), "{:?}", o.names);
    }
    assert_no_containers(&engine, &label).await;
}

on_each_engine!(
    missing_image_is_pulled_with_progress,
    pull_always_pulls_a_present_image,
    pull_by_digest,
    credentials,
    pulls_that_fail
);
