//! Starting the process, on pipes or in a pseudo-terminal, and reading its
//! output.

use std::os::fd::{AsFd, OwnedFd};
use std::process::Stdio;

use bytes::{Bytes, BytesMut};
use cstream_driver_hyper::Stream;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use crate::{EnvMode, LocalProcess};

/// Read size for output.
const READ_SIZE: usize = 64 * 1024;

/// Where stdin goes: the child's pipe, or the terminal.
pub(crate) enum Input {
    Pipe(tokio::process::ChildStdin),
    Pty(pty_process::OwnedWritePty),
}

pub(crate) struct Started {
    pub(crate) child: tokio::process::Child,
    pub(crate) input: Option<Input>,
    /// The terminal's master, for resizes (a copy of its descriptor, so a
    /// resize never waits behind a stdin write).
    pub(crate) tty: Option<OwnedFd>,
}

/// Starts `p`, its output read into `out` by a task per stream.
pub(crate) fn spawn(p: &LocalProcess, out: &mpsc::Sender<(Stream, Bytes)>) -> std::io::Result<Started> {
    match p.pty {
        None => {
            let mut cmd = tokio::process::Command::new(&p.command);
            cmd.args(&p.args)
                .stdin(if p.stdin { Stdio::piped() } else { Stdio::null() })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true);
            if p.env_mode == EnvMode::Replace {
                cmd.env_clear();
            }
            cmd.envs(p.env.iter().map(|(k, v)| (k, v)));
            if let Some(d) = &p.dir {
                cmd.current_dir(d);
            }
            let mut child = cmd.spawn()?;
            if let Some(o) = child.stdout.take() {
                tokio::spawn(read(o, Stream::Stdout, out.clone()));
            }
            if let Some(e) = child.stderr.take() {
                tokio::spawn(read(e, Stream::Stderr, out.clone()));
            }
            let input = child.stdin.take().map(Input::Pipe);
            Ok(Started { child, input, tty: None })
        }
        Some(size) => {
            let (pty, pts) = pty_process::open().map_err(std::io::Error::other)?;
            pty.resize(pty_process::Size::new(size.rows, size.cols)).map_err(std::io::Error::other)?;
            let tty = pty.as_fd().try_clone_to_owned()?;
            let mut cmd = pty_process::Command::new(&p.command).args(&p.args);
            if p.env_mode == EnvMode::Replace {
                cmd = cmd.env_clear();
            }
            cmd = cmd.envs(p.env.iter().map(|(k, v)| (k, v)));
            if let Some(d) = &p.dir {
                cmd = cmd.current_dir(d);
            }
            let child = cmd.kill_on_drop(true).spawn(pts).map_err(|e| match e {
                pty_process::Error::Io(io) => io,
                pty_process::Error::Rustix(errno) => std::io::Error::from(errno),
                other => std::io::Error::other(other.to_string()),
            })?;
            let (reader, writer) = pty.into_split();
            tokio::spawn(read(reader, Stream::Tty, out.clone()));
            Ok(Started { child, input: Some(Input::Pty(writer)), tty: Some(tty) })
        }
    }
}

/// Reads one output until end of file (for a terminal, until its last
/// holder closes it: the read then fails with EIO, which is the end too).
async fn read(mut from: impl AsyncRead + Unpin, stream: Stream, out: mpsc::Sender<(Stream, Bytes)>) {
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    loop {
        if buf.capacity() < READ_SIZE / 4 {
            buf.reserve(READ_SIZE);
        }
        match from.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if out.send((stream, buf.split().freeze())).await.is_err() {
                    return;
                }
            }
        }
    }
}
