//! Records real runs on Docker and Podman as transcripts, for proto-core's
//! replay tests (`crates/proto-core/tests/transcripts/`).
//!
//!     scripts/engines.sh up
//!     cargo run -p cstream-engine --example capture -- crates/proto-core/tests/transcripts
//!
//! Each file's first line says which engine and which spec; the rest is the
//! run's exchange as `Transcript` records it.

use std::time::Duration;

use cstream_engine::{EventKind, PullPolicy, RunSpec, Transcript};
use futures_util::StreamExt;
use serde_json::json;

struct Scenario {
    name: &'static str,
    image: &'static str,
    command: Option<&'static [&'static str]>,
    tty: bool,
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
        stdin: None,
        pull: "never",
        cancel_on_output: false,
    },
    Scenario {
        name: "tty",
        image: "cstream-test:latest",
        command: Some(&["sh", "-c", "echo hi; echo there >&2"]),
        tty: true,
        stdin: None,
        pull: "never",
        cancel_on_output: false,
    },
    Scenario {
        name: "not-found",
        image: "cstream-test:latest",
        command: Some(&["/no/such/command"]),
        tty: false,
        stdin: None,
        pull: "never",
        cancel_on_output: false,
    },
    Scenario {
        name: "missing-image",
        image: "cstream-no-such-image:v0",
        command: None,
        tty: false,
        stdin: None,
        pull: "never",
        cancel_on_output: false,
    },
    Scenario {
        name: "cancel",
        image: "cstream-test:latest",
        command: Some(&["sh", "-c", "trap 'echo bye; exit 7' TERM; echo ready; while true; do sleep 0.05; done"]),
        tty: false,
        stdin: None,
        pull: "never",
        cancel_on_output: true,
    },
    Scenario {
        name: "stdin",
        image: "cstream-test:latest",
        command: Some(&["sh", "-c", "wc -c; cat"]),
        tty: false,
        stdin: Some("hello, stdin\n"),
        pull: "never",
        cancel_on_output: false,
    },
];

fn spec(s: &Scenario) -> RunSpec {
    let pull = match s.pull {
        "never" => PullPolicy::Never,
        "always" => PullPolicy::Always,
        _ => PullPolicy::Missing,
    };
    let mut b = RunSpec::builder(s.image).tty(s.tty).stdin(s.stdin.is_some()).pull(pull).heartbeat(None);
    if let Some(c) = s.command {
        b = b.command(c.iter().copied());
    }
    b.build().expect("scenario specs are valid")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).ok_or("usage: capture DIR")?;
    std::fs::create_dir_all(&dir)?;
    for (engine_name, socket) in [("docker", "/var/run/docker.sock"), ("podman", "/run/podman/podman.sock")] {
        for s in SCENARIOS {
            // A fresh engine each time, so the transcript begins with the ping.
            let engine = cstream_engine::engine(&format!("unix://{socket}"), cstream_engine::Remote::Refuse)?;
            let transcript = Transcript::new();
            let mut run = engine.run_recorded(spec(s), transcript.clone());
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
            let head = json!({
                "engine": engine_name,
                "scenario": s.name,
                "spec": {
                    "image": s.image, "command": s.command, "tty": s.tty, "stdin": s.stdin.is_some(), "pull": s.pull
                }
            });
            let path = format!("{dir}/{engine_name}-{}.jsonl", s.name);
            std::fs::write(&path, format!("{head}\n{}", transcript.to_jsonl()))?;
            println!("wrote {path}");
        }
    }
    Ok(())
}
