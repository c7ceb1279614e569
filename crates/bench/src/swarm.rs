//! Item 7: runs on a Docker Swarm (`engine.run_on_swarm`) against the same
//! runs on one engine (`engine.run` on Docker 20.10), cstream only.
//!
//! - Runs of `true` at once: the wall time until every one is removed, and
//!   the client's CPU per run, each batch in a process of its own (`runs
//!   --swarm`, as item 2), the swarm's batch and the engine's in turn.
//! - Sequential runs of `true`, interleaved: the median time from the call
//!   to each event, and the steps between them (create, placement and start,
//!   the end noticed, the final log read, the removal).
//! - `head -c N /dev/zero` from one job: throughput from first to last output
//!   byte and the client's CPU per GiB (`stream --swarm`, a process of its
//!   own), against one engine with the log driver the swarm job gets
//!   (`local`: cstream sets it for swarm jobs when the spec names none).
//!
//! No other client runs swarm jobs the way cstream does (see BENCHMARKS.md).
//! Afterwards no service on the manager and no container on any node may
//! carry the bench's label.

use std::time::{Duration, Instant, SystemTime};

use cstream_engine::Engine;
use cstream_engine::core::api::answers::ListedService;
use cstream_engine::core::api::{ApiVersion, Method, Request, RequestKind, requests};

use crate::clients::{self, Client, Consumer, Job, LABEL, Res, Timings};
use crate::runs::{self, Shape};
use crate::stats::{self, Row, Samples, Unit};
use crate::tap::Tap;
use crate::{Args, MIB, retrying, retrying_async, run_stream_child_with, runtime, sys};

/// The manager `scripts/swarm.sh up` starts, and its nodes.
const MANAGER: &str = "unix:///run/cstream-swarm/node1.sock";
const NODES: &str =
    "unix:///run/cstream-swarm/node1.sock,unix:///run/cstream-swarm/node2.sock,unix:///run/cstream-swarm/node3.sock";
/// The swarm job's log driver when the spec names none.
const SWARM_LOG_DRIVER: &str = "local";
/// How long the nodes get to remove a removed service's container.
const SETTLE: Duration = Duration::from_secs(30);

/// How much of item 7 to run.
pub struct Plan {
    at_once: usize,
    at_once_rounds: usize,
    sequential: usize,
    stream_bytes: u64,
    stream_rounds: usize,
}

impl Plan {
    /// The full run.
    pub fn full() -> Plan {
        Plan { at_once: 32, at_once_rounds: 3, sequential: 10, stream_bytes: 64 * MIB, stream_rounds: 3 }
    }

    /// `--quick`: one round each, smaller.
    pub fn quick() -> Plan {
        Plan { at_once: 8, at_once_rounds: 1, sequential: 3, stream_bytes: 16 * MIB, stream_rounds: 1 }
    }
}

/// The swarm to measure on: its manager's endpoint and every node's.
pub struct Swarm {
    manager: String,
    nodes: Vec<String>,
}

impl Swarm {
    /// The swarm `--swarm` / `--swarm-nodes` name (by default the one
    /// `scripts/swarm.sh up` starts), or why item 7 is skipped: `--no-swarm`,
    /// or no socket at the manager's path.
    pub fn from_args(a: &Args<'_>) -> Result<Swarm, String> {
        if a.flag("--no-swarm") {
            return Err("--no-swarm".into());
        }
        let manager = a.value("--swarm").unwrap_or(MANAGER).to_string();
        if let Some(path) = manager.strip_prefix("unix://") {
            if !std::path::Path::new(path).exists() {
                return Err(format!("no swarm manager socket at {path} (scripts/swarm.sh up starts one)"));
            }
        }
        let nodes = a.value("--swarm-nodes").unwrap_or(NODES).split(',').map(String::from).collect();
        Ok(Swarm { manager, nodes })
    }
}

/// Prints why item 7 is skipped.
pub fn skipped(why: &str) {
    println!("\n### 7. Runs on a swarm\n\nskipped: {why}");
    eprintln!("cstream-bench: item 7 skipped: {why}");
}

/// Item 7, printed as three tables. Its answer is how many services and
/// containers carrying the bench's label were left on the swarm (and have
/// been removed since): anything but 0 fails the suite.
pub fn item(swarm: &Swarm, docker: &str, image: &str, plan: &Plan) -> Res<usize> {
    let rt = runtime()?;
    let about = rt.block_on(describe(swarm));
    drop(rt);
    println!("\n### 7. Runs on a swarm\n\n{about}; one engine: Docker at {docker}");
    println!("load average at the start of item 7: {}", sys::loadavg());
    let swarm_col = format!("swarm ({} nodes)", swarm.nodes.len());
    let cols = [swarm_col.as_str(), "one engine", "swarm/engine", "swarm − engine"];

    let n = plan.at_once;
    let mut wall = Row::new(format!("wall time, {n} runs of `true` at once, all removed"), Unit::S);
    let mut cpu = Row::new(format!("client CPU per run, {n} at once (the batch's / {n})"), Unit::CpuMs);
    for round in 0..plan.at_once_rounds {
        for on_swarm in order(round) {
            let (endpoint, i) = if on_swarm { (&*swarm.manager, 0) } else { (docker, 1) };
            let what = if on_swarm { "a batch on the swarm" } else { "a batch on one engine" };
            let m = retrying(what, || runs::measure_on(Client::Ours, endpoint, image, Shape::AtOnce(n), on_swarm))?;
            wall.cells[i].push(m.wall);
            cpu.cells[i].push(m.cpu_per_run);
        }
    }
    let title = format!("7. Runs of `true` at once, swarm against one engine, {} round(s)", plan.at_once_rounds);
    stats::print_pair_table(&title, cols, &[wall, cpu]);

    let rows = sequential(swarm, docker, image, plan.sequential)?;
    let title = format!("7. Per run, {} sequential runs of `true` each, interleaved: median", plan.sequential);
    stats::print_pair_table(&title, cols, &rows);

    let rows = streaming(swarm, docker, image, plan)?;
    let title = format!(
        "7. {} MiB of stdout from one job, log driver `{SWARM_LOG_DRIVER}`, {} round(s)",
        plan.stream_bytes / MIB,
        plan.stream_rounds
    );
    stats::print_pair_table(&title, [cols[0], "one engine (attach)", cols[2], cols[3]], &rows);
    println!("\nload average at the end of item 7: {}", sys::loadavg());

    let label = format!("{}={}", LABEL.0, LABEL.1);
    let left = runtime()?.block_on(leftovers(swarm, &label, SETTLE))?;
    match left {
        0 => println!("services and containers labelled cstream.bench=1 left on the swarm: none"),
        n => println!("services and containers labelled cstream.bench=1 left on the swarm: **{n}** (now removed)"),
    }
    Ok(left)
}

/// The swarm and one engine in turn, the first alternating by round.
fn order(round: usize) -> [bool; 2] {
    if round % 2 == 0 { [true, false] } else { [false, true] }
}

/// The manager's version and how many nodes it has.
async fn describe(swarm: &Swarm) -> String {
    let version = match connect(&swarm.manager).await {
        Ok(e) => match e.version().await {
            Ok(v) => format!("Docker {} (API {})", v.versions.version, v.info.api),
            Err(err) => format!("version unknown ({err})"),
        },
        Err(err) => err,
    };
    format!("swarm: manager {} ({version}), nodes {}", swarm.manager, swarm.nodes.join(" "))
}

async fn connect(endpoint: &str) -> Res<Engine> {
    cstream_engine::connect(endpoint, cstream_engine::Remote::Refuse)
        .await
        .map_err(|e| format!("connect {endpoint}: {e}"))
}

/// The steps of a run: from the call to each event, then between them.
/// Swarm only: `task complete` (the task's status timestamp: when the swarm
/// marked it complete) and `end seen` (when the final read of the logs was
/// sent, that is, when a task poll's answer said the task had ended; see
/// [`Tap`]).
const TO: [(&str, &str); 5] = [
    ("created", "call → ContainerCreate (swarm: the service created)"),
    ("started", "call → ProcessStart"),
    ("task complete", "call → task complete (the swarm's status timestamp)"),
    ("ended", "call → ProcessEnd"),
    ("removed", "call → ContainerRemove"),
];
const BETWEEN: [(&str, &str, &str); 7] = [
    ("", "created", "create: call → ContainerCreate"),
    ("created", "started", "placement and start: ContainerCreate → ProcessStart"),
    ("started", "ended", "the end: ProcessStart → ProcessEnd"),
    ("created", "task complete", "swarm: ContainerCreate → task complete"),
    ("task complete", "end seen", "swarm: task complete → seen ended (polling)"),
    ("end seen", "ended", "swarm: final log read (sent → ProcessEnd)"),
    ("ended", "removed", "removal: ProcessEnd → ContainerRemove"),
];

/// Sequential runs of `true`, on the swarm and on one engine in turn (one
/// untimed run each first): the median time to each event and of each step,
/// and how many times a swarm job's task was polled.
fn sequential(swarm: &Swarm, docker: &str, image: &str, runs: usize) -> Res<Vec<Row>> {
    let job = Job { image: image.into(), argv: vec!["true".into()], log_driver: None };
    let mut polls = Row::new("task polls per run (`GET /tasks`; 50 ms apart for 2 s, then 200 ms)", Unit::Count);
    let rt = runtime()?;
    let seen: [Vec<Timings>; 2] = rt.block_on(async {
        let engines = [Tap::engine(&swarm.manager).await?, Tap::engine(docker).await?];
        let mut seen: [Vec<Timings>; 2] = Default::default();
        for round in 0..=runs {
            for on_swarm in order(round) {
                let i = usize::from(!on_swarm);
                let (engine, marks) = &engines[i];
                let what = if on_swarm { "a run on the swarm" } else { "a run on one engine" };
                let (mut t, t0, called, m) = retrying_async(what, || async {
                    marks.take();
                    let (t0, called) = (Instant::now(), SystemTime::now());
                    let mut quiet = Consumer::new(t0, 0, Duration::ZERO);
                    let t = match on_swarm {
                        true => clients::ours_on_swarm(engine, &job, &mut quiet).await?,
                        false => clients::ours(engine, &job, &mut quiet).await?,
                    };
                    Ok((t, t0, called, marks.take()))
                })
                .await?;
                if let Some(at) = m.final_read {
                    t.phases.push(("end seen", at - t0));
                }
                // The task outlives its service for a moment: long enough to read it.
                if let Some(task) = &t.task {
                    match task_completed(engine, task).await {
                        Some(at) => t.phases.push(("task complete", at.duration_since(called).unwrap_or_default())),
                        None => eprintln!("cstream-bench: task {task} was gone before its timestamp was read"),
                    }
                }
                if round > 0 {
                    if on_swarm {
                        polls.cells[0].push(f64::from(m.task_polls));
                    }
                    seen[i].push(t);
                }
            }
        }
        Ok::<_, String>(seen)
    })?;
    let at = |t: &Timings, name: &str| match name {
        "" => Some(Duration::ZERO),
        _ => t.phases.iter().find(|(n, _)| *n == name).map(|(_, d)| *d),
    };
    let mut rows = Vec::new();
    for (name, what) in TO {
        let mut row = Row::new(what, Unit::Ms);
        for (i, runs) in seen.iter().enumerate() {
            row.cells[i] = Samples(runs.iter().filter_map(|t| at(t, name)).map(|d| d.as_secs_f64()).collect());
        }
        rows.push(row);
    }
    for (from, to, what) in BETWEEN {
        let mut row = Row::new(what, Unit::Ms);
        for (i, runs) in seen.iter().enumerate() {
            let steps = runs.iter().filter_map(|t| Some(at(t, to)?.as_secs_f64() - at(t, from)?.as_secs_f64()));
            row.cells[i] = Samples(steps.collect());
        }
        rows.push(row);
    }
    rows.push(polls);
    Ok(rows)
}

/// When the swarm marked `task` complete (its `Status.Timestamp`), if the
/// manager still has it.
async fn task_completed(engine: &Engine, task: &str) -> Option<SystemTime> {
    let req = Request {
        method: Method::Get,
        path: format!("/v1.41/tasks/{task}"),
        headers: vec![],
        body: Default::default(),
        kind: RequestKind::Unary,
    };
    let answer = engine.call(req).await.ok().filter(|a| a.status == 200)?;
    let v: serde_json::Value = serde_json::from_slice(&answer.body).ok()?;
    let status = v.get("Status")?;
    (status.get("State")?.as_str()? == "complete").then_some(())?;
    rfc3339(status.get("Timestamp")?.as_str()?)
}

/// `2026-11-30T12:46:50.445744326Z` (UTC, as the Engine API writes times).
fn rfc3339(s: &str) -> Option<SystemTime> {
    let (date, time) = s.strip_suffix('Z')?.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (t.next()??, t.next()??, t.next()??);
    let nanos = match frac {
        "" => 0,
        f if f.len() <= 9 && f.bytes().all(|b| b.is_ascii_digit()) => {
            f.parse::<u32>().ok()? * 10u32.pow(9 - f.len() as u32)
        }
        _ => return None,
    };
    // Days from 1970-01-01 to y-m-day (the proleptic Gregorian calendar).
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()?;
    Some(SystemTime::UNIX_EPOCH + Duration::new(secs, nanos))
}

/// `head -c N /dev/zero` from one job on the swarm and one run on one
/// engine, each client in a process of its own, in turn.
fn streaming(swarm: &Swarm, docker: &str, image: &str, plan: &Plan) -> Res<Vec<Row>> {
    let bytes = plan.stream_bytes;
    let mut rate = Row::new("throughput, first → last output byte", Unit::MibS);
    let mut whole = Row::new("whole run, call → ContainerRemove", Unit::S);
    let mut cpu = Row::new("client CPU (user+sys) per GiB", Unit::S);
    let mut rss = Row::new("client peak RSS", Unit::Mib);
    for round in 0..plan.stream_rounds {
        for on_swarm in order(round) {
            let r = match on_swarm {
                true => retrying("a stream on the swarm", || {
                    let extra = ["--swarm"];
                    run_stream_child_with(Client::Ours, &swarm.manager, image, bytes, "default", 0, "multi", &extra)
                })?,
                false => retrying("a stream on one engine", || {
                    run_stream_child_with(Client::Ours, docker, image, bytes, SWARM_LOG_DRIVER, 0, "multi", &[])
                })?,
            };
            let i = usize::from(!on_swarm);
            rate.cells[i].push(r.bytes / MIB as f64 / (r.last_byte - r.first_byte));
            whole.cells[i].push(r.removed);
            cpu.cells[i].push(r.cpu * crate::GIB as f64 / r.bytes);
            rss.cells[i].push(r.maxrss_mib);
        }
    }
    Ok(vec![rate, whole, cpu, rss])
}

/// Services on the manager and containers on any node that carry `label`,
/// once the nodes had `settle` to remove the containers of removed services:
/// counted, then removed.
async fn leftovers(swarm: &Swarm, label: &str, settle: Duration) -> Res<usize> {
    let deadline = Instant::now() + settle;
    loop {
        let left = labelled(swarm, label).await?;
        if left.is_empty() || Instant::now() >= deadline {
            for (endpoint, what, id) in &left {
                eprintln!("left behind on {endpoint}: {what} {id}");
                let engine = connect(endpoint).await?;
                match *what {
                    "service" => {
                        engine.call(requests::remove_service(API, id)).await.map_err(|e| format!("remove: {e}"))?;
                    }
                    _ => engine.remove_container(id).await.map_err(|e| format!("remove: {e}"))?,
                }
            }
            return Ok(left.len());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Docker 20.10's API, what the swarm's nodes speak.
const API: ApiVersion = ApiVersion::new(1, 41);

/// What carries `label`: (endpoint, "service" or "container", id).
async fn labelled(swarm: &Swarm, label: &str) -> Res<Vec<(String, &'static str, String)>> {
    let mut left = Vec::new();
    let manager = connect(&swarm.manager).await?;
    let answer =
        manager.call(requests::list_services_labelled(API, &[label])).await.map_err(|e| format!("services: {e}"))?;
    if answer.status != 200 {
        return Err(format!("services: {} {}", answer.status, String::from_utf8_lossy(&answer.body)));
    }
    let services = ListedService::parse_list(&answer.body).map_err(|e| format!("services: {e}"))?;
    left.extend(services.into_iter().map(|s| (swarm.manager.clone(), "service", s.id)));
    for node in &swarm.nodes {
        let engine = connect(node).await?;
        let listed = engine.containers_labelled(&[label]).await.map_err(|e| format!("containers on {node}: {e}"))?;
        left.extend(listed.into_iter().map(|c| (node.clone(), "container", c.id)));
    }
    Ok(left)
}

#[cfg(test)]
mod tests {
    use super::*;
    use cstream_engine::core::api::Header;

    /// The swarm `scripts/swarm.sh up` starts.
    fn the_swarm() -> Swarm {
        let manager = MANAGER.strip_prefix("unix://").unwrap();
        assert!(std::path::Path::new(manager).exists(), "no swarm manager at {manager}: scripts/swarm.sh up");
        Swarm { manager: MANAGER.into(), nodes: NODES.split(',').map(String::from).collect() }
    }

    fn post(path: &str, body: serde_json::Value) -> Request {
        let headers = vec![Header { name: "Content-Type".into(), value: "application/json".into(), sensitive: false }];
        Request {
            method: Method::Post,
            path: path.into(),
            headers,
            body: body.to_string().into(),
            kind: RequestKind::Unary,
        }
    }

    /// Through the tap, a job of `true` shows its task polls and one final
    /// read of its logs, sent after its `ProcessStart` and before its
    /// `ProcessEnd`; the task's completion time is read after the run.
    #[test]
    fn the_tap_sees_a_jobs_polls_and_final_read() {
        let swarm = the_swarm();
        let job = Job { image: "cstream-test:latest".into(), argv: vec!["true".into()], log_driver: None };
        let rt = runtime().unwrap();
        rt.block_on(async {
            let (engine, marks) = Tap::engine(&swarm.manager).await.unwrap();
            let t0 = Instant::now();
            let t = clients::ours_on_swarm(&engine, &job, &mut Consumer::new(t0, 0, Duration::ZERO)).await.unwrap();
            let m = marks.take();
            let at = |name| t.phases.iter().find(|(n, _)| *n == name).map(|(_, d)| *d).unwrap();
            let sent = m.final_read.expect("a final read of the logs") - t0;
            assert!(at("started") <= sent && sent <= at("ended"), "final read sent at {sent:?}: {:?}", t.phases);
            assert!(m.task_polls >= 2, "{} task polls", m.task_polls);
            assert_eq!(marks.take().task_polls, 0, "take clears the marks");
            let task = t.task.as_deref().expect("a task id from ProcessStart");
            let done = task_completed(&engine, task).await.expect("the task's completion time");
            let since = SystemTime::now().duration_since(done).unwrap();
            assert!(since < Duration::from_secs(10), "completed {since:?} ago");
        });
    }

    /// A service and a container carrying the label are found, counted and
    /// removed; nothing is found afterwards.
    #[test]
    fn leftovers_on_the_swarm_are_counted_and_removed() {
        let swarm = the_swarm();
        let label = format!("cstream.bench.test={}", std::process::id());
        let (key, value) = label.split_once('=').unwrap();
        let rt = runtime().unwrap();
        rt.block_on(async {
            let manager = connect(&swarm.manager).await.unwrap();
            let service = serde_json::json!({
                "Labels": {key: value},
                "TaskTemplate": {"ContainerSpec": {"Image": "cstream-test:latest", "Args": ["sleep", "60"]},
                                 "RestartPolicy": {"Condition": "none"}},
                "Mode": {"Replicated": {"Replicas": 1}},
            });
            let a = manager.call(post("/v1.41/services/create", service)).await.unwrap();
            assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
            let node = connect(&swarm.nodes[1]).await.unwrap();
            let container =
                serde_json::json!({"Image": "cstream-test:latest", "Cmd": ["true"], "Labels": {key: value}});
            let a = node.call(post("/v1.41/containers/create", container)).await.unwrap();
            assert_eq!(a.status, 201, "{}", String::from_utf8_lossy(&a.body));
            assert_eq!(leftovers(&swarm, &label, Duration::from_secs(1)).await.unwrap(), 2);
            assert_eq!(leftovers(&swarm, &label, Duration::from_secs(20)).await.unwrap(), 0);
        });
    }

    #[test]
    fn engine_api_timestamps_are_read_to_the_nanosecond() {
        let at = |s| rfc3339(s).map(|t| t.duration_since(SystemTime::UNIX_EPOCH).unwrap());
        assert_eq!(at("1970-01-01T00:00:00Z"), Some(Duration::ZERO));
        assert_eq!(at("2000-03-01T00:00:01.5Z"), Some(Duration::new(951_868_801, 500_000_000)));
        assert_eq!(at("2026-11-30T12:46:50.445744326Z"), Some(Duration::new(1_796_042_810, 445_744_326)));
        assert_eq!(at("2024-02-29T23:59:59.000000001Z"), Some(Duration::new(1_709_251_199, 1)));
        for bad in ["2026-11-30 12:46:50Z", "2026-11-30T12:46:50", "2026-11-30T12:46:50.1234567890Z", "x"] {
            assert_eq!(rfc3339(bad), None, "{bad}");
        }
    }
}
