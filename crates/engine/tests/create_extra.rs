//! `RunSpecBuilder::create_extra` reaches the engine on each engine: a
//! sysctl the builder has no setter for is what the process reads, and the
//! container's inspect holds the extra fields beside the builder's own.

#[macro_use]
mod common;

use common::*;
use cstream_engine::EventKind;
use cstream_engine::core::api::{ApiVersion, requests};
use serde_json::{Value, json};

async fn create_extra_reaches_the_container(target: Target) {
    let engine = target.engine().await;
    let label = unique_label("extra");
    let sysctl = "net.ipv4.ip_unprivileged_port_start";
    let spec = spec(&target)
        .label("cstream.test", &label)
        .keep(true)
        .memory(64 << 20)
        .command(["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"])
        .create_extra(json!({ "StopTimeout": 7, "HostConfig": { "Sysctls": { sysctl: "80" } } }))
        .build()
        .unwrap();
    let o = collect(&engine, spec).await;
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    assert_eq!((String::from_utf8_lossy(&o.stdout).as_ref(), o.end().exit_code), ("80\n", Some(0)));
    let id = o
        .events
        .iter()
        .find_map(|e| match &e.kind {
            EventKind::ContainerCreate { id, .. } => Some(id.clone()),
            _ => None,
        })
        .unwrap();
    // Kept: read back what the engine holds, then remove it.
    let inspected = engine.call(requests::inspect(ApiVersion::new(1, 41), &id)).await.unwrap();
    engine.remove_container(&id).await.unwrap();
    assert_no_containers(&engine, &label).await;
    assert_eq!(inspected.status, 200);
    let v: Value = serde_json::from_slice(&inspected.body).unwrap();
    assert_eq!(v["Config"]["StopTimeout"], 7, "{target:?}");
    assert_eq!(v["HostConfig"]["Memory"], 64 << 20, "{target:?}: merged into HostConfig, not replacing it");
    // Podman 4.3 applies the sysctl (the process read it above) but its inspect shows none.
    let shown = if target.is_podman() { Value::Null } else { json!({ sysctl: "80" }) };
    assert_eq!(v["HostConfig"]["Sysctls"], shown, "{target:?}");
}

on_each_engine!(create_extra_reaches_the_container);
