//! Records real runs on Docker and Podman as transcripts, for proto-core's
//! replay tests (`crates/proto-core/tests/transcripts/`).
//!
//!     scripts/engines.sh up && scripts/registry.sh up
//!     cargo run -p cstream-engine --example capture -- crates/proto-core/tests/transcripts [ENGINE...]
//!
//! ENGINE is `docker` (20.10), `docker-current` (26) or `podman`; all three
//! when none is named. Each file's first line says which engine and which
//! spec (`cstream_proto_core::transcript::Head`); the rest is the run's exchange
//! as `Transcript` records it.

use std::time::Duration;

use cstream_engine::core::transcript::Head;
use cstream_engine::driver::Transcript;
use cstream_engine::{EventKind, PullPolicy};
use futures_util::StreamExt;

struct Scenario {
    name: &'static str,
    image: &'static str,
    command: Option<&'static [&'static str]>,
    tty: bool,
    /// Columns and rows of the terminal, with `tty`.
    tty_size: Option<(u16, u16)>,
    stdin: Option<&'static str>,
    pull: &'static str,
    cancel_on_output: bool,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "exit-42",
        image: "cstream-test:latest",
        command: Some(&["sh", "-c", "echo out; echo err >&2; exit 42"]),
        tty: false,
        tty_size: None,
        stdin: None,
        pull: "never",
        cancel_on_output: false,
    },
    Scenario {
        name: "tty",
        image: "cstream-test:latest",
        command: Some(&["sh", "-c", "echo hi; echo there >&2"]),
        tty: true,
        tty_size: None,
        stdin: None,
        pull: "never",
        cancel_on_output: false,
    },
    Scenario {
        name: "not-found",
        image: "cstream-test:latest",
        command: Some(&["/no/such/command"]),
        tty: false,
        tty_size: None,
        stdin: None,
        pull: "never",
        cancel_on_output: false,
    },
    Scenario {
        name: "missing-image",
        image: "cstream-no-such-image:v0",
        command: None,
        tty: false,
        tty_size: None,
        stdin: None,
        pull: "never",
        cancel_on_output: false,
    },
    Scenario {
        name: "cancel",
        image: "cstream-test:latest",
        command: Some(&["sh", "-c", "trap 'echo bye; exit 7' TERM; echo ready; while true; do sleep 0.05; done"]),
        tty: false,
        tty_size: None,
        stdin: None,
        pull: "never",
        cancel_on_output: true,
    },
    Scenario {
        name: "stdin",
        image: "cstream-test:latest",
        command: Some(&["sh", "-c", "wc -c; cat"]),
        tty: false,
        tty_size: None,
        stdin: Some("hello, stdin\n"),
        pull: "never",
        cancel_on_output: false,
    },
    Scenario {
        name: "tty-size",
        image: "cstream-test:latest",
        command: Some(&["stty", "size"]),
        tty: true,
        tty_size: Some((100, 40)),
        stdin: None,
        pull: "never",
        cancel_on_output: false,
    },
    // Removed from the engine first, with the test image that shares its
    // layer: create answers 404, the pull shows the layer's progress, create
    // again. The test image is tagged back from the pulled one after.
    Scenario {
        name: "pull",
        image: "127.0.0.1:5000/cstream-test:v1",
        command: Some(&["echo", "pulled"]),
        tty: false,
        tty_size: None,
        stdin: None,
        pull: "missing",
        cancel_on_output: false,
    },
];

const ENGINES: [(&str, &str); 3] = [
    ("docker", "/var/run/docker.sock"),
    ("docker-current", "/run/cstream-docker-current.sock"),
    ("podman", "/run/podman/podman.sock"),
];

/// The transcript's first line for scenario `s` on `engine`; its spec is the run's.
fn head(engine: &str, s: &Scenario) -> Head {
    let pull = match s.pull {
        "never" => PullPolicy::Never,
        "always" => PullPolicy::Always,
        _ => PullPolicy::Missing,
    };
    Head {
        engine: engine.into(),
        scenario: s.name.into(),
        image: s.image.into(),
        command: s.command.map(|c| c.iter().map(|w| w.to_string()).collect()),
        tty: s.tty,
        tty_size: s.tty_size,
        stdin: s.stdin.is_some(),
        pull,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: capture DIR [docker|docker-current|podman...]")?;
    let chosen: Vec<String> = args.collect();
    std::fs::create_dir_all(&dir)?;
    for (engine_name, socket) in ENGINES {
        if !chosen.is_empty() && !chosen.iter().any(|c| c == engine_name) {
            continue;
        }
        for s in SCENARIOS {
            // A fresh engine each time, so the transcript begins with the ping.
            let engine = cstream_engine::engine(&format!("unix://{socket}"), cstream_engine::Remote::Refuse)?;
            if s.pull == "missing" {
                // Every name of the same image (the pull tests leave the second registry's).
                for name in [s.image, "127.0.0.1:5001/cstream-test:v1", "cstream-test:latest"] {
                    forget_image(socket, name).await?;
                }
            }
            let head = head(engine_name, s);
            let transcript = Transcript::new();
            let mut run = engine.run_recorded(head.spec().expect("scenario specs are valid"), transcript.clone());
            let mut stdin_sent = false;
            while let Some(item) = tokio::time::timeout(Duration::from_secs(60), run.next()).await? {
                let Ok(event) = item else { continue };
                match event.kind {
                    EventKind::ProcessStart { .. } if !stdin_sent => {
                        if let Some(text) = s.stdin {
                            run.write_stdin(text.as_bytes().to_vec()).await?;
                            run.close_stdin().await?;
                        }
                        stdin_sent = true;
                    }
                    EventKind::Output { .. } if s.cancel_on_output => run.cancel(),
                    _ => {}
                }
            }
            if s.pull == "missing" {
                tag(socket, s.image, "cstream-test", "latest").await?;
            }
            let path = format!("{dir}/{engine_name}-{}.jsonl", s.name);
            std::fs::write(&path, format!("{}\n{}", head.to_json(), transcript.to_jsonl()))?;
            println!("wrote {path}");
        }
    }
    Ok(())
}

/// Removes `image` from the engine (on a connection of its own, so the
/// recorded run still begins with its ping).
async fn forget_image(socket: &str, image: &str) -> Result<(), Box<dyn std::error::Error>> {
    use cstream_engine::core::api::{ApiVersion, Method, requests};
    let engine = cstream_engine::engine(&format!("unix://{socket}"), cstream_engine::Remote::Refuse)?;
    let mut r = requests::inspect(ApiVersion::new(1, 41), "x");
    r.method = Method::Delete;
    r.path = format!("/v1.41/images/{}?force=1", requests::encode_query(image));
    let a = engine.call(r).await?;
    match a.status {
        200 | 404 => Ok(()),
        s => Err(format!("removing {image}: HTTP {s}").into()),
    }
}

/// Tags `image` as `repo:tag`.
async fn tag(socket: &str, image: &str, repo: &str, tag: &str) -> Result<(), Box<dyn std::error::Error>> {
    use cstream_engine::core::api::{ApiVersion, Method, requests};
    let engine = cstream_engine::engine(&format!("unix://{socket}"), cstream_engine::Remote::Refuse)?;
    let mut r = requests::inspect(ApiVersion::new(1, 41), "x");
    r.method = Method::Post;
    r.path = format!("/v1.41/images/{}/tag?repo={repo}&tag={tag}", requests::encode_query(image));
    match engine.call(r).await?.status {
        201 => Ok(()),
        s => Err(format!("tagging {image} as {repo}:{tag}: HTTP {s}").into()),
    }
}
