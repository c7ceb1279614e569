//! Engines reached through ssh, as the docker CLI reaches `ssh://` hosts:
//! each connection is one `ssh [-l user] [-p port] -- host docker system
//! dial-stdio`, whose stdout and stdin are the byte stream to the remote
//! engine. The remote host needs the docker CLI; this one needs `ssh`.
//!
//! ssh runs in a process group of its own, so that Ctrl-C in a terminal
//! reaches the program (which stops its runs through the engine) and not the
//! connections it stops them through; and with `BatchMode=yes`, so it never
//! waits for a password or a host key answer it has no terminal to ask on:
//! keys (or an agent) and known hosts must be set up, as for any
//! non-interactive ssh. When a connection drops, its ssh is killed and
//! reaped. When ssh fails, what it said on stderr is the error.

use std::io;
use std::process::Stdio;
use std::time::Duration;

use cstream_driver_hyper::driver::{BlockingIo, BoxFuture, BoxIo, Connector};

use crate::Error;

/// Connects to an engine through `ssh://[user@]host[:port]`.
#[derive(Clone, Debug)]
pub struct SshConnector {
    user: Option<String>,
    host: String,
    port: Option<u16>,
    endpoint: String,
}

impl SshConnector {
    /// A connector for `ssh://[user@]host[:port]`. A password, a path or a
    /// query in the address is refused, as the docker CLI refuses them.
    pub fn new(url: &str) -> Result<SshConnector, Error> {
        let bad = |why: &str| Error::Endpoint { endpoint: url.to_string(), why: why.to_string() };
        let rest = url.strip_prefix("ssh://").ok_or_else(|| bad("expected ssh://[user@]host[:port]"))?;
        if rest.contains(['/', '?', '#']) {
            return Err(bad("expected ssh://[user@]host[:port], with no path"));
        }
        let (user, hostport) = match rest.rsplit_once('@') {
            Some((user, hostport)) => (Some(user), hostport),
            None => (None, rest),
        };
        if let Some((name, _password)) = user.and_then(|u| u.split_once(':')) {
            // Never repeated, not even in an error.
            let endpoint = format!("ssh://{name}:***@{hostport}");
            let why = "a password in the address is not supported: use a key or an agent".to_string();
            return Err(Error::Endpoint { endpoint, why });
        }
        if user == Some("") {
            return Err(bad("the user name is empty"));
        }
        let (host, port) = split_port(hostport).ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
        let fits =
            |s: &str| !s.is_empty() && !s.starts_with('-') && !s.chars().any(|c| c.is_whitespace() || c.is_control());
        if !fits(host) || user.is_some_and(|u| !fits(u)) {
            return Err(bad("expected ssh://[user@]host[:port]"));
        }
        let shown_host = if host.contains(':') { format!("[{host}]") } else { host.to_string() };
        let endpoint = format!(
            "ssh://{}{shown_host}{}",
            user.map(|u| format!("{u}@")).unwrap_or_default(),
            port.map(|p| format!(":{p}")).unwrap_or_default()
        );
        Ok(SshConnector { user: user.map(str::to_string), host: host.to_string(), port, endpoint })
    }

    /// ssh's arguments: the options, then `-- host docker system dial-stdio`.
    fn args(&self) -> Vec<String> {
        let mut args = vec!["-o".to_string(), "BatchMode=yes".to_string()];
        if let Some(user) = &self.user {
            args.extend(["-l".to_string(), user.clone()]);
        }
        if let Some(port) = self.port {
            args.extend(["-p".to_string(), port.to_string()]);
        }
        args.extend(["--", &self.host, "docker", "system", "dial-stdio"].map(str::to_string));
        args
    }
}

/// `host`, `host:port`, `[v6]` or `[v6]:port` as host and port; `None` for a bad port.
fn split_port(hostport: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = match hostport.strip_prefix('[') {
        Some(v6) => {
            let (host, after) = v6.split_once(']')?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':')?)),
            }
        }
        None => match hostport.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (hostport, None),
        },
    };
    match port {
        None => Some((host, None)),
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).map(|p| (host, Some(p))),
    }
}

impl Connector for SshConnector {
    fn connect(&self) -> BoxFuture<'_, io::Result<BoxIo>> {
        Box::pin(async move {
            let child = tokio::process::Command::new("ssh")
                .args(self.args())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| io::Error::new(e.kind(), format!("cannot run ssh: {e}")))?;
            Ok(Box::new(stream::SshStream::new(child)?) as BoxIo)
        })
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A connection for cleanup without an async runtime: a plain `ssh` child
    /// whose whole connection is bounded by three times `timeout` (connecting,
    /// writing, reading), after which it is killed.
    fn connect_blocking(&self, timeout: Duration) -> io::Result<Box<dyn BlockingIo>> {
        use std::os::unix::process::CommandExt;
        let mut child = std::process::Command::new("ssh")
            .args(self.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::other("ssh started without its pipes"));
        };
        Ok(Box::new(blocking::Ssh::new(child, stdin, stdout, timeout * 3)))
    }
}

mod blocking;
mod stream;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_the_ssh_command() {
        let c = SshConnector::new("ssh://root@127.0.0.1:2222").unwrap();
        assert_eq!(c.endpoint(), "ssh://root@127.0.0.1:2222");
        assert_eq!(c.args().join(" "), "-o BatchMode=yes -l root -p 2222 -- 127.0.0.1 docker system dial-stdio");
        let c = SshConnector::new("ssh://build-box").unwrap();
        assert_eq!(c.args().join(" "), "-o BatchMode=yes -- build-box docker system dial-stdio");
        let c = SshConnector::new("ssh://me@[::1]:22").unwrap();
        assert_eq!(c.endpoint(), "ssh://me@[::1]:22");
        assert_eq!(c.args().join(" "), "-o BatchMode=yes -l me -p 22 -- ::1 docker system dial-stdio");
        assert_eq!(
            SshConnector::new("ssh://[::1]").unwrap().args()[2..],
            ["--", "::1", "docker", "system", "dial-stdio"]
        );
        assert!(!c.is_local(), "host paths are never checked here for an ssh engine");
        for bad in [
            "ssh://",
            "ssh://@host",
            "ssh://me:secret@host",
            "ssh://host:0",
            "ssh://host:65536",
            "ssh://host:22x",
            "ssh://host/path",
            "ssh://host?x=1",
            "ssh://-oProxyCommand=evil",
            "ssh://me@-host",
            "ssh://two words",
            "ssh://[::1",
            "ssh://[::1]x",
            "tcp://host:22",
        ] {
            let e = SshConnector::new(bad).unwrap_err();
            assert!(matches!(e, Error::Endpoint { .. }), "{bad}: {e:?}");
        }
        let e = SshConnector::new("ssh://me:secret@host").unwrap_err();
        assert!(e.to_string().contains("a password in the address is not supported"), "{e}");
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
