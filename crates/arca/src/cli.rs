//! Docker's command line for the verbs arca has so far.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

mod containers;
mod cp;
mod networks;
mod volumes;
pub use containers::{
    AttachArgs, AttachFlags, ExecArgs, InspectArgs, LogsArgs, PsArgs, PullPolicy, RunArgs,
    StartArgs,
};
pub use cp::CpArgs;
pub use networks::NetworkCommand;
pub use volumes::VolumeCommand;

#[derive(Debug, Parser)]
#[command(
    name = "arca",
    version,
    about = "Daemonless containers, Docker's verbs"
)]
pub struct Cli {
    /// Where images and containers are kept (default /var/lib/arca; for an ordinary user
    /// $XDG_DATA_HOME/arca, else ~/.local/share/arca)
    #[arg(long, global = true, default_value_os_t = arca_engine::rootless::default_root())]
    pub root: PathBuf,
    /// Log what arca does on stderr
    #[arg(long, global = true)]
    pub debug: bool,
    /// How image layers are stacked: overlay (default where overlayfs works) or copy (`vfs`);
    /// fixed when the store is first used
    #[arg(long, global = true, value_parser = ["overlay", "overlay2", "copy", "vfs"])]
    pub storage_driver: Option<String>,
    /// Where CNI plugins are (colon-separated; default /usr/lib/cni:/opt/cni/bin)
    #[arg(long, global = true)]
    pub cni_plugin_dir: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum Command {
    /// Copy an image into the local store (a registry reference, oci:DIR[:REF],
    /// oci-archive:FILE[:REF], dir:DIR)
    Pull(PullArgs),
    /// Send an image to a registry (to DESTINATION, default its own name), or to dir:DIR,
    /// oci:DIR[:REF], oci-archive:FILE[:REF] or docker-archive:FILE[:REF]
    Push(PushArgs),
    /// List images
    Images(ImagesArgs),
    /// Remove images (by name or id); blobs no image needs any more are deleted
    Rmi { images: Vec<String> },
    /// Give an image another name
    Tag { source: String, target: String },
    /// Write images to a tar archive (docker-archive or oci-archive)
    Save(SaveArgs),
    /// Import the images of a tar archive (docker-archive or oci-archive)
    Load(LoadArgs),
    /// Create a one-layer image from a root filesystem tarball (plain, gzip or zstd)
    Import(ImportArgs),
    /// Check credentials against a registry and store them (Podman's auth.json)
    Login(LoginArgs),
    /// Remove a registry's stored credentials
    Logout(LogoutArgs),
    /// Image subcommands
    #[command(subcommand)]
    Image(ImageCommand),
    /// Store-wide commands
    #[command(subcommand)]
    System(SystemCommand),
    /// Create and start a container from an image
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Create a container (start it with `arca start`)
    #[command(disable_help_flag = true)]
    Create(RunArgs),
    /// Start created or stopped containers (in the background, under their monitors)
    Start(StartArgs),
    /// Connect this terminal's stdin, stdout and stderr to a running container's
    Attach(AttachArgs),
    /// List containers
    Ps(PsArgs),
    /// Show a container's output
    Logs(LogsArgs),
    /// Run a command in a running container
    Exec(ExecArgs),
    /// Write a container's filesystem as a tar archive (what `import` reads)
    Export {
        /// Write to this file instead of stdout
        #[arg(short, long)]
        output: Option<PathBuf>,
        container: String,
    },
    /// Freeze all processes of containers
    Pause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Thaw paused containers
    Unpause {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Rename a container
    Rename { container: String, name: String },
    /// Show a container's processes
    Top { container: String },
    /// Live CPU, memory and pids figures from the containers' cgroups
    Stats {
        /// One sample, then exit
        #[arg(long)]
        no_stream: bool,
        containers: Vec<String>,
    },
    /// Container subcommands
    #[command(subcommand)]
    Container(ContainerCommand),
    /// arca's version
    Version,
    /// Print a shell completion script (bash, zsh, fish)
    Completion { shell: Shell },
    /// Write man pages (arca.1, arca-<verb>.1) into a directory
    Man { dir: PathBuf },
    /// What this arca store holds and runs on
    Info,
    /// Stop running containers: the stop signal, then SIGKILL after the timeout
    Stop {
        /// Seconds to wait before killing (default: the container's --stop-timeout, 10)
        #[arg(short = 't', long = "time")]
        time: Option<u64>,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Send a signal to running containers (default SIGKILL)
    Kill {
        #[arg(short, long, default_value = "KILL")]
        signal: String,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Remove containers
    Rm {
        /// Kill a running container first
        #[arg(short, long)]
        force: bool,
        /// Also remove the container's anonymous volumes
        #[arg(short, long)]
        volumes: bool,
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Wait for containers to stop; print their exit codes
    Wait {
        #[arg(required = true)]
        containers: Vec<String>,
    },
    /// Show containers' records as JSON (Docker's field names)
    Inspect(InspectArgs),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage networks (CNI)
    #[command(subcommand)]
    Network(NetworkCommand),
    /// List a container's published ports, or the host address of one
    Port {
        container: String,
        /// PORT[/PROTO]
        port: Option<String>,
    },
    /// Copy files between a container and the host (or a tar stream on stdin/stdout)
    Cp(CpArgs),
    /// The monitor of a detached container (started by `run -d` and `start`)
    #[command(name = "__monitor", hide = true)]
    Monitor {
        id: String,
        /// Its stdin is an attach connection (`start -a`)
        #[arg(long)]
        attached: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ContainerCommand {
    /// Remove every stopped container
    Prune {
        /// Do not ask (arca never asks)
        #[arg(short, long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum SystemCommand {
    /// Show the disk space images use: unpacked (each file once), and the compressed blobs
    Df(DfArgs),
    /// Remove stopped containers, dangling images (with -a: every image no container uses)
    /// and, with --volumes, unused anonymous volumes
    Prune {
        /// Remove every image no container uses, not only dangling (unnamed) ones
        #[arg(short, long)]
        all: bool,
        /// Also remove anonymous volumes no container uses
        #[arg(long)]
        volumes: bool,
        /// Do not ask (arca never asks)
        #[arg(short, long)]
        force: bool,
    },
    /// Rootless: stop the containers and the pause process holding the user's namespaces (the
    /// next command makes new ones, with the ids /etc/subuid allots by then)
    Migrate,
}

#[derive(Debug, clap::Args)]
pub struct DfArgs {
    /// table (default) or json
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also list each image
    #[arg(short, long)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
#[command(defer = true)]
pub enum ImageCommand {
    /// Create a one-layer image from a tarball (as `arca import`)
    Import(ImportArgs),
    /// Show an image's record and config as JSON
    Inspect { images: Vec<String> },
    /// Remove dangling (unnamed) images no container uses, then blobs no image refers to and
    /// leftovers of interrupted pulls
    Prune {
        /// Remove every image no container uses, not only dangling ones
        #[arg(short, long)]
        all: bool,
        /// Do not ask (arca never asks)
        #[arg(short, long)]
        force: bool,
    },
    /// List images (as `arca images`)
    Ls(ImagesArgs),
    /// Copy an image into the local store (as `arca pull`)
    Pull(PullArgs),
    /// Remove images (as `arca rmi`)
    Rm { images: Vec<String> },
}

#[derive(Debug, clap::Args)]
pub struct PullArgs {
    pub image: String,
    /// os/arch[/variant] to choose from a multi-platform image (default: this host's)
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the image id
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
    /// Mirrors, insecure and blocked registries (containers-registries.conf(5); default:
    /// $ARCA_REGISTRIES_CONF, else /etc/containers/registries.conf if it exists)
    #[arg(long, value_name = "FILE")]
    pub registries_conf: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The local image (name or id)
    pub image: String,
    /// Where to push (REGISTRY/REPOSITORY[:TAG], dir:DIR, oci:DIR[:REF],
    /// oci-archive:FILE[:REF], docker-archive:FILE[:REF]); default: the image's own name
    pub destination: Option<String>,
    /// Print only the digest line
    #[arg(short, long)]
    pub quiet: bool,
    #[command(flatten)]
    pub registry: RegistryFlags,
}

// How `pull` and `push` reach a registry (a plain comment: with `defer`, a doc comment here
// would become the about of every subcommand that flattens these flags).
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryFlags {
    /// USER:PASSWORD for the registry (default: the stored login, if any)
    #[arg(long)]
    pub creds: Option<String>,
    /// Credentials file (default: Podman's auth.json, then Docker's config.json)
    #[arg(long)]
    pub authfile: Option<PathBuf>,
    /// false: the registry may be reached over plain HTTP (as Podman's flag)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_value_t = true,
          default_missing_value = "true", action = clap::ArgAction::Set)]
    pub tls_verify: bool,
}

impl Default for RegistryFlags {
    fn default() -> Self {
        RegistryFlags {
            creds: None,
            authfile: None,
            tls_verify: true,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The registry (host[:port]; `docker.io` for Docker Hub)
    pub registry: String,
    /// Credentials file to write (default: Podman's: $REGISTRY_AUTH_FILE,
    /// $XDG_RUNTIME_DIR/containers/auth.json, /run/containers/UID/auth.json)
    #[arg(long)]
    pub authfile: Option<PathBuf>,
    #[arg(short, long)]
    pub username: Option<String>,
    /// The password (visible to other users in the process list; prefer --password-stdin)
    #[arg(short, long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password from stdin
    #[arg(long)]
    pub password_stdin: bool,
}

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    /// The registry (host[:port])
    pub registry: String,
    /// Credentials file (default: as for login)
    #[arg(long)]
    pub authfile: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ImagesArgs {
    /// Print only image ids
    #[arg(short, long)]
    pub quiet: bool,
    /// table (default) or json
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Show full ids
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// Images to save (names or ids)
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Write to this file instead of stdout
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Archive format (Podman's flag; Docker always writes docker-archive)
    #[arg(long, value_enum, default_value = "docker-archive")]
    pub format: ArchiveFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchiveFormat {
    DockerArchive,
    OciArchive,
}

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Read from this file instead of stdin
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Suppress progress output
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The tarball, or - for stdin
    pub file: String,
    /// Name for the image (REPOSITORY[:TAG]); default: none, shown by id
    pub reference: Option<String>,
    /// Dockerfile instruction to apply: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL,
    /// STOPSIGNAL, USER, VOLUME, WORKDIR (repeatable)
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Comment recorded in the image's history
    #[arg(short, long)]
    pub message: Option<String>,
    /// os/arch[/variant] the image claims (default: this host's)
    #[arg(long)]
    pub platform: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every subcommand says what it does in its own words. With subcommands built on demand
    /// (`defer`), a doc comment on a struct of flags several verbs flatten in became the about
    /// of all of them ("How `pull` and `push` reach a registry" for `pull`).
    #[test]
    fn every_subcommand_has_an_about_of_its_own() {
        fn walk(cmd: &clap::Command, path: &str, seen: &mut Vec<(String, String)>) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let name = format!("{path} {}", sub.get_name());
                let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
                assert!(!about.is_empty(), "{name}: no about");
                seen.push((name.clone(), about));
                walk(sub, &name, seen);
            }
        }
        let mut cmd = Cli::command();
        cmd.build();
        let mut seen = Vec::new();
        walk(&cmd, "arca", &mut seen);
        assert!(seen.len() > 40, "{} subcommands", seen.len());
        for (i, (name, about)) in seen.iter().enumerate() {
            for (other, same) in &seen[i + 1..] {
                assert_ne!(about, same, "{name} and {other} share their about");
            }
        }
    }
}
