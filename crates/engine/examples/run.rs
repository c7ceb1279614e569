//! Reads a run's events the right way: an `Err` item is not the end of the
//! stream, so the loop keeps the errors and reads on until the stream ends
//! (the process stopped, `ProcessEnd` reported, the container removed).
//! Leaving at the first error (`event?`) would drop the run, and dropping a
//! run kills it at once, with no grace period and no `ProcessEnd`.
//!
//!     cargo run -p cstream-engine --example run -- cstream-test:latest sh -c 'echo hi; exit 3'
//!     cargo run -p cstream-engine --example run -- --output cstream-test:latest sh -c 'echo hi; exit 3'
//!
//! With `--output`, `Run::output` does the same and returns the result. The
//! exit code is the process's own, or 125 when the run reported any error:
//! output lost, the exit in doubt or the container left behind is never a
//! success. Set `CSTREAM_ENGINE` (`unix:///run/podman/podman.sock`) to choose
//! the engine.

use std::io::Write;

use cstream_engine::{Engine, EventKind, Run, RunSpec, Stream};
use futures_util::StreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let collect = args.first().is_some_and(|a| a == "--output");
    if collect {
        args.remove(0);
    }
    let mut args = args.into_iter();
    let image = args.next().ok_or("usage: run [--output] IMAGE [COMMAND [ARGS...]]")?;
    let command: Vec<String> = args.collect();
    let mut spec = RunSpec::builder(image);
    if !command.is_empty() {
        spec = spec.command(command);
    }
    let run = engine().await?.run(spec.build()?);
    let code = if collect { output(run).await? } else { stream(run).await? };
    std::process::exit(code);
}

async fn engine() -> Result<Engine, cstream_engine::Error> {
    match std::env::var("CSTREAM_ENGINE") {
        Ok(endpoint) => cstream_engine::connect(&endpoint, cstream_engine::Remote::Refuse).await,
        Err(_) => cstream_engine::discover(None).await,
    }
}

/// The events as they happen.
async fn stream(mut run: Run) -> std::io::Result<i32> {
    let mut errors = Vec::new();
    let mut code = None;
    while let Some(item) = run.next().await {
        let event = match item {
            Ok(event) => event,
            Err(e) => {
                // Not the end: the run goes on stopping and cleaning up.
                eprintln!("error: {e}");
                errors.push(e);
                continue;
            }
        };
        match event.kind {
            EventKind::Output { stream: Stream::Stderr, data } => std::io::stderr().write_all(&data)?,
            EventKind::Output { data, .. } => std::io::stdout().write_all(&data)?,
            EventKind::ProcessEnd(end) => {
                eprintln!("[{:?}] process ended: {end:?}", event.at);
                code = end.exit_code;
            }
            other => eprintln!("[{:?}] {other:?}", event.at),
        }
    }
    // The stream has ended: the run is over, the container gone.
    Ok(match (errors.is_empty(), code) {
        (true, Some(code)) => code,
        _ => 125,
    })
}

/// The result, once the run is over.
async fn output(run: Run) -> std::io::Result<i32> {
    match run.output().await {
        Ok(out) => {
            std::io::stdout().write_all(&out.stdout)?;
            std::io::stderr().write_all(&out.stderr)?;
            std::io::stdout().write_all(&out.tty)?;
            eprintln!("{} in container {}", out.status, out.container_id.as_deref().unwrap_or("?"));
            Ok(out.status.code().unwrap_or(125))
        }
        Err(failed) => {
            // What arrived is still there, beside every error.
            std::io::stdout().write_all(&failed.stdout)?;
            std::io::stderr().write_all(&failed.stderr)?;
            for e in &failed.errors {
                eprintln!("error: {e}");
            }
            Ok(125)
        }
    }
}
