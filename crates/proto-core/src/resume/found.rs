//! What the resume reads from the engine's answers about the container, and
//! the one request of its own (the logs).

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use bytes::Bytes;
use serde::Deserialize;

use crate::api::answers::{BadAnswer, Listed};
use crate::api::create::labels;
use crate::api::requests::encode_query;
use crate::api::{ApiVersion, Method, Request, RequestKind};

/// The run's container, as the list found it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Listing {
    pub id: String,
    /// Its `io.cstream.owner` label, if it has one.
    pub owner: Option<String>,
}

/// The containers the list answer holds: the run's, if any.
pub(super) fn listed(body: &[u8]) -> Result<Vec<Listing>, BadAnswer> {
    let all = Listed::parse_list(body)?;
    Ok(all
        .into_iter()
        .map(|c| {
            let owner = c.labels.as_ref().and_then(|l| l.get(labels::OWNER)).cloned();
            Listing { id: c.id, owner }
        })
        .collect())
}

/// What the first inspect says about the container.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Container {
    /// `Config.Tty`: one raw stream rather than multiplexed frames.
    pub tty: bool,
    /// `State.Status`: `created`, `running`, `exited`, ...
    pub status: String,
    /// `HostConfig.LogConfig.Type`: `json-file`, `local`, `none`, ...
    pub log_driver: String,
    /// `io.cstream.keep` is among its labels: it is not removed.
    pub keep: bool,
    /// `Config.StopSignal`, when it names one.
    pub stop_signal: Option<String>,
}

impl Container {
    pub(super) fn parse(body: &[u8]) -> Result<Container, BadAnswer> {
        #[derive(Deserialize, Default)]
        struct Config {
            #[serde(rename = "Tty", default)]
            tty: bool,
            #[serde(rename = "Labels", default)]
            labels: Option<BTreeMap<String, String>>,
            #[serde(rename = "StopSignal", default)]
            stop_signal: Option<String>,
        }
        #[derive(Deserialize, Default)]
        struct State {
            #[serde(rename = "Status", default)]
            status: String,
        }
        #[derive(Deserialize, Default)]
        struct LogConfig {
            #[serde(rename = "Type", default)]
            kind: String,
        }
        #[derive(Deserialize, Default)]
        struct HostConfig {
            #[serde(rename = "LogConfig", default)]
            log: Option<LogConfig>,
        }
        #[derive(Deserialize)]
        struct Inspect {
            #[serde(rename = "Config", default)]
            config: Option<Config>,
            #[serde(rename = "State")]
            state: State,
            #[serde(rename = "HostConfig", default)]
            host: Option<HostConfig>,
        }
        let i: Inspect =
            serde_json::from_slice(body).map_err(|e| BadAnswer(alloc::format!("container inspect answer: {e}")))?;
        let config = i.config.unwrap_or_default();
        let keep = config.labels.as_ref().is_some_and(|l| l.contains_key(labels::KEEP));
        Ok(Container {
            tty: config.tty,
            status: i.state.status,
            log_driver: i.host.and_then(|h| h.log).map(|l| l.kind).unwrap_or_default(),
            keep,
            stop_signal: config.stop_signal.filter(|s| !s.is_empty()),
        })
    }

    /// The process has not been started: there is no exit to read.
    pub(super) fn never_started(&self) -> bool {
        self.status == "created"
    }
}

/// `GET /containers/{id}/logs?follow=1&stdout=1&stderr=1`: all the output
/// the log driver kept, then what comes, until the container stops.
pub(super) fn logs(v: ApiVersion, id: &str) -> Request {
    let path = alloc::format!("/v{v}/containers/{}/logs?follow=1&stdout=1&stderr=1", encode_query(id));
    Request { method: Method::Get, path, headers: Vec::new(), body: Bytes::new(), kind: RequestKind::Streaming }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inspect_answer_says_terminal_state_driver_and_keep() {
        let body = br#"{"Id":"c1","Config":{"Tty":true,"Labels":{"io.cstream.keep":"1"},"StopSignal":"SIGINT"},
            "State":{"Status":"running"},"HostConfig":{"LogConfig":{"Type":"none","Config":{}}}}"#;
        let c = Container::parse(body).map_err(|e| e.0);
        let want = Container {
            tty: true,
            status: "running".into(),
            log_driver: "none".into(),
            keep: true,
            stop_signal: Some("SIGINT".into()),
        };
        assert_eq!(c, Ok(want));
        // Podman leaves fields out; they read as their defaults.
        let bare = Container::parse(br#"{"State":{"Status":"exited"},"Config":{"Labels":null}}"#).map_err(|e| e.0);
        assert_eq!(bare, Ok(Container { status: "exited".into(), ..Container::default() }));
        assert!(Container::parse(b"{}").is_err(), "no State");
        assert!(Container::parse(br#"{"State":{"Status":3}}"#).is_err());
    }

    #[test]
    fn a_listing_names_the_owner() {
        let body = br#"[{"Id":"c1","Labels":{"io.cstream.owner":"host=h;boot=b;pid=1;start=2"}},{"Id":"c2"}]"#;
        let l = listed(body).map_err(|e| e.0);
        let want = [
            Listing { id: "c1".into(), owner: Some("host=h;boot=b;pid=1;start=2".into()) },
            Listing { id: "c2".into(), owner: None },
        ];
        assert_eq!(l.as_deref(), Ok(&want[..]));
        assert!(listed(b"{").is_err());
    }

    #[test]
    fn the_logs_request_follows_both_streams() {
        let r = logs(ApiVersion::new(1, 41), "c/1");
        assert_eq!(r.path, "/v1.41/containers/c%2F1/logs?follow=1&stdout=1&stderr=1");
        assert_eq!((r.method, r.kind), (Method::Get, RequestKind::Streaming));
    }
}
