//! The command line, as clap reads it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

const EXAMPLES: &str = "\
Examples:
  cstream run alpine:3.20 echo hello
  cstream run -e CI=true -v \"$PWD:/src:ro\" -w /src golang:1.23 go test ./...
  cstream run --memory 512m --cpus 0.5 --network none --timeout 10m IMAGE make
  cstream run --json alpine:3.20 sh -c 'echo out; echo err >&2; exit 3'
  cstream run --record build.rec IMAGE make && cstream replay build.rec
  cstream export --asciicast build.cast build.rec
  cstream run --engine unix:///run/podman/podman.sock alpine:3.20 true
  cstream gc --older-than 1h
  cstream engines";

const RUN_NOTES: &str = "\
Stopping:
  Ctrl-C, SIGTERM or SIGHUP (the terminal or ssh session closed) stops the
  process: the stop signal, then SIGKILL after the grace period; a second one
  kills it at once. The container is removed either way.

Exit status:
  The process's own exit code, when the run reported no error.
  125  cstream or the engine failed, before the process ran or during the run:
       any error reported (output lost, the outcome in doubt, the container
       not removed) makes it 125 even when the process exited 0; --json still
       gives the process's own code in process_end.
  126  the command cannot be invoked.
  127  the command is not found.";

/// Run a command in a Docker or Podman container and watch it happen.
#[derive(Debug, Parser)]
#[command(name = "cstream", version, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a command in a container (or, with --local, on this host) and stream it.
    #[command(after_help = RUN_NOTES)]
    Run(Box<RunArgs>),
    /// Run a command in a running container (such as one started with
    /// `run --keep --name NAME IMAGE sleep infinity`) and stream it, as `run` does.
    Exec(Box<ExecArgs>),
    /// Go on with a run whose cstream died: the output not seen yet, the exit code, the
    /// container removed.
    Resume(ResumeArgs),
    /// Print a recording made with `run --record` again.
    Replay(ReplayArgs),
    /// Convert a recording to another format.
    Export(ExportArgs),
    /// Remove containers (and, on a swarm manager, swarm jobs' services) that cstream created and left behind.
    Gc(GcArgs),
    /// List where the engine is looked for, in order: where each place came from, the engine there.
    Engines(EngineArgs),
}

/// What the process gets and how it is stopped: `run`'s and `exec`'s alike.
#[derive(Debug, Args)]
pub struct ProcessArgs {
    /// Set an environment variable (NAME=value, or NAME to pass this one's value on).
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// Read environment variables from a file (NAME=value lines; # comments).
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container.
    #[arg(short, long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// User to run as: name, uid, or uid:gid.
    #[arg(short, long)]
    pub user: Option<String>,
    /// Give the process a pseudo-terminal.
    #[arg(short, long)]
    pub tty: bool,
    /// Pass this program's stdin to the process.
    #[arg(short, long)]
    pub interactive: bool,
    /// Stop the process after this long, from the start of the run (a pull included), such as
    /// 30s, 10m, 1h.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Seconds between the stop signal and SIGKILL on cancel or timeout.
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u64>,
    /// The signal sent first on cancel or timeout.
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Report a heartbeat event this often while the process runs, such as 5s (0: none, the default).
    #[arg(long, value_name = "DURATION")]
    pub heartbeat: Option<String>,
}

/// `cstream exec`: `run`'s options that mean something for a step.
#[derive(Debug, Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub process: ProcessArgs,
    /// Also print the step's lifecycle on stderr.
    #[arg(long, conflicts_with = "json")]
    pub verbose: bool,
    /// Print every event as one JSON object per line on stdout (schema in the README).
    #[arg(long)]
    pub json: bool,
    /// Record the events to FILE, for `replay` and `export`.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// The container's name or id.
    #[arg(value_name = "CONTAINER")]
    pub container: String,
    /// The command and its arguments. Options go before the container: what follows the
    /// command belongs to it.
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

/// `cstream resume`.
#[derive(Debug, Args)]
pub struct ResumeArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// The run's recording (`run --record FILE`): the run id is read from it, the output it
    /// holds is not shown again, and the rest of the run is appended to it.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Also print the lifecycle on stderr.
    #[arg(long, conflicts_with = "json")]
    pub verbose: bool,
    /// Print every event as one JSON object per line on stdout.
    #[arg(long)]
    pub json: bool,
    /// The run's id, as `run --verbose` and `run --json` say it when the container is created.
    #[arg(required_unless_present = "record", value_name = "RUN_ID")]
    pub run_id: Option<String>,
}

/// Which engine to use.
#[derive(Debug, Clone, Args)]
pub struct EngineArgs {
    /// The engine's address: unix:///path/to/socket, tcp://host:port or ssh://[user@]host[:port].
    /// Default, as with docker: DOCKER_HOST (or CONTAINER_HOST), DOCKER_CONTEXT, the docker
    /// config's current context, each alone when set; else /var/run/docker.sock, rootless
    /// Docker's, /run/podman/podman.sock, rootless Podman's.
    #[arg(long, short = 'H', visible_alias = "host", value_name = "URL", conflicts_with = "context")]
    pub engine: Option<String>,
    /// Use this docker context (from `docker context create`), before DOCKER_HOST.
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Look only for this kind of engine (its variables and sockets).
    #[arg(long, value_enum, value_name = "KIND")]
    pub engine_kind: Option<KindArg>,
    /// Allow a non-loopback tcp:// engine, from wherever its address came (its API is
    /// unauthenticated root access to that host). ssh:// needs no such consent.
    #[arg(long)]
    pub allow_remote: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum KindArg {
    Docker,
    Podman,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PullArg {
    Always,
    Missing,
    Never,
}

/// `-h` is `--hostname` here, as with `docker run`; help is `--help` only.
#[derive(Debug, Args)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    #[command(flatten)]
    pub process: ProcessArgs,
    /// Bind-mount a host path (absolute, or starting with . or ~) or mount a named volume (any
    /// other NAME): SRC:DST[:OPTIONS], OPTIONS ro, rw, z, Z, nocopy, comma-separated; DST alone
    /// is an anonymous volume.
    #[arg(short, long = "volume", value_name = "SRC:DST[:OPTS]")]
    pub volume: Vec<String>,
    /// Mount as docker's --mount: type=bind|volume|tmpfs,source=..,target=..[,readonly]
    /// [,volume-nocopy][,tmpfs-size=..][,tmpfs-mode=..].
    #[arg(long, value_name = "SPEC")]
    pub mount: Vec<String>,
    /// Override the image's entrypoint (an empty string clears it).
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Memory limit, such as 512m or 2g (at least 6m). Swap stays off.
    #[arg(short, long, value_name = "SIZE")]
    pub memory: Option<String>,
    /// Size of /dev/shm, such as 256m (the engines' default is 64m).
    #[arg(long, value_name = "SIZE")]
    pub shm_size: Option<String>,
    /// A resource limit: NAME=SOFT[:HARD], such as nofile=1024:4096 (-1 is unlimited).
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    pub ulimit: Vec<String>,
    /// CPU limit, such as 0.5 or 2.
    #[arg(long, value_name = "CPUS")]
    pub cpus: Option<String>,
    /// Most processes the container may have.
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub pids_limit: Option<i64>,
    /// Mount the root filesystem read-only.
    #[arg(long)]
    pub read_only: bool,
    /// Mount a tmpfs: DST[:OPTIONS], such as /tmp:size=64m.
    #[arg(long, value_name = "DST[:OPTIONS]")]
    pub tmpfs: Vec<String>,
    /// Network mode: none, bridge, host, or a network's name.
    #[arg(long, value_name = "MODE")]
    pub network: Option<String>,
    /// Publish a container port on the engine's host: [IP:][HOSTPORT:]CONTAINERPORT[/PROTO].
    #[arg(short, long, value_name = "[IP:][HOSTPORT:]PORT[/PROTO]")]
    pub publish: Vec<String>,
    /// Add a line to the container's /etc/hosts: HOST:IP (or HOST=IP; IP may be host-gateway).
    #[arg(long, value_name = "HOST:IP")]
    pub add_host: Vec<String>,
    /// The container's host name.
    #[arg(short = 'h', long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Give the container a host device: HOST[:CONTAINER[:PERMISSIONS]], permissions of rwm.
    #[arg(long, value_name = "HOST[:CONTAINER[:PERMS]]")]
    pub device: Vec<String>,
    /// Drop a capability (or ALL).
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Add a capability.
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Security options; `no-new-privileges` is understood.
    #[arg(long, value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Run privileged (never the default).
    #[arg(long)]
    pub privileged: bool,
    /// Run an init process as PID 1 that forwards signals and reaps zombies (docker-init, catatonit).
    #[arg(long)]
    pub init: bool,
    /// The image's platform, such as linux/amd64 (not on Podman, whose API ignores it).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// The engine's OCI runtime for the container, such as runc (not on Podman, whose API ignores it).
    #[arg(long, value_name = "NAME")]
    pub runtime: Option<String>,
    /// The engine's log driver for the container, such as none.
    #[arg(long, value_name = "DRIVER")]
    pub log_driver: Option<String>,
    /// When to pull the image.
    #[arg(long, value_enum, default_value = "missing")]
    pub pull: PullArg,
    /// The container's name.
    #[arg(long)]
    pub name: Option<String>,
    /// Add a label: KEY=VALUE.
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Keep the container after the run.
    #[arg(long)]
    pub keep: bool,
    /// Remove the container after the run: what cstream always does unless --keep.
    #[arg(long, conflicts_with = "keep")]
    pub rm: bool,
    /// Refused: cstream streams the run; for a detached container use `docker run -d`.
    #[arg(short, long)]
    pub detach: bool,
    /// Run the command on this host instead of in a container.
    #[arg(long)]
    pub local: bool,
    /// Run it as a one-off job on the Docker Swarm the engine manages, wherever the cluster
    /// places it (a replicated-job service, removed afterwards).
    #[arg(long, conflicts_with = "local")]
    pub swarm: bool,
    /// With --swarm: where it may run, as docker service create's --constraint
    /// (node.role==worker, node.hostname!=n1, node.labels.KEY==VALUE).
    #[arg(long, value_name = "EXPR", requires = "swarm")]
    pub constraint: Vec<String>,
    /// Also print the run's lifecycle on stderr.
    #[arg(long, conflicts_with = "json")]
    pub verbose: bool,
    /// Print every event as one JSON object per line on stdout (schema in the README).
    #[arg(long)]
    pub json: bool,
    /// Record the events to FILE (postcard, COBS-framed), for `replay` and `export`.
    #[arg(long, value_name = "FILE")]
    pub record: Option<PathBuf>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// IMAGE [COMMAND [ARG...]]; with --local, COMMAND [ARG...]. Options go before the image:
    /// what follows it belongs to the command.
    #[arg(required = true, trailing_var_arg = true, value_name = "IMAGE [COMMAND [ARG...]]")]
    pub args: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The recording.
    pub file: PathBuf,
    /// Print events as JSON lines instead of the output.
    #[arg(long)]
    pub json: bool,
    /// Also print the lifecycle on stderr.
    #[arg(long, conflicts_with = "json")]
    pub verbose: bool,
    /// Keep the original timing between events.
    #[arg(long)]
    pub realtime: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write an asciicast v3 file (for asciinema).
    #[arg(long, value_name = "FILE.cast", required = true)]
    pub asciicast: PathBuf,
    /// The recording.
    pub recording: PathBuf,
}

#[derive(Debug, Args)]
pub struct GcArgs {
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Remove only containers at least this old (such as 30m, 1h; 0s for all).
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    pub older_than: String,
    /// Also remove running containers whose owner is alive or on another host.
    #[arg(long)]
    pub force: bool,
}
