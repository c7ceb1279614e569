//! `cstream`: run anything in a Docker or Podman container and watch it.
//!
//! Built only on cstream's public API (`cstream-engine`). See `cstream --help`.

mod args;
mod export;
mod json;
mod record;
mod show;
mod spec;
mod terminal;

use std::io::{IsTerminal, Read};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Parser;
use cstream_engine::core::swarm::Placement;
use cstream_engine::{
    ContextBy, Discover, EndReason, Engine, Error, EventKind, ProcessEnd, Remote, Runtime, Seen, Source,
};
use futures_util::StreamExt;

use args::{Cli, Command, EngineArgs, KindArg, RunArgs};
use record::{Record, Recorder};
use show::{Mode, Shower};

/// cstream or the engine failed before the process ran, or while it ran
/// (output lost, the outcome in doubt).
const FAILED: u8 = 125;
/// The longest the process waits for its runtime and cleanup at the end.
const SHUTDOWN: Duration = Duration::from_secs(5);

fn main() -> ExitCode {
    if let Err(e) = log_to_stderr() {
        return ExitCode::from(fail(e));
    }
    // Help and the version print and exit 0; any other mistake on the command
    // line is one line and 125, as every failure before the process runs.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            let message = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                    let _ = e.print();
                    return ExitCode::SUCCESS;
                }
                ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    "no command given: run, replay, export, gc or engines".to_string()
                }
                // clap's first paragraph, on one line, without its "error: ".
                _ => e
                    .render()
                    .to_string()
                    .split("\n\n")
                    .next()
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            let message = message.strip_prefix("error: ").unwrap_or(&message);
            return ExitCode::from(fail(format_args!("{message} (see --help)")));
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cstream: cannot start: {e}");
            return ExitCode::from(FAILED);
        }
    };
    let code = rt.block_on(async {
        match cli.command {
            Command::Run(a) => run(*a).await,
            Command::Exec(a) => exec(*a).await,
            Command::Resume(a) => resume(a).await,
            Command::Replay(a) => replay(a).await,
            Command::Export(a) => export(a),
            Command::Gc(a) => gc(a).await,
            Command::Engines(a) => engines(a).await,
        }
    });
    // A run's task removes its container before its stream ends, so none
    // should be left at this point. One that is, is dropped here and removes
    // its container on a thread of its own: wait for that before exiting.
    let deadline = Instant::now() + SHUTDOWN;
    rt.shutdown_timeout(SHUTDOWN);
    if !cstream_engine::Run::wait_for_cleanup(deadline.saturating_duration_since(Instant::now())) {
        return ExitCode::from(fail("a container may be left behind; `cstream gc` removes it"));
    }
    ExitCode::from(code)
}

/// `CSTREAM_LOG`, a filter as `RUST_LOG` takes (`debug`,
/// `cstream_driver_hyper=trace`), turns on the library's log, on stderr.
/// Unset (or empty), nothing is logged: stderr is the process's own.
fn log_to_stderr() -> Result<(), String> {
    let Some(filter) = std::env::var_os("CSTREAM_LOG").filter(|f| !f.is_empty()) else { return Ok(()) };
    let filter = filter.into_string().map_err(|f| format!("invalid CSTREAM_LOG {f:?}: not UTF-8"))?;
    let filter =
        tracing_subscriber::EnvFilter::try_new(&filter).map_err(|e| format!("invalid CSTREAM_LOG {filter:?}: {e}"))?;
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    Ok(())
}

fn fail(message: impl std::fmt::Display) -> u8 {
    eprintln!("cstream: {message}");
    FAILED
}

/// Where the engine is, as `e` and the environment say, in the docker CLI's order.
fn discovery(e: &EngineArgs) -> Discover {
    let remote = if e.allow_remote { Remote::Allow } else { Remote::Refuse };
    let d = Discover::new().kind(e.engine_kind.map(runtime)).remote(remote);
    match (&e.engine, &e.context) {
        (Some(url), _) => d.host(url.clone()),
        (None, Some(name)) => d.context(name.clone()),
        (None, None) => d,
    }
}

async fn connect(e: &EngineArgs) -> Result<Engine, Error> {
    discovery(e).connect().await
}

fn runtime(r: KindArg) -> Runtime {
    match r {
        KindArg::Docker => Runtime::Docker,
        KindArg::Podman => Runtime::Podman,
    }
}

/// The exit code for how the process ended: its own; 126 or 127 when it could
/// not be started; 125 when cstream or the engine failed first, or reported
/// any error during the run (`failed`), whatever the process's own code.
///
/// Every error counts: an output frame that could not be decoded or a
/// connection cut loses output, a failed wait or inspect leaves the outcome
/// in doubt, and a failed remove leaves a container behind. The one error
/// that provably lost nothing is the reason a process could not start, told
/// just before its `ProcessEnd { reason: StartFailed }`: it never ran.
fn exit_code(end: Option<&ProcessEnd>, failed: bool) -> u8 {
    if failed {
        return FAILED;
    }
    match end {
        Some(p) => match p.exit_code {
            Some(c) if (0..=255).contains(&c) => c as u8,
            Some(c) if c > 255 => (c & 0xff) as u8,
            _ => FAILED,
        },
        None => FAILED,
    }
}

/// What `run` runs: a container on an engine, a job on a swarm, or a local
/// process; and what `exec` runs: a step in a container.
enum Start {
    Container(Engine, Box<cstream_engine::RunSpec>),
    Exec(Engine, String, Box<cstream_engine::RunSpec>),
    Resume(Engine, String, Seen),
    Swarm(Engine, Box<cstream_engine::RunSpec>, Placement),
    Local(cstream_local::LocalProcess),
}

async fn run(a: RunArgs) -> u8 {
    let Some((image, command)) = a.args.split_first() else { return fail("no image given") };
    // With -t the process's terminal starts at the size of ours.
    let size = if a.process.tty { terminal::size() } else { None };
    let start = match a.local {
        true => match spec::local(&a, size) {
            Ok(p) => Start::Local(p),
            Err(spec::Usage(m)) => return fail(m),
        },
        false => {
            let spec = match spec::build(&a, image, command, size) {
                Ok(s) => s,
                Err(spec::Usage(m)) => return fail(m),
            };
            match connect(&a.engine).await {
                Ok(e) if a.swarm => Start::Swarm(e, Box::new(spec), Placement { constraints: a.constraint.clone() }),
                Ok(e) => Start::Container(e, Box::new(spec)),
                Err(e) => return fail(e),
            }
        }
    };
    let (image, command) = match a.local {
        true => (&"local".to_string(), &a.args[..]),
        false => (image, command),
    };
    let record = a.record.as_deref().map_or(RecordTo::Off, RecordTo::New);
    let shown =
        Shown { record, tty: a.process.tty, interactive: a.process.interactive, json: a.json, verbose: a.verbose };
    stream(start, image, command, shown).await
}

async fn exec(a: args::ExecArgs) -> u8 {
    let (container, command) = (&a.container, &a.command[..]);
    let size = if a.process.tty { terminal::size() } else { None };
    let spec = match spec::exec(&a, command, size) {
        Ok(s) => s,
        Err(spec::Usage(m)) => return fail(m),
    };
    let engine = match connect(&a.engine).await {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    let record = a.record.as_deref().map_or(RecordTo::Off, RecordTo::New);
    let shown =
        Shown { record, tty: a.process.tty, interactive: a.process.interactive, json: a.json, verbose: a.verbose };
    stream(Start::Exec(engine, container.clone(), Box::new(spec)), container, command, shown).await
}

async fn resume(a: args::ResumeArgs) -> u8 {
    let (run_id, seen, record) = match &a.record {
        Some(path) => {
            let recording = match record::read(path) {
                Ok(r) => r,
                Err(e) => return fail(e),
            };
            let (named, ended, seen) = record::run_in(&recording.records);
            let run_id = match (named, a.run_id.clone()) {
                (Some(named), Some(given)) if named != given => {
                    return fail(format!("{} is a recording of run {named}, not of {given}", path.display()));
                }
                (Some(id), _) | (None, Some(id)) => id,
                (None, None) => {
                    return fail(format!(
                        "{} names no run (a local run, or an older cstream's): give its id",
                        path.display()
                    ));
                }
            };
            if ended {
                return fail(format!(
                    "{}: the recorded run has ended already; there is nothing to resume",
                    path.display()
                ));
            }
            match Recorder::append(path, recording.whole) {
                Ok(r) => (run_id, seen, RecordTo::Append(r)),
                Err(e) => return fail(e),
            }
        }
        None => (a.run_id.clone().unwrap_or_default(), Seen::default(), RecordTo::Off),
    };
    let engine = match connect(&a.engine).await {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    let shown = Shown { record, tty: false, interactive: false, json: a.json, verbose: a.verbose };
    stream(Start::Resume(engine, run_id, seen), "", &[], shown).await
}

/// Where a run's records go.
enum RecordTo<'a> {
    Off,
    /// A new recording, made at this path.
    New(&'a std::path::Path),
    /// A recording gone on with.
    Append(Recorder),
}

/// How a run is shown, recorded and fed.
struct Shown<'a> {
    record: RecordTo<'a>,
    tty: bool,
    interactive: bool,
    json: bool,
    verbose: bool,
}

/// Streams a run to its end: shown, recorded, stdin and signals passed on.
/// Returns the exit code (see [`exit_code`]).
async fn stream(start: Start, image: &str, command: &[String], a: Shown<'_>) -> u8 {
    let fresh = matches!(a.record, RecordTo::New(_));
    let mut recorder = match a.record {
        RecordTo::New(path) => {
            let started_unix =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
            let header = Record::Header {
                image: image.to_string(),
                command: command.to_vec(),
                started_unix,
                tty: a.tty,
                cstream: Some(env!("CARGO_PKG_VERSION").into()),
            };
            // A recording that cannot even begin stops the run before it starts.
            match Recorder::create(path, &header) {
                Ok(r) => Some(r),
                Err(e) => return fail(format!("{e} (nothing was run)")),
            }
        }
        RecordTo::Append(r) => Some(r),
        RecordTo::Off => None,
    };
    let mode = if a.json { Mode::Json } else { Mode::Text { verbose: a.verbose } };
    let mut shower = Shower::new(mode);
    let began = Instant::now();
    let mut run = match start {
        Start::Local(p) => p.run(),
        Start::Container(engine, spec) => engine.run(*spec),
        Start::Swarm(engine, spec, placement) => engine.run_on_swarm(*spec, placement),
        Start::Exec(engine, container, spec) => engine.exec(&container, *spec),
        Start::Resume(engine, run_id, seen) => engine.resume(&run_id, seen),
    };
    // The run's id: said with its container's creation, and recorded, so
    // that `cstream resume` can find the run should this cstream die.
    if let Some(id) = run.run_id() {
        shower.set_run_id(id);
        let record = Record::Run { run_id: id.to_string() };
        if let Some(failed) = recorder.as_mut().filter(|_| fresh).and_then(|r| r.write(&record)) {
            shower.error(began.elapsed(), &failed);
        }
    }
    let handle = run.handle();
    // -it on a terminal: keys go to the process as typed, until the run ends
    // (the guard restores the terminal on every way out of this function).
    let raw = if a.tty && a.interactive { terminal::RawMode::enter() } else { None };
    shower.set_raw(raw.is_some());
    if a.interactive {
        pump_stdin(handle.clone());
    }
    let mut interrupt = signal(tokio::signal::unix::SignalKind::interrupt());
    let mut terminate = signal(tokio::signal::unix::SignalKind::terminate());
    let mut hangup = signal(tokio::signal::unix::SignalKind::hangup());
    let mut winch = signal(tokio::signal::unix::SignalKind::window_change());
    let mut end = None;
    let mut errors = Errors::default();
    // Ctrl-C, SIGTERM and SIGHUP (the terminal or ssh session closed) alike:
    // the first stops the process with grace, a second kills it at once, and
    // the container is removed either way.
    let mut stops = 0;
    loop {
        tokio::select! {
            item = run.next() => match item {
                Some(Ok(event)) => {
                    // Recorded before it is shown: what was seen is in the recording.
                    if let Some(failed) = recorder.as_mut().and_then(|r| r.write(&Record::Event(event.clone()))) {
                        shower.error(began.elapsed(), &failed);
                    }
                    shower.event(&event);
                    errors.event(&event.kind);
                    if let EventKind::ProcessEnd(p) = event.kind {
                        end = Some(p);
                    }
                }
                Some(Err(e)) => {
                    let message = e.to_string();
                    let record = Record::Error { at: began.elapsed(), message: message.clone() };
                    if let Some(failed) = recorder.as_mut().and_then(|r| r.write(&record)) {
                        shower.error(began.elapsed(), &failed);
                    }
                    shower.error(began.elapsed(), &message);
                    errors.error();
                }
                None => break,
            },
            Some(()) = interrupt.recv() => {
                stops += 1;
                handle.cancel();
                if stops == 1 && std::io::stderr().is_terminal() {
                    eprintln!("\ncstream: stopping (press Ctrl-C again to kill)");
                }
            }
            Some(()) = terminate.recv() => {
                stops += 1;
                handle.cancel();
            }
            Some(()) = hangup.recv() => {
                stops += 1;
                handle.cancel();
            }
            Some(()) = winch.recv(), if a.tty => {
                if let Some((cols, rows)) = terminal::size() {
                    let h = handle.clone();
                    tokio::spawn(async move { let _ = h.resize(cols, rows).await; });
                }
            }
        }
    }
    drop(raw);
    // A recording that failed mid-run is lost to the user who asked for it:
    // the process ran to its end, and the exit code says the recording did not.
    let recording_failed = recorder.as_ref().is_some_and(Recorder::failed);
    exit_code(end.as_ref(), errors.failed() || recording_failed)
}

/// Whether the run reported an error that decides its exit code (see [`exit_code`]).
#[derive(Default)]
struct Errors {
    counted: usize,
    /// The last item was an error.
    last: bool,
}

impl Errors {
    fn error(&mut self) {
        self.counted += 1;
        self.last = true;
    }

    fn event(&mut self, kind: &EventKind) {
        // The error just before a start failure's end says why the process
        // could not start: it never ran, nothing was lost, and 126 or 127 stand.
        if self.last && matches!(kind, EventKind::ProcessEnd(p) if p.reason == EndReason::StartFailed) {
            self.counted -= 1;
        }
        self.last = false;
    }

    fn failed(&self) -> bool {
        self.counted > 0
    }
}

fn signal(kind: tokio::signal::unix::SignalKind) -> tokio::signal::unix::Signal {
    match tokio::signal::unix::signal(kind) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cstream: cannot watch for signals: {e}");
            std::process::exit(i32::from(FAILED));
        }
    }
}

/// Chunks read from stdin waiting for the run, at most.
const STDIN_CHUNKS: usize = 4;

/// Copies this program's stdin to the process's, then closes it.
///
/// A read of stdin cannot be cancelled, so it happens on a plain thread of
/// its own, never joined: when the run ends first, that thread may stay
/// blocked in `read` (a terminal, an open pipe) and the process still exits
/// at once. A task forwards what it reads to the run, a chunk at a time, so
/// a process that does not read its stdin holds up the reading here.
fn pump_stdin(handle: cstream_engine::RunHandle) {
    let (chunks, mut read) = tokio::sync::mpsc::channel::<Vec<u8>>(STDIN_CHUNKS);
    let reader = std::thread::Builder::new().name("cstream-stdin".into()).spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    if chunks.blocking_send(buf[..n].to_vec()).is_err() {
                        break; // the run has ended
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        // Dropping `chunks` here tells the task that stdin ended.
    });
    if let Err(e) = reader {
        eprintln!("cstream: cannot read stdin: {e}");
    }
    tokio::spawn(async move {
        while let Some(data) = read.recv().await {
            if handle.write_stdin(data).await.is_err() {
                return;
            }
        }
        let _ = handle.close_stdin().await;
    });
}

async fn replay(a: args::ReplayArgs) -> u8 {
    let recording = match record::read(&a.file) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    let mode = if a.json { Mode::Json } else { Mode::Text { verbose: a.verbose } };
    let mut shower = Shower::new(mode);
    let started = Instant::now();
    let mut end = None;
    // The recorded run's errors decided its exit code, and decide its replay's.
    let mut errors = Errors::default();
    let mut last = Duration::ZERO;
    for r in &recording.records {
        let at = match r {
            Record::Event(e) => e.at,
            Record::Error { at, .. } => *at,
            Record::Header { .. } => continue,
            Record::Run { run_id } => {
                shower.set_run_id(run_id);
                continue;
            }
        };
        last = at;
        if a.realtime {
            tokio::time::sleep(at.saturating_sub(started.elapsed())).await;
        }
        match r {
            Record::Event(e) => {
                shower.event(e);
                errors.event(&e.kind);
                if let EventKind::ProcessEnd(p) = &e.kind {
                    end = Some(p.clone());
                }
            }
            Record::Error { at, message } => {
                shower.error(*at, message);
                errors.error();
            }
            Record::Header { .. } | Record::Run { .. } => {}
        }
    }
    // A recording that stops early (cstream was killed, or the disk filled
    // up) replays up to where it stops, and then says so.
    if let Some(cut) = &recording.cut {
        shower.error(last, cut);
        return FAILED;
    }
    if end.is_none() && !errors.failed() {
        shower.error(last, &format!("{}: the recording ends before the process did", a.file.display()));
    }
    exit_code(end.as_ref(), errors.failed())
}

fn export(a: args::ExportArgs) -> u8 {
    let recording = match record::read(&a.recording) {
        Ok(r) => r,
        Err(e) => return fail(e),
    };
    // A recording cut short is exported up to the cut, and the cut reported.
    match export::asciicast(&recording.records, &a.asciicast) {
        Ok(()) => recording.cut.map_or(0, fail),
        Err(e) => fail(e),
    }
}

async fn gc(a: args::GcArgs) -> u8 {
    let older_than = match spec::parse_duration(&a.older_than) {
        Ok(d) => d,
        Err(spec::Usage(m)) => return fail(m),
    };
    let engine = match connect(&a.engine).await {
        Ok(e) => e,
        Err(e) => return fail(e),
    };
    match engine.gc(older_than, a.force).await {
        Ok(done) => {
            for id in &done.removed {
                println!("{id}");
            }
            for (id, why) in &done.left {
                eprintln!("cstream: left {id} ({why}); --force removes it");
            }
            eprintln!(
                "cstream: removed {} container(s) or swarm service(s) from {}",
                done.removed.len(),
                engine.endpoint()
            );
            0
        }
        Err(e) => fail(e),
    }
}

/// Lists where discovery would look, in order, with where each place came
/// from and what answers there: 0 when one engine there is usable, else 1;
/// 125 when the address or context itself cannot be used.
async fn engines(a: EngineArgs) -> u8 {
    let candidates = match discovery(&a).candidates() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let mut reachable = 0;
    for c in candidates {
        let endpoint = &c.endpoint;
        let from = match &c.from {
            Source::Given => "from --engine".to_string(),
            Source::Context { name, by: ContextBy::Given } => format!("from --context {name}"),
            other => format!("from {other}"),
        };
        let found = async { c.connect().await?.version().await };
        match found.await {
            Ok(v) => {
                if let Err(e) = v.agreed() {
                    eprintln!("cstream: {endpoint}: {e}");
                }
                reachable += usize::from(v.agreed().is_ok());
                let kind = match v.info.kind {
                    cstream_engine::EngineKind::Docker => "docker",
                    cstream_engine::EngineKind::Podman => "podman",
                };
                let w = &v.versions;
                let speaks = match v.agreed() {
                    Ok(api) => format!("speaks {api}"),
                    Err(_) => format!("refuses {}", v.info.api),
                };
                let (oldest, newest) = (w.oldest, w.newest);
                println!("{endpoint}\t{kind} {}\t{from}\tAPI {oldest}-{newest}\t{speaks}\t{}", w.version, w.platform);
            }
            Err(e) => println!("{endpoint}\tunreachable\t{from}\t{e}"),
        }
    }
    if reachable == 0 { 1 } else { 0 }
}
