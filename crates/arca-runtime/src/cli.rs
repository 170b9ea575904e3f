//! runc's command line, flag for flag, as clap definitions (and nothing else).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "arca-runtime",
    about = "arca's OCI runtime: create and run containers from OCI bundles",
    disable_version_flag = true
)]
pub struct Cli {
    /// Root directory for the containers' state [default: /run/arca, for other users
    /// $XDG_RUNTIME_DIR/arca or /tmp/arca-<uid>]
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Write the runtime's log to this file (default: stderr)
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Log format
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Debug logging
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd (needs a running systemd)
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Rootless mode: true, false or auto
    #[arg(long, global = true, num_args = 0..=1, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Accepted for compatibility (checkpointing is not supported)
    #[arg(long, global = true, hide = true)]
    pub criu: Option<String>,
    /// Print the version
    #[arg(short = 'v', long)]
    pub version: bool,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Container id
    pub id: String,
    /// Path to the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the container's pid to
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket to send the pty master to (process.terminal)
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// chroot instead of pivot_root (for roots on ramfs)
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Keep the caller's session keyring
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass this many fds beyond stdio (3, 4, ...) to the container
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container (it waits for `start`)
    Create(CreateArgs),
    /// Start a created container
    Start { id: String },
    /// Create and start a container
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Detach from the container's process
        #[arg(short, long)]
        detach: bool,
        /// Accepted for compatibility: the state is kept until `delete`
        #[arg(long)]
        keep: bool,
    },
    /// Print the state of a container (OCI runtime spec JSON)
    State { id: String },
    /// Send a signal to a container's init (default SIGTERM)
    Kill {
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
        /// Signal every process in the container
        #[arg(short, long)]
        all: bool,
    },
    /// Delete a container and everything it holds
    Delete {
        id: String,
        /// Kill it first if it is still running
        #[arg(short, long)]
        force: bool,
    },
    /// List containers
    #[command(alias = "ls")]
    List {
        #[arg(short, long)]
        quiet: bool,
        #[arg(short, long, value_enum, default_value = "table")]
        format: Format,
    },
    /// Run a new process in a running container
    Exec(ExecArgs),
    /// Show the processes of a container
    Ps {
        id: String,
        #[arg(short, long, value_enum, default_value = "table")]
        format: Format,
        /// Arguments for ps(1)
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Write a default config.json (`--rootless` for one an unprivileged user can run)
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
    },
    /// Print what this runtime supports (OCI features JSON)
    Features,
    /// Suspend every process of a container (cgroup freezer)
    Pause { id: String },
    /// Resume every process of a paused container
    Resume { id: String },
    /// Change a container's resource limits
    Update(UpdateArgs),
    /// Stream a container's resource usage and OOM kills as JSON lines
    Events {
        id: String,
        /// Time between stats lines, as a Go duration (5s, 500ms, 1m30s)
        #[arg(long, default_value = "5s")]
        interval: String,
        /// Print the stats once and exit
        #[arg(long)]
        stats: bool,
    },
}

/// runc's `update` flags. Values stay strings until parsed, so an error can name the flag.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    pub id: String,
    /// A LinuxResources JSON file (`-` for stdin); the other flags are then ignored
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes, with an optional suffix (k, m, g, ...); -1 for unlimited
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit (same units as --memory)
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (same units as --memory); -1 for unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Deprecated kernel memory limit: accepted and ignored
    #[arg(long = "kernel-memory", allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Deprecated kernel TCP memory limit: accepted and ignored
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// Block IO weight (10 to 1000)
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<String>,
    /// CPU CFS burst in microseconds
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<String>,
    /// CPU realtime period in microseconds
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<String>,
    /// CPU realtime runtime in microseconds (-1 for unlimited)
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<String>,
    /// CPU shares (relative weight)
    #[arg(long = "cpu-share", visible_alias = "cpu-shares")]
    pub cpu_share: Option<String>,
    /// CPU CFS quota in microseconds per period (-1 for none)
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// CPU CFS period in microseconds
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<String>,
    /// CPUs the container may use (e.g. 0-2,5)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use (e.g. 0-1)
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of processes (-1 or 0 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExecArgs {
    pub id: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
    /// A process.json with the whole process spec
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Detach from the process
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory in the container
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Environment variables (KEY=VALUE)
    #[arg(short, long)]
    pub env: Vec<String>,
    /// uid[:gid]
    #[arg(short, long)]
    pub user: Option<String>,
    /// Additional gids
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// Add a capability
    #[arg(short, long)]
    pub cap: Vec<String>,
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// AppArmor profile for the process (where AppArmor is enabled)
    #[arg(long)]
    pub apparmor: Option<String>,
    /// SELinux label for the process (where SELinux is enabled)
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    #[arg(long = "ignore-paused", hide = true)]
    pub ignore_paused: bool,
}

/// runc (urfave/cli) also accepts long flags with one dash (`-bundle`): rewrite them.
pub fn normalize_args(args: impl Iterator<Item = String>) -> Vec<String> {
    const LONG: &[&str] = &[
        "root",
        "log",
        "log-format",
        "debug",
        "systemd-cgroup",
        "rootless",
        "bundle",
        "pid-file",
        "console-socket",
        "no-pivot",
        "no-new-keyring",
        "preserve-fds",
        "detach",
        "force",
        "all",
        "format",
        "quiet",
        "process",
        "tty",
        "cwd",
        "env",
        "user",
        "cap",
        "no-new-privs",
        "keep",
        "resources",
        "memory",
        "memory-reservation",
        "memory-swap",
        "kernel-memory",
        "kernel-memory-tcp",
        "cpu-share",
        "cpu-shares",
        "cpu-quota",
        "cpu-period",
        "cpuset-cpus",
        "cpuset-mems",
        "pids-limit",
    ];
    let mut out = Vec::new();
    let mut rest = false;
    for a in args {
        if !rest && a.starts_with('-') && !a.starts_with("--") && a.len() > 2 {
            let name = a[1..].split('=').next().unwrap_or("");
            if LONG.contains(&name) {
                out.push(format!("-{a}"));
                continue;
            }
        }
        if a == "--" {
            rest = true;
        }
        out.push(a);
    }
    out
}
