//! Runs a command in a container and streams it: output to stdout and
//! stderr, the lifecycle to stderr, and the process's exit code as ours.
//!
//!     cargo run -p cstream-engine --example run -- cstream-test:latest sh -c 'echo hi; echo oops >&2; exit 3'
//!
//! The engine is found as `cstream_engine::discover` does; set `CSTREAM_ENGINE`
//! (`unix:///run/podman/podman.sock`, `tcp://127.0.0.1:2375`) to choose one.

use std::io::Write;

use cstream_engine::{EventKind, RunSpec, Stream};
use futures_util::StreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let image = args.next().ok_or("usage: run IMAGE [COMMAND [ARGS...]]")?;
    let command: Vec<String> = args.collect();
    let engine = match std::env::var("CSTREAM_ENGINE") {
        Ok(endpoint) => cstream_engine::connect(&endpoint, cstream_engine::Remote::Refuse).await?,
        Err(_) => cstream_engine::discover(None).await?,
    };
    let mut spec = RunSpec::builder(image);
    if !command.is_empty() {
        spec = spec.command(command);
    }
    let mut run = engine.run(spec.build()?);
    let mut code = 125;
    while let Some(event) = run.next().await {
        let event = match event {
            Ok(e) => e,
            Err(e) => {
                eprintln!("error: {e}");
                continue;
            }
        };
        match event.kind {
            EventKind::Output { stream: Stream::Stderr, data } => std::io::stderr().write_all(&data)?,
            EventKind::Output { data, .. } => std::io::stdout().write_all(&data)?,
            EventKind::ProcessEnd(end) => {
                eprintln!("[{:?}] process ended: {end:?}", event.at);
                code = end.exit_code.unwrap_or(125);
            }
            other => eprintln!("[{:?}] {other:?}", event.at),
        }
    }
    std::process::exit(code);
}
