//! Who runs a container: the owner label, and whether that owner is alive.
//!
//! Every container cstream creates carries `io.cstream.owner`: the host's
//! name and boot id, the pid of the process that runs it, and that process's
//! start time (so a reused pid is not mistaken for the owner). `gc` removes a
//! running container only when its owner is provably gone: same host and
//! boot, and no process with that pid and start time.

use std::fmt;

/// The process that runs a container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Owner {
    /// The host's name (`/proc/sys/kernel/hostname`).
    pub host: String,
    /// The host's boot id (`/proc/sys/kernel/random/boot_id`).
    pub boot: String,
    /// The process id on that host and boot.
    pub pid: u32,
    /// The process's start time, in clock ticks since boot.
    pub start: u64,
}

/// Whether an owner still runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Its process runs, on this host.
    Alive,
    /// Same host and boot, and no process with that pid and start time.
    Gone,
    /// Another host or boot, or not to be told from here.
    Unknown,
}

impl Owner {
    /// This process, or `None` where `/proc` cannot say (not Linux).
    ///
    /// Read from `/proc` once per process (again in a forked child, whose
    /// pid differs): every run labels its container with it.
    pub fn this_process() -> Option<Owner> {
        static ME: std::sync::Mutex<Option<Owner>> = std::sync::Mutex::new(None);
        let pid = std::process::id();
        let mut me = ME.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(owner) = me.as_ref().filter(|o| o.pid == pid) {
            return Some(owner.clone());
        }
        let owner = Owner { host: host()?, boot: boot_id()?, pid, start: start_time(pid)? };
        *me = Some(owner.clone());
        Some(owner)
    }

    /// Reads an owner label; `None` when it is not one.
    pub fn parse(label: &str) -> Option<Owner> {
        let mut fields = label.split(';').filter_map(|f| f.split_once('='));
        let mut get = |key: &str| fields.find(|(k, _)| *k == key).map(|(_, v)| v.to_string());
        let (host, boot, pid, start) = (get("host")?, get("boot")?, get("pid")?, get("start")?);
        Some(Owner { host, boot, pid: pid.parse().ok()?, start: start.parse().ok()? })
    }

    /// Whether the owner still runs, as far as this host can tell.
    pub fn liveness(&self) -> Liveness {
        if Some(&self.host) != host().as_ref() || Some(&self.boot) != boot_id().as_ref() {
            return Liveness::Unknown;
        }
        match start_time(self.pid) {
            Some(t) if t == self.start => Liveness::Alive,
            _ if std::path::Path::new("/proc/self/stat").exists() => Liveness::Gone,
            _ => Liveness::Unknown,
        }
    }
}

impl fmt::Display for Owner {
    /// The label's text: `host=..;boot=..;pid=..;start=..`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "host={};boot={};pid={};start={}", self.host, self.boot, self.pid, self.start)
    }
}

fn read_trimmed(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty() && !s.contains([';', '='])).then(|| s.to_string())
}

fn host() -> Option<String> {
    read_trimmed("/proc/sys/kernel/hostname")
}

fn boot_id() -> Option<String> {
    read_trimmed("/proc/sys/kernel/random/boot_id")
}

/// Field 22 of `/proc/PID/stat`, counted after the command name, which may
/// hold spaces and parentheses. A zombie has no start time worth the name:
/// it is gone.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_its_label_reads_back() {
        let me = Owner::this_process().expect("Linux with /proc");
        assert_eq!(Owner::parse(&me.to_string()), Some(me.clone()));
        assert_eq!(me.liveness(), Liveness::Alive);
        // The same pid with another start time: a reused pid, so the owner is gone.
        assert_eq!(Owner { start: me.start + 1, ..me.clone() }.liveness(), Liveness::Gone);
        // A pid that does not run.
        assert_eq!(Owner { pid: u32::MAX - 1, ..me.clone() }.liveness(), Liveness::Gone);
        // Another host, or another boot: not to be told from here.
        assert_eq!(Owner { host: "elsewhere".into(), ..me.clone() }.liveness(), Liveness::Unknown);
        assert_eq!(Owner { boot: "another-boot".into(), ..me }.liveness(), Liveness::Unknown);
    }

    #[test]
    fn labels_that_are_not_owners() {
        for bad in ["", "host=a;boot=b;pid=x;start=1", "host=a;pid=1;start=1", "pid=1", "nonsense"] {
            assert_eq!(Owner::parse(bad), None, "{bad:?}");
        }
    }
}
