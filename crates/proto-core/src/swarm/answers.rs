//! The swarm's answers: a created service, its tasks, a node, a list of
//! services. Lenient about fields the job does not need, strict about the
//! ones it does.

use alloc::string::String;
use alloc::vec::Vec;

use serde::Deserialize;

use crate::api::answers::BadAnswer;

fn parse<'a, T: Deserialize<'a>>(what: &str, body: &'a [u8]) -> Result<T, BadAnswer> {
    serde_json::from_slice(body).map_err(|e| BadAnswer(alloc::format!("{what}: {e}")))
}

/// An id the job puts in a path: non-empty, short, of safe characters.
fn usable(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// The id in `POST /services/create`'s answer (`{"ID": .., "Warnings": ..}`).
pub(super) fn created(body: &[u8]) -> Result<String, BadAnswer> {
    #[derive(Deserialize)]
    struct Created {
        #[serde(rename = "ID")]
        id: String,
    }
    let c: Created = parse("service create answer", body)?;
    match usable(&c.id) {
        true => Ok(c.id),
        false => Err(BadAnswer(alloc::format!("service create answer: unusable service id {:?}", c.id))),
    }
}

/// One task of `GET /tasks`, as far as the job reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Task {
    pub id: String,
    /// Empty until the task is assigned a node.
    pub node: String,
    /// `Status.State`: `new` .. `running`, then `complete`, `failed`,
    /// `rejected`, `shutdown`, `orphaned` or `remove`.
    pub state: String,
    /// `Status.Err`, else `Status.Message`.
    pub message: String,
    /// `Status.Err` alone.
    pub err: String,
    /// `Status.ContainerStatus.ContainerID`: empty until a container exists.
    pub container: String,
    /// `Status.ContainerStatus.ExitCode`.
    pub exit_code: Option<i64>,
}

impl Task {
    /// The task is over: its state is terminal.
    pub(super) fn ended(&self) -> bool {
        matches!(self.state.as_str(), "complete" | "failed" | "rejected" | "shutdown" | "orphaned" | "remove")
    }

    /// Its process has started, or has run: it has a container, or runs, or
    /// has ended other than rejected (a rejected task never ran).
    pub(super) fn started(&self) -> bool {
        !self.container.is_empty() || self.state == "running"
    }
}

/// Parses `GET /tasks`: a JSON array of tasks.
pub(super) fn tasks(body: &[u8]) -> Result<Vec<Task>, BadAnswer> {
    #[derive(Deserialize, Default)]
    struct ContainerStatus {
        #[serde(rename = "ContainerID", default)]
        container: Option<String>,
        #[serde(rename = "ExitCode", default)]
        exit_code: Option<i64>,
    }
    #[derive(Deserialize, Default)]
    struct Status {
        #[serde(rename = "State", default)]
        state: Option<String>,
        #[serde(rename = "Message", default)]
        message: Option<String>,
        #[serde(rename = "Err", default)]
        err: Option<String>,
        #[serde(rename = "ContainerStatus", default)]
        container: Option<ContainerStatus>,
    }
    #[derive(Deserialize)]
    struct Raw {
        #[serde(rename = "ID")]
        id: String,
        #[serde(rename = "NodeID", default)]
        node: Option<String>,
        #[serde(rename = "Status", default)]
        status: Option<Status>,
    }
    let raw: Vec<Raw> = parse("task list answer", body)?;
    let mut tasks = Vec::with_capacity(raw.len());
    for r in raw {
        let status = r.status.unwrap_or_default();
        let container = status.container.unwrap_or_default();
        let err = status.err.unwrap_or_default();
        let task = Task {
            node: r.node.unwrap_or_default(),
            state: status.state.unwrap_or_default(),
            message: match err.is_empty() {
                true => status.message.unwrap_or_default(),
                false => err.clone(),
            },
            err,
            container: container.container.unwrap_or_default(),
            exit_code: container.exit_code,
            id: r.id,
        };
        if !usable(&task.id) || !(task.node.is_empty() || usable(&task.node)) {
            return Err(BadAnswer(alloc::format!("task list answer: unusable task or node id in {:?}", task.id)));
        }
        tasks.push(task);
    }
    Ok(tasks)
}

/// What `GET /nodes/{id}` says of a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Node {
    /// `Description.Hostname`; empty when not given.
    pub hostname: String,
    /// `Status.State`: `ready`, `down`, `unknown` or `disconnected`.
    pub state: String,
}

impl Node {
    /// The node cannot be counted on to report its task's end.
    pub(super) fn lost(&self) -> bool {
        matches!(self.state.as_str(), "down" | "unknown" | "disconnected")
    }
}

/// Parses `GET /nodes/{id}`; it must hold `Status.State`.
pub(super) fn node(body: &[u8]) -> Result<Node, BadAnswer> {
    #[derive(Deserialize, Default)]
    struct Description {
        #[serde(rename = "Hostname", default)]
        hostname: Option<String>,
    }
    #[derive(Deserialize)]
    struct Status {
        #[serde(rename = "State")]
        state: String,
    }
    #[derive(Deserialize)]
    struct Raw {
        #[serde(rename = "Description", default)]
        description: Option<Description>,
        #[serde(rename = "Status")]
        status: Status,
    }
    let raw: Raw = parse("node answer", body)?;
    let hostname = raw.description.unwrap_or_default().hostname.unwrap_or_default();
    Ok(Node { hostname, state: raw.status.state })
}

/// The ids in `GET /services`.
pub(super) fn services(body: &[u8]) -> Result<Vec<String>, BadAnswer> {
    #[derive(Deserialize)]
    struct Listed {
        #[serde(rename = "ID")]
        id: String,
    }
    let listed: Vec<Listed> = parse("service list answer", body)?;
    match listed.iter().find(|l| !usable(&l.id)) {
        Some(bad) => Err(BadAnswer(alloc::format!("service list answer: unusable service id {:?}", bad.id))),
        None => Ok(listed.into_iter().map(|l| l.id).collect()),
    }
}

/// The exit code a failed task's `Err` names (`task: non-zero exit (3)`),
/// for a task status without `ContainerStatus.ExitCode`.
pub(super) fn exit_in_err(err: &str) -> Option<i64> {
    let rest = err.split("non-zero exit (").nth(1)?;
    rest.split(')').next()?.parse().ok()
}
