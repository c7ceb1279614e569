//! One connection through ssh: ssh's stdout to read, its stdin to write.
//! When ssh ends before the engine said a word, every read and write fails
//! with what ssh said on stderr; when the connection drops, ssh is killed
//! and reaped.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::process::{Child, ChildStdin, ChildStdout};
use tokio::task::JoinHandle;

/// The most of ssh's stderr kept for an error: its end, where ssh says why.
const STDERR_KEPT: usize = 4096;
/// How long a failed ssh is given to finish saying why.
const EXPLAIN_WAIT: Duration = Duration::from_secs(5);

/// The end of what ssh writes on stderr, as one line.
async fn tail(mut stderr: tokio::process::ChildStderr) -> String {
    let mut kept = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        let over = kept.len().saturating_sub(STDERR_KEPT);
        kept.drain(..over);
    }
    let text = String::from_utf8_lossy(&kept);
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("; ")
}

/// Why ssh ended: being read from its stderr and exit status, then known, so
/// every later read and write fails the same way (the future is never polled
/// after it completed).
enum Why {
    Finding(Pin<Box<dyn Future<Output = io::Error> + Send>>),
    Known(String),
}

/// One connection: ssh's stdout to read, its stdin to write.
pub(super) struct SshStream {
    /// `None` once shut down (ssh sees the end of its input).
    stdin: Option<ChildStdin>,
    stdout: ChildStdout,
    /// Killed and reaped when the connection drops.
    child: Option<Child>,
    stderr: Option<JoinHandle<String>>,
    /// Once ssh has ended before the engine said anything: why, being
    /// found out, then known.
    why: Option<Why>,
    got_bytes: bool,
}

impl SshStream {
    /// The connection through `child`, an ssh started with its stdin, stdout
    /// and stderr piped.
    pub(super) fn new(mut child: Child) -> io::Result<SshStream> {
        let (Some(stdin), Some(stdout), Some(stderr)) = (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(io::Error::other("ssh started without its pipes"));
        };
        let stderr = tokio::spawn(tail(stderr));
        Ok(SshStream {
            stdin: Some(stdin),
            stdout,
            child: Some(child),
            stderr: Some(stderr),
            why: None,
            got_bytes: false,
        })
    }

    /// ssh ended early: from now on every read and write fails with what it said.
    fn ended(&mut self) {
        if self.why.is_none() {
            self.why = Some(Why::Finding(Box::pin(explain(self.child.take(), self.stderr.take()))));
        }
    }

    fn poll_why(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let known = |m: &str| io::Error::new(io::ErrorKind::ConnectionAborted, m.to_string());
        match self.why.as_mut() {
            Some(Why::Finding(finding)) => {
                let e = std::task::ready!(finding.as_mut().poll(cx));
                self.why = Some(Why::Known(e.to_string()));
                Poll::Ready(e)
            }
            Some(Why::Known(m)) => Poll::Ready(known(m)),
            None => Poll::Ready(io::Error::other("ssh ended")),
        }
    }
}

/// Why ssh ended: its exit status and the end of its stderr.
async fn explain(child: Option<Child>, stderr: Option<JoinHandle<String>>) -> io::Error {
    let said = match stderr {
        Some(task) => tokio::time::timeout(EXPLAIN_WAIT, task).await.ok().and_then(Result::ok).unwrap_or_default(),
        None => String::new(),
    };
    let status = match child {
        Some(mut child) => match tokio::time::timeout(EXPLAIN_WAIT, child.wait()).await {
            Ok(Ok(status)) => status.to_string(),
            _ => "it did not exit".to_string(),
        },
        None => "it ended".to_string(),
    };
    let message = match said.is_empty() {
        true => format!("ssh ended before the engine answered, saying nothing ({status})"),
        false => format!("{said} (ssh {status})"),
    };
    io::Error::new(io::ErrorKind::ConnectionAborted, message)
}

impl AsyncRead for SshStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.why.is_none() {
            let before = buf.filled().len();
            match Pin::new(&mut this.stdout).poll_read(cx, buf) {
                // The end before the engine's first byte: ssh (or the remote
                // docker) failed.
                Poll::Ready(Ok(())) if buf.filled().len() == before && !this.got_bytes => this.ended(),
                Poll::Ready(Ok(())) => {
                    this.got_bytes |= buf.filled().len() > before;
                    return Poll::Ready(Ok(()));
                }
                other => return other,
            }
        }
        this.poll_why(cx).map(Err)
    }
}

impl AsyncWrite for SshStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.why.is_none() {
            let Some(stdin) = this.stdin.as_mut() else {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "written after shutdown")));
            };
            match Pin::new(stdin).poll_write(cx, data) {
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::BrokenPipe => this.ended(),
                other => return other,
            }
        }
        this.poll_why(cx).map(Err)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    /// Closes ssh's stdin: the remote engine sees the end of the input.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(stdin) = self.stdin.as_mut() {
            std::task::ready!(Pin::new(stdin).poll_flush(cx))?;
        }
        self.stdin = None;
        Poll::Ready(Ok(()))
    }
}

impl Drop for SshStream {
    fn drop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let _ = child.start_kill();
        // Reaped on the runtime while there is one; else tokio reaps it on
        // its own, at the next chance it gets.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = child.wait().await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// An ssh that fails at once: every read and write after it says why,
    /// the same way each time (hyper writes again after a failed read).
    #[tokio::test]
    async fn an_ssh_that_failed_says_why_on_every_read_and_write() {
        let child = tokio::process::Command::new("sh")
            .args(["-c", "echo 'ssh: connect to host x port 22: Connection refused' >&2; exit 255"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut s = SshStream::new(child).unwrap();
        let want = "ssh: connect to host x port 22: Connection refused (ssh exit status: 255)";
        let mut buf = [0u8; 16];
        for _ in 0..2 {
            assert_eq!(s.read(&mut buf).await.unwrap_err().to_string(), want);
        }
        for _ in 0..2 {
            assert_eq!(s.write(b"GET /_ping").await.unwrap_err().to_string(), want);
        }
    }
}
