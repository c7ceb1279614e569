//! The blocking connection, for cleanup when no async runtime is left.

use std::io::{self, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// ssh's pipes, and a watchdog that kills and reaps ssh at the deadline or
/// when the connection drops, whichever comes first.
pub(super) struct Ssh {
    stdin: ChildStdin,
    stdout: ChildStdout,
    done: Option<mpsc::Sender<()>>,
    watchdog: Option<JoinHandle<()>>,
}

impl Ssh {
    pub(super) fn new(mut child: Child, stdin: ChildStdin, stdout: ChildStdout, deadline: Duration) -> Ssh {
        let (done, dropped) = mpsc::channel::<()>();
        let watchdog = std::thread::Builder::new()
            .name("cstream-ssh".into())
            .spawn(move || {
                let _ = dropped.recv_timeout(deadline);
                let _ = child.kill();
                let _ = child.wait();
            })
            .ok();
        Ssh { stdin, stdout, done: Some(done), watchdog }
    }
}

impl Read for Ssh {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stdout.read(buf)
    }
}

impl Write for Ssh {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stdin.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stdin.flush()
    }
}

impl Drop for Ssh {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(watchdog) = self.watchdog.take() {
            let _ = watchdog.join();
        }
    }
}
