//! The OCI runtime spec of a container, built from its image config and the user's `run`
//! flags the way Docker (and, where Docker leaves it to the runtime, Podman) would, so that an
//! image behaves under `arca run` as it does under `docker run`.
//!
//! [`build`] is pure apart from two reads: the container's `/etc/passwd` and `/etc/group`
//! (through `user`, confined to the rootfs by `openat2(RESOLVE_IN_ROOT)` since the rootfs is
//! untrusted image content) and, for `--device`, `--security-opt seccomp=FILE` and
//! `--privileged`, the host's device nodes and the profile file (trusted host paths the user
//! named).
//!
//! One concept per submodule:
//! - `process`: args (entrypoint + cmd), env, cwd, hostname.
//! - `user`: `-u` resolved against the rootfs's passwd and group files.
//! - `caps`: Docker's default capabilities, `--cap-add`/`--cap-drop`, `--privileged`.
//! - `mounts`: Docker's default mounts, masked and read-only paths, the user's mounts.
//! - `mount_flags`: `-v`, `--tmpfs` and `--mount` parsed into [`Mount`].
//! - `resources`: `--memory`, `--cpus`, `--pids-limit`, `--ulimit`.
//! - `devices`: `--device` and the host devices of a privileged container.
//! - `security`: `--security-opt` (seccomp, no-new-privileges).
//! - `env_file`: `--env-file` and `-e KEY` taken from the caller's environment.
//! - `init`: `--init`, arca's reaper as PID 1.

mod caps;
mod devices;
mod env_file;
mod error;
mod init;
mod mount_flags;
mod mounts;
mod process;
mod resources;
mod security;
mod user;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::{Linux, LinuxNamespace, LinuxNamespaceType, LinuxResources, Root, Spec};

pub use env_file::{parse_env_file, resolve_env};
pub use error::SpecError;
pub use init::{user_command, INIT_PATH};
pub use mount_flags::{parse_mount, parse_tmpfs, parse_volume};
pub use resources::{parse_memory, parse_ulimit, Ulimit};
pub use user::{resolve_user, ResolvedUser};

/// What `arca run`/`create` flags ask for (Docker's flag names in the comments). Filled by the
/// CLI; everything is validated by [`build`], so a bad value fails before anything is created.
#[derive(Debug, Clone, Default)]
pub struct RunConfig {
    /// `--entrypoint`: `Some(vec![])` (from `--entrypoint ""`) resets the image's to none.
    pub entrypoint: Option<Vec<String>>,
    /// The arguments after the image; empty: the image's `Cmd` (unless `--entrypoint` was given).
    pub cmd: Vec<String>,
    /// `-e K=V` / `--env-file` lines, already resolved by [`resolve_env`]/[`parse_env_file`].
    /// An entry without `=` removes the variable (as Docker's merge does).
    pub env: Vec<String>,
    /// `-w`: absolute path.
    pub workdir: Option<String>,
    /// `-u name|uid[:group|gid]`; `None`: the image's `User`.
    pub user: Option<String>,
    /// `--hostname`; default: the first 12 characters of the id (the host's name with
    /// `--network host`, as Docker).
    pub hostname: Option<String>,
    /// `-t`
    pub tty: bool,
    /// `--read-only`
    pub read_only: bool,
    /// `--privileged`
    pub privileged: bool,
    /// `--cap-add`: with or without `CAP_`, any case, or `ALL`.
    pub cap_add: Vec<String>,
    /// `--cap-drop`: with or without `CAP_`, any case, or `ALL`.
    pub cap_drop: Vec<String>,
    /// `--security-opt`: `seccomp=unconfined|FILE`, `no-new-privileges[=true|false]`.
    pub security_opt: Vec<String>,
    /// `-m`/`--memory` in bytes (see [`parse_memory`]).
    pub memory: Option<i64>,
    /// `--cpus`
    pub cpus: Option<f64>,
    /// `--pids-limit` (0 or negative: unlimited, as Docker).
    pub pids_limit: Option<i64>,
    /// `--ulimit name=soft[:hard]`
    pub ulimits: Vec<String>,
    /// `--device SRC[:DST[:PERMS]]`
    pub devices: Vec<String>,
    /// `-v`, `--tmpfs`, `--mount`, parsed by [`parse_volume`], [`parse_tmpfs`], [`parse_mount`].
    pub mounts: Vec<Mount>,
    /// `--network none|host`
    pub network: Network,
    /// `--label`: become the spec's annotations.
    pub labels: Vec<(String, String)>,
    /// `--init`: the host path of the init binary (arca itself), bind-mounted read-only at
    /// [`INIT_PATH`] to run the command as its child.
    pub init: Option<PathBuf>,
}

/// A mount the user asked for (`-v`, `--tmpfs`, `--mount`). Bind sources are host paths the
/// caller has checked or created; they are not touched here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub kind: MountKind,
    /// Absolute path inside the container.
    pub destination: String,
    pub read_only: bool,
    /// Extra mount options: propagation (`rprivate`, `rshared`...) for binds, `size=`,
    /// `mode=`, `exec`... for tmpfs.
    pub options: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountKind {
    /// A recursive bind mount of a host path.
    Bind {
        source: PathBuf,
    },
    Tmpfs,
    /// A volume (`-v name:/dst`, `-v /dst`, `--mount type=volume`; `None`: anonymous), which
    /// the engine resolves to a `Bind` of its directory before [`build`].
    Volume {
        name: Option<String>,
    },
}

/// A destination normalised (`/a//b/` is `/a/b`), as mounts are compared.
pub fn clean_destination(dest: &str) -> String {
    mounts::clean(dest)
}

/// The container's network namespace: a new one made by the runtime (`--network none`, `lo`
/// only), the host's, or one that exists already (made and wired by CNI before the container
/// is created, or another container's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Network {
    #[default]
    None,
    Host,
    Join(PathBuf),
}

/// The parent of every container's cgroup: `/arca/<id>` keeps arca's containers together and
/// apart from other engines' (Docker uses `/docker/<id>`).
pub const CGROUP_PARENT: &str = "/arca";

/// Builds the runtime spec of container `id` whose root filesystem is `rootfs`, from the image
/// config and the `run` flags. Reads the rootfs's `/etc/passwd` and `/etc/group` when the user
/// is given by name or needs supplementary groups.
pub fn build(
    image: &ImageConfiguration,
    rootfs: &Path,
    id: &str,
    run: &RunConfig,
) -> Result<Spec, SpecError> {
    let config = image.config().clone().unwrap_or_default();
    let security = security::parse(&run.security_opt)?;

    let hostname = process::hostname(run, id)?;
    let mut proc = process::process(&config, run, &hostname)?;
    let user_spec = run
        .user
        .clone()
        .or_else(|| config.user().clone())
        .unwrap_or_default();
    proc.set_user(resolve_user(rootfs, &user_spec)?.into_oci());
    proc.set_capabilities(Some(caps::capabilities(run)?));
    proc.set_rlimits(Some(resources::rlimits(&run.ulimits)?));
    if security.no_new_privileges {
        proc.set_no_new_privileges(Some(true));
    }
    let mut mounts = mounts::mounts(run)?;
    if let Some(source) = &run.init {
        proc.set_args(proc.args().clone().map(init::wrap));
        // Last, so that no user mount (a tmpfs on /run) covers it.
        mounts.push(init::mount(source));
    }

    let mut spec = Spec::default();
    spec.set_version(arca_container::OCI_VERSION.to_owned());
    let mut root = Root::default();
    root.set_path(rootfs.to_path_buf());
    root.set_readonly(Some(run.read_only));
    spec.set_root(Some(root));
    spec.set_hostname(Some(hostname));
    spec.set_process(Some(proc));
    spec.set_mounts(Some(mounts));
    spec.set_annotations(if run.labels.is_empty() {
        None
    } else {
        Some(run.labels.iter().cloned().collect::<HashMap<_, _>>())
    });

    let mut linux = Linux::default();
    linux.set_namespaces(Some(namespaces(&run.network)));
    linux.set_cgroups_path(Some(PathBuf::from(format!("{CGROUP_PARENT}/{id}"))));
    let devices = devices::devices(run)?;
    linux.set_devices(Some(devices.nodes).filter(|d| !d.is_empty()));
    let mut res: LinuxResources = resources::resources(run)?;
    res.set_devices(Some(devices.rules));
    linux.set_resources(Some(res));
    if run.privileged {
        linux.set_masked_paths(None);
        linux.set_readonly_paths(None);
    } else {
        linux.set_masked_paths(Some(mounts::masked_paths()));
        linux.set_readonly_paths(Some(mounts::readonly_paths()));
    }
    linux.set_rootfs_propagation(mounts::rootfs_propagation(&run.mounts));
    linux.set_seccomp(security::seccomp(&security, run.privileged)?);
    spec.set_linux(Some(linux));
    Ok(spec)
}

/// Docker's namespaces: all but user and time, the cgroup one included (cgroup v2's default
/// "private" cgroupns), network unless shared with the host.
fn namespaces(network: &Network) -> Vec<LinuxNamespace> {
    let mut kinds = vec![
        LinuxNamespaceType::Pid,
        LinuxNamespaceType::Ipc,
        LinuxNamespaceType::Uts,
        LinuxNamespaceType::Mount,
        LinuxNamespaceType::Cgroup,
    ];
    if *network != Network::Host {
        kinds.insert(1, LinuxNamespaceType::Network);
    }
    kinds
        .into_iter()
        .map(|t| {
            let mut ns = LinuxNamespace::default();
            ns.set_typ(t);
            if let (LinuxNamespaceType::Network, Network::Join(path)) = (t, network) {
                ns.set_path(Some(path.clone()));
            }
            ns
        })
        .collect()
}
