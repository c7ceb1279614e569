//! What the operating system says about a process and the machine.

use nix::sys::resource::{UsageWho, getrusage};

/// CPU time and peak memory of a process (or of the children it waited for).
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// User CPU seconds.
    pub user: f64,
    /// System CPU seconds.
    pub sys: f64,
    /// Peak resident set size, KiB (Linux's `ru_maxrss` unit).
    pub maxrss_kib: i64,
}

impl Usage {
    /// This process, all its threads, so far.
    pub fn this_process() -> Usage {
        usage(UsageWho::RUSAGE_SELF)
    }

    /// CPU seconds, user and system together.
    pub fn cpu(&self) -> f64 {
        self.user + self.sys
    }

    /// The children this process has waited for. Run one child, wait for it,
    /// and this is that child alone: its CPU time, its peak RSS.
    pub fn waited_children() -> Usage {
        usage(UsageWho::RUSAGE_CHILDREN)
    }
}

fn usage(who: UsageWho) -> Usage {
    match getrusage(who) {
        Ok(u) => {
            let secs = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            Usage { user: secs(u.user_time()), sys: secs(u.system_time()), maxrss_kib: u.max_rss() }
        }
        Err(_) => Usage::default(),
    }
}

/// This program, to run again as a child. `/proc/self/exe` where there is
/// one: it is still this program when its file has been rebuilt (replaced)
/// while it runs, which a path would not be.
pub fn this_program() -> Result<std::path::PathBuf, String> {
    let proc_exe = std::path::PathBuf::from("/proc/self/exe");
    match proc_exe.exists() {
        true => Ok(proc_exe),
        false => std::env::current_exe().map_err(|e| format!("current_exe: {e}")),
    }
}

/// The first `key: value` line of a `/proc` file whose key is `key`.
fn proc_field(file: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_string())
    })
}

/// One line about the machine: cores, CPU model, memory, kernel.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = proc_field("/proc/cpuinfo", "model name").unwrap_or_else(|| "unknown CPU".into());
    let mem = proc_field("/proc/meminfo", "MemTotal")
        .and_then(|m| m.split_whitespace().next().and_then(|k| k.parse::<f64>().ok()))
        .map_or_else(|| "?".into(), |kib| format!("{:.1} GiB", kib / 1024.0 / 1024.0));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("nproc {cores}, {model}, {mem} RAM, kernel {}", kernel.trim())
}

/// Peak resident set size of process `pid` (`self` for this one), KiB:
/// `VmHWM` in `/proc/PID/status`. Unlike `ru_maxrss`, it is this program's
/// own: a freshly exec'd child's `ru_maxrss` starts at its parent's peak
/// (Linux keeps the old address space's high-water mark across exec, and
/// `posix_spawn` execs from the parent's).
pub fn vm_hwm_kib(pid: &str) -> Option<i64> {
    proc_field(&format!("/proc/{pid}/status"), "VmHWM")?.split_whitespace().next()?.parse().ok()
}

/// The 1, 5 and 15 minute load averages: how busy the machine was.
pub fn loadavg() -> String {
    let l = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}
