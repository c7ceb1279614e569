//! Bad input and broken engines: each gives a typed error a user
//! understands, and no container is left behind.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;
use cstream_engine::{Error, Remote, RunSpec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::watch;

#[tokio::test]
async fn an_engine_that_is_not_running() {
    let err = cstream_engine::connect("unix:///tmp/cstream-no-engine-here.sock", Remote::Refuse).await.unwrap_err();
    assert!(matches!(err, Error::Unreachable { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "cannot reach the container engine at unix:///tmp/cstream-no-engine-here.sock: no such file: is the engine running?"
    );
    let err = cstream_engine::connect("tcp://127.0.0.1:1", Remote::Refuse).await.unwrap_err();
    assert!(err.to_string().starts_with("cannot reach the container engine at tcp://127.0.0.1:1: "), "{err}");
}

#[tokio::test]
async fn a_path_that_is_not_a_socket() {
    let dir = TempDir::new();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, "not a socket").unwrap();
    let err = cstream_engine::connect(&format!("unix://{}", file.display()), Remote::Refuse).await.unwrap_err();
    assert!(err.to_string().ends_with("plain-file: this is not a socket"), "{err}");
}

#[tokio::test]
async fn a_socket_nobody_listens_on() {
    let dir = TempDir::new();
    let path = dir.path().join("dead.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    let err = cstream_engine::connect(&format!("unix://{}", path.display()), Remote::Refuse).await.unwrap_err();
    assert!(err.to_string().contains("connection refused: the engine that made this socket is not running"), "{err}");
}

#[tokio::test]
async fn a_relative_mount_target_is_refused_before_any_request() {
    let err = RunSpec::builder(TEST_IMAGE).mount("/tmp", "data", false).build().unwrap_err();
    assert_eq!(err.to_string(), "invalid mount target \"data\": must be an absolute path");
    let err = RunSpec::builder("Not/Valid").build().unwrap_err();
    assert!(err.to_string().starts_with("invalid image reference \"Not/Valid\": "), "{err}");
}

/// A proxy in front of an engine's socket that, once `cut_after` bytes have
/// come back from the engine, closes every connection open at that moment,
/// as an engine restart would. Connections made later pass.
struct CuttingProxy {
    path: std::path::PathBuf,
    _dir: TempDir,
}

impl CuttingProxy {
    async fn start(upstream: &'static str, cut_after: usize) -> CuttingProxy {
        let dir = TempDir::new();
        let path = dir.path().join("proxy.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let (cut_tx, cut_rx) = watch::channel(false);
        let cut_tx = Arc::new(cut_tx);
        let seen = Arc::new(AtomicUsize::new(0));
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else { return };
                let upstream = UnixStream::connect(upstream).await.unwrap();
                let (cut_rx, cut_tx, seen) = (cut_rx.clone(), cut_tx.clone(), seen.clone());
                let already_cut = *cut_rx.borrow();
                tokio::spawn(pipe(client, upstream, cut_rx, cut_tx, seen, cut_after, already_cut));
            }
        });
        CuttingProxy { path, _dir: dir }
    }
}

async fn pipe(
    client: UnixStream,
    upstream: UnixStream,
    mut cut_rx: watch::Receiver<bool>,
    cut_tx: Arc<watch::Sender<bool>>,
    seen: Arc<AtomicUsize>,
    cut_after: usize,
    exempt: bool,
) {
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let up = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = cr.read(&mut buf).await {
            if uw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n @ 1..) = ur.read(&mut buf).await {
            if cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
            if seen.fetch_add(n, Ordering::Relaxed) + n > cut_after {
                let _ = cut_tx.send(true);
            }
        }
    };
    let cut = async move {
        if exempt {
            return std::future::pending().await;
        }
        let _ = cut_rx.wait_for(|c| *c).await;
    };
    tokio::select! {
        () = async { tokio::join!(up, down); } => {}
        _ = cut => {}
    }
}

async fn connection_cut_mid_stream(target: Target) {
    let real = target.engine().await;
    let proxy = CuttingProxy::start(&target.endpoint()["unix://".len()..], 512 * 1024).await;
    let engine = cstream_engine::connect(&format!("unix://{}", proxy.path.display()), Remote::Refuse).await.unwrap();
    let label = unique_label("cut");
    let s = spec(&target).label("cstream.test", &label).command(["sh", "-c", "yes 0123456789abcdef0123456789abcdef"]);
    let began = Instant::now();
    let o = collect(&engine, s.build().unwrap()).await;
    let took = began.elapsed();
    assert!(!o.errors.is_empty(), "a cut stream is an error, never a success: {:?}", o.names);
    let e = o.errors[0].to_string();
    assert!(e.contains("cut inside a frame") || e.contains("connection"), "{e}");
    assert!(!o.names.contains(&"ProcessEnd"), "no exit code is made up: {:?}", o.names);
    assert_eq!(o.names.last(), Some(&"ContainerRemove"), "{:?} {:?}", o.names, o.errors);
    assert!(took < Duration::from_secs(15), "took {took:?}");
    assert_no_containers(&real, &label).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_connection_cut_mid_stream() {
    connection_cut_mid_stream(Target::DockerUnix).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_current_connection_cut_mid_stream() {
    connection_cut_mid_stream(Target::DockerCurrent).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_connection_cut_mid_stream() {
    connection_cut_mid_stream(Target::PodmanUnix).await
}

/// A proxy that forwards everything, except that the answer to a pull
/// (`/images/create`) is cut after its first `keep` bytes.
async fn pull_cutting_proxy(upstream: &'static str, keep: usize) -> (std::path::PathBuf, TempDir) {
    let dir = TempDir::new();
    let path = dir.path().join("pull-cut.sock");
    let listener = UnixListener::bind(&path).unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((client, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let upstream = UnixStream::connect(upstream).await.unwrap();
                let (mut cr, mut cw) = client.into_split();
                let (mut ur, mut uw) = upstream.into_split();
                // Connections are kept alive and reused: watch every request, not just the first.
                let pulling = Arc::new(std::sync::atomic::AtomicBool::new(false));
                let seen = pulling.clone();
                let up = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    while let Ok(n @ 1..) = cr.read(&mut buf).await {
                        if buf[..n].windows(14).any(|w| w == b"/images/create") {
                            seen.store(true, Ordering::SeqCst);
                        }
                        if uw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    let mut sent = 0;
                    while let Ok(n @ 1..) = ur.read(&mut buf).await {
                        let cutting = pulling.load(Ordering::SeqCst);
                        let n = if cutting { n.min(keep - sent) } else { n };
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        if cutting {
                            sent += n;
                            if sent >= keep {
                                break;
                            }
                        }
                    }
                };
                tokio::select! {
                    () = up => {}
                    () = down => {}
                }
            });
        }
    });
    (path, dir)
}

async fn pull_cut_mid_stream(target: Target) {
    let real = target.engine().await;
    let image = "127.0.0.1:5000/cstream-test:v1";
    let mut r = cstream_engine::core::api::requests::inspect(cstream_engine::core::api::ApiVersion::new(1, 41), "x");
    r.method = cstream_engine::core::api::Method::Delete;
    r.path = format!("/v1.41/images/{}?force=1", cstream_engine::core::api::requests::encode_query(image));
    real.call(r).await.unwrap();
    // The answer's head and a few bytes of its body, then nothing.
    let (path, _dir) = pull_cutting_proxy(&target.endpoint()["unix://".len()..], 200).await;
    let engine = cstream_engine::connect(&format!("unix://{}", path.display()), Remote::Refuse).await.unwrap();
    let label = unique_label("pullcut");
    let s = RunSpec::builder(image).label("cstream.test", &label).heartbeat(None).command(["true"]);
    let o = collect(&engine, s.build().unwrap()).await;
    match &o.errors[..] {
        [Error::Run(cstream_engine::core::Error::Transport { phase: cstream_engine::Phase::Pull, .. })] => {}
        [Error::Run(cstream_engine::core::Error::Pull { .. })] => {}
        other => panic!("{target:?}: a cut pull is an error, never a success: {other:?} {:?}", o.names),
    }
    assert!(!o.names.contains(&"ContainerCreate"), "{:?}", o.names);
    assert_no_containers(&real, &label).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_pull_cut_mid_stream() {
    pull_cut_mid_stream(Target::DockerUnix).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn docker_current_pull_cut_mid_stream() {
    pull_cut_mid_stream(Target::DockerCurrent).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn podman_pull_cut_mid_stream() {
    pull_cut_mid_stream(Target::PodmanUnix).await
}
