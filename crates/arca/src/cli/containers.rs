//! Docker's flags for the container verbs (`run`, `create`, `start`, `attach`, `ps`, `logs`,
//! `stop`, `kill`, `rm`, `wait`, `inspect`).

use clap::ValueEnum;

use super::Format;

#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Print help (`-h` is --hostname, as in Docker)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    #[command(flatten)]
    pub process: ProcessFlags,
    /// Remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// The container's name (default: a generated adjective_name)
    #[arg(long)]
    pub name: Option<String>,
    /// Read environment variables from a file
    #[arg(long)]
    pub env_file: Vec<String>,
    /// Bind mount a host path or a volume (HOST-PATH|NAME:CONTAINER[:ro]; CONTAINER alone: an anonymous volume)
    #[arg(short, long = "volume")]
    pub volume: Vec<String>,
    /// Attach a filesystem mount (type=bind|volume|tmpfs,source=…,target=…[,readonly])
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount a tmpfs (PATH[:OPTIONS])
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Overwrite the image's ENTRYPOINT ("" clears it)
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Mount the container's root filesystem read-only
    #[arg(long)]
    pub read_only: bool,
    /// Container host name (default: the short id)
    #[arg(long, short = 'h')]
    pub hostname: Option<String>,
    /// Memory limit (e.g. 512m, 1g)
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Number of CPUs (e.g. 1.5)
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Tune the container's pids limit (-1 for unlimited)
    #[arg(long)]
    pub pids_limit: Option<i64>,
    /// Ulimit options (nofile=1024:2048)
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Add a host device (HOST[:CONTAINER[:rwm]])
    #[arg(long)]
    pub device: Vec<String>,
    /// Add Linux capabilities
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Security options (seccomp=unconfined|FILE, no-new-privileges)
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Set metadata (KEY=VALUE)
    #[arg(short, long = "label")]
    pub label: Vec<String>,
    /// Signal to stop the container (default: the image's, else SIGTERM)
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Seconds to wait for the stop signal before SIGKILL (default 10)
    #[arg(long)]
    pub stop_timeout: Option<u64>,
    /// Run an init inside the container that forwards signals and reaps processes (arca's own,
    /// at /run/arca-init)
    #[arg(long)]
    pub init: bool,
    /// Restart policy: no, on-failure[:N], always, unless-stopped (applied by the monitor)
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Disable any container-specified HEALTHCHECK (the image's)
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Command to run to check health (in the container, by /bin/sh -c)
    #[arg(long)]
    pub health_cmd: Option<String>,
    /// Time between running the check (default 30s)
    #[arg(long)]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (default 30s)
    #[arg(long)]
    pub health_timeout: Option<String>,
    /// Consecutive failures needed to report unhealthy (default 3)
    #[arg(long)]
    pub health_retries: Option<u32>,
    /// Start period during which failures do not count (default 0s)
    #[arg(long)]
    pub health_start_period: Option<String>,
    /// Network: bridge (the default network, NAT), none (only lo), host, container:NAME,
    /// pasta[:OPTIONS] (user-mode, no privileges), or a network's name; repeat to join several
    /// CNI networks
    #[arg(long, visible_alias = "net")]
    pub network: Vec<String>,
    /// Publish a port ([IP:][HOST-PORT:]CONTAINER-PORT[/PROTO]; ranges as 8000-8001)
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish every port the image exposes, on free host ports
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// DNS server for the container's resolv.conf
    #[arg(long)]
    pub dns: Vec<String>,
    /// DNS search domain
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// DNS resolver option (ndots:2, …)
    #[arg(long, visible_alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Add a line to /etc/hosts (NAME:IP)
    #[arg(long)]
    pub add_host: Vec<String>,
    /// Platform of the image to pull if missing (os/arch[/variant])
    #[arg(long)]
    pub platform: Option<String>,
    /// Pull the image: missing (default), always or never
    #[arg(long, value_enum, default_value = "missing")]
    pub pull: PullPolicy,
    /// The image (name or id)
    pub image: String,
    /// The command and its arguments (default: the image's)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PullPolicy {
    Missing,
    Always,
    Never,
}

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Show all containers (default: only running ones)
    #[arg(short, long)]
    pub all: bool,
    /// Only ids
    #[arg(short, long)]
    pub quiet: bool,
    /// Show full ids and commands
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Filter (name=…, id=…, status=created|running|exited, label=KEY[=VALUE], ancestor=IMAGE)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// table, json, or a Go template subset ({{.ID}}, {{.Names}}, {{.Image}}, {{.Status}}, …)
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Follow the log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end ("all" for every line)
    #[arg(short = 'n', long, default_value = "all")]
    pub tail: String,
    /// Show logs since a timestamp (RFC 3339 or Unix) or a duration ago (10m)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp or a duration ago
    #[arg(long)]
    pub until: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    pub container: String,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// table is not a thing here: json (default)
    #[arg(long, value_enum, default_value = "json")]
    pub format: Format,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

// What `attach` and `start -a` share (a plain comment: see `RegistryFlags`).
#[derive(Debug, Clone, clap::Args)]
pub struct AttachFlags {
    /// Pass the signals arca receives on to the container (not with -t)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true")]
    pub sig_proxy: bool,
    /// The key sequence that detaches, leaving the container running (with -t; "" for none)
    #[arg(long, default_value = arca_engine::attach::keys::DEFAULT)]
    pub detach_keys: String,
}

#[derive(Debug, clap::Args)]
pub struct AttachArgs {
    /// Do not pass arca's stdin on to the container
    #[arg(long)]
    pub no_stdin: bool,
    #[command(flatten)]
    pub flags: AttachFlags,
    pub container: String,
}

#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Attach to the container's output (and its exit code), as `attach` does
    #[arg(short, long)]
    pub attach: bool,
    /// Attach the container's stdin too (with -a)
    #[arg(short, long)]
    pub interactive: bool,
    #[command(flatten)]
    pub flags: AttachFlags,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ExecArgs {
    #[command(flatten)]
    pub process: ProcessFlags,
    pub container: String,
    /// The command and its arguments
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

// The flags `run` and `exec` share: how the process runs (a plain comment: see
// `RegistryFlags`).
#[derive(Debug, Clone, clap::Args)]
pub struct ProcessFlags {
    /// Run in the background (`run`: under the container's monitor; prints the id)
    #[arg(short, long)]
    pub detach: bool,
    /// Keep stdin open (a foreground process shares arca's stdin; a detached one gets a pipe
    /// its monitor keeps open for `attach`)
    #[arg(short, long)]
    pub interactive: bool,
    /// Give the process a pseudo-terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables (KEY=VALUE, or KEY to take it from arca's environment)
    #[arg(short, long = "env")]
    pub env: Vec<String>,
    /// User (name|uid[:group|gid])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
}
