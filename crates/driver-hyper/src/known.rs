//! What the runs on one [`Engine`](crate::Engine) have learned about it, so
//! that one ping and one `GET /info` serve them all.

use std::sync::OnceLock;

use cstream_proto_core::Lifecycle;
use cstream_proto_core::api::EngineInfo;

/// The engine's answers worth keeping: set once, by whichever call or run
/// learns them first.
#[derive(Debug, Default)]
pub(crate) struct Known {
    /// What the first successful ping said.
    pub(crate) info: OnceLock<EngineInfo>,
    /// The host's CPU count, from the first `info` answer.
    pub(crate) host_cpus: OnceLock<u64>,
}

impl Known {
    /// Everything known, for a machine that then asks for none of it again.
    pub(crate) fn engine(&self) -> Option<EngineInfo> {
        let mut info = self.info.get()?.clone();
        info.host_cpus = info.host_cpus.or(self.host_cpus.get().copied());
        Some(info)
    }

    /// Keeps what `machine` has learned, if nothing has been kept yet.
    pub(crate) fn learn(&self, machine: &dyn Lifecycle) {
        let Some(engine) = machine.engine() else { return };
        if self.info.get().is_none() {
            let _ = self.info.set(EngineInfo { host_cpus: None, ..engine.clone() });
        }
        if let Some(n) = engine.host_cpus {
            let _ = self.host_cpus.set(n);
        }
    }
}
