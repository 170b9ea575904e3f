//! seccomp: the OCI `linux.seccomp` profile compiled to a BPF program with libseccomp, cached
//! on disk as crun does, and installed with a raw seccomp(2) right before the container's
//! process runs.
//!
//! Three steps, so that each runs where it can:
//! - [`prepare`] (before pivot_root: the cache dir is on the host) translates the profile, or
//!   reads the program compiled earlier for the same profile from the cache. A cache entry is
//!   `<cache dir>/<sha256 hex>.bpf`, the key hashing the canonical profile JSON (keys sorted,
//!   listener fields left out: they do not change the program), the architecture and the
//!   libseccomp version; written to a temporary file, synced, then renamed into place. The
//!   cache is only an optimisation: any cache error falls back to compiling.
//! - [`load`] installs the program with `seccomp(SECCOMP_SET_MODE_FILTER)` (with
//!   `SECCOMP_FILTER_FLAG_NEW_LISTENER` when a rule notifies, returning the listener fd).
//! - [`send_listener_fd`] hands that fd to the seccomp agent at `listenerPath` with the
//!   "seccomp state" of the runtime spec as payload.
//!
//! Semantics follow runc: unknown syscall names are skipped (debug log); rules whose action is
//! the default action are dropped; `errnoRet` defaults to EPERM for SCMP_ACT_ERRNO and
//! SCMP_ACT_TRACE and is refused on any other action; several conditions on the same argument
//! become one rule per condition (OR), otherwise the conditions of a rule are ANDed.

use std::fs;
use std::io::{IoSlice, Read, Seek, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
    ScmpVersion,
};
use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use arca_sys::seccomp::{self as sys, SockFilter};

mod cache;
mod compile;
mod listener;

pub use cache::cache_key;
use cache::*;
pub use compile::features;
use compile::*;
pub use listener::{connect_listener, send_listener_fd, send_over};

/// Bumped whenever the translation changes, so old cache entries are no longer found.
const CACHE_FORMAT: &str = "arca-seccomp-bpf-v2";
/// Size of one `struct sock_filter` in the exported program.
const INSN_SIZE: usize = 8;
/// Highest syscall argument index (`SCMP_ARG_MAX` - 1).
const MAX_ARG_INDEX: usize = 5;

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The profile asks for something invalid; the message names the field.
    #[error("linux.seccomp.{field}: {msg}")]
    Profile { field: String, msg: String },
    #[error("linux.seccomp: libseccomp {op}: {source}")]
    Compile {
        op: String,
        #[source]
        source: libseccomp::error::SeccompError,
    },
    #[error("linux.seccomp: exporting the BPF program: {0}")]
    Export(#[source] std::io::Error),
    #[error("linux.seccomp: loading the filter: {msg}: {source}")]
    Load {
        msg: String,
        #[source]
        source: nix::Error,
    },
    #[error("linux.seccomp.listenerPath {path}: {op}: {source}")]
    Listener {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
}

impl SeccompError {
    fn profile(field: impl Into<String>, msg: impl Into<String>) -> Self {
        SeccompError::Profile {
            field: field.into(),
            msg: msg.into(),
        }
    }

    fn compile(op: impl Into<String>, source: libseccomp::error::SeccompError) -> Self {
        SeccompError::Compile {
            op: op.into(),
            source,
        }
    }
}

/// A compiled profile, ready to [`load`]: the BPF program plus the seccomp(2) flags and the
/// listener settings. Plain memory, so it can be built in a parent and used in a clone.
#[derive(Clone)]
pub struct Filter {
    program: Vec<SockFilter>,
    flags: u32,
    notify: bool,
    listener_path: Option<PathBuf>,
    listener_metadata: Option<String>,
    from_cache: bool,
    cache_file: Option<PathBuf>,
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Filter")
            .field("instructions", &self.program.len())
            .field("flags", &format_args!("{:#x}", self.flags))
            .field("notify", &self.notify)
            .field("listener_path", &self.listener_path)
            .field("from_cache", &self.from_cache)
            .field("cache_file", &self.cache_file)
            .finish()
    }
}

impl Filter {
    /// Number of BPF instructions.
    pub fn instructions(&self) -> usize {
        self.program.len()
    }

    /// The `SECCOMP_FILTER_FLAG_*` bits [`load`] passes to seccomp(2).
    pub fn flags(&self) -> u32 {
        self.flags
    }

    /// Whether a rule uses SCMP_ACT_NOTIFY: [`load`] then returns a listener fd, to be sent
    /// to [`Filter::listener_path`].
    pub fn notify(&self) -> bool {
        self.notify
    }

    pub fn listener_path(&self) -> Option<&Path> {
        self.listener_path.as_deref()
    }

    pub fn listener_metadata(&self) -> Option<&str> {
        self.listener_metadata.as_deref()
    }

    /// Whether the program was read from the cache rather than compiled.
    pub fn from_cache(&self) -> bool {
        self.from_cache
    }

    /// The cache entry for this profile (read or written), when a cache dir was given.
    pub fn cache_file(&self) -> Option<&Path> {
        self.cache_file.as_deref()
    }
}

/// The engine's default profile (`profiles/seccomp-default.json`, see `profiles/README.md`):
/// Podman's default, tightened to Docker's where Docker is stricter for the default capability
/// set (mount, unshare, setns, keyctl, namespace flags of clone... refused with EPERM).
/// Parsed once; the returned value is a copy.
pub fn default_profile() -> LinuxSeccomp {
    static PROFILE: std::sync::OnceLock<LinuxSeccomp> = std::sync::OnceLock::new();
    PROFILE
        .get_or_init(|| {
            serde_json::from_str(include_str!("../../profiles/seccomp-default.json"))
                .unwrap_or_else(|e| panic!("profiles/seccomp-default.json is invalid: {e}"))
        })
        .clone()
}

/// Compiles `profile` (or reads its program from `cache_dir`, and stores it there after
/// compiling). Needs nothing from inside the container: call it before pivot_root, or in the
/// runtime before the clone.
pub fn prepare(profile: &LinuxSeccomp, cache_dir: Option<&Path>) -> Result<Filter, SeccompError> {
    let (flags, notify) = check_profile(profile)?;
    let mut filter = Filter {
        program: Vec::new(),
        flags,
        notify,
        listener_path: profile.listener_path().clone(),
        listener_metadata: profile.listener_metadata().clone(),
        from_cache: false,
        cache_file: None,
    };
    if let Some(dir) = cache_dir {
        if let Some((program, file)) = Remembered::take(profile, dir) {
            filter.program = program;
            filter.from_cache = true;
            filter.cache_file = Some(file);
            return Ok(filter);
        }
        let file = dir.join(format!("{}.bpf", cache_key(profile)));
        match read_cached(&file) {
            Ok(Some(program)) => {
                filter.program = program;
                filter.from_cache = true;
                filter.cache_file = Some(file);
                return Ok(filter);
            }
            Ok(None) => {}
            Err(e) => tracing::debug!("seccomp cache {}: {e}; compiling", file.display()),
        }
        let bytes = compile(profile)?;
        if let Err(e) = write_cached(dir, &file, &bytes) {
            tracing::debug!("seccomp cache {}: not written: {e}", file.display());
        }
        filter.program = decode(&bytes).map_err(SeccompError::Export)?;
        filter.cache_file = Some(file);
        return Ok(filter);
    }
    filter.program = decode(&compile(profile)?).map_err(SeccompError::Export)?;
    Ok(filter)
}

/// Prepares `profile` now, for the next [`prepare`] of the same profile and cache in this
/// process, which takes the program instead of hashing the profile into its cache key
/// (serialising ~30 KB of canonical JSON, ~0.15 ms): the monitor of `run -d` prepares the
/// default profile while it waits for its container (`container::warm_up`).
pub fn prepare_ahead(profile: &LinuxSeccomp, cache_dir: &Path) {
    if let Ok(Filter {
        program,
        cache_file: Some(file),
        ..
    }) = prepare(profile, Some(cache_dir))
    {
        if let Ok(mut ahead) = REMEMBERED.lock() {
            *ahead = Some(Remembered {
                profile: profile.clone(),
                dir: cache_dir.to_owned(),
                program,
                file,
            });
        }
    }
}

/// What [`prepare_ahead`] prepared; taken by the first `prepare` that matches it.
struct Remembered {
    profile: LinuxSeccomp,
    dir: PathBuf,
    program: Vec<SockFilter>,
    file: PathBuf,
}

static REMEMBERED: std::sync::Mutex<Option<Remembered>> = std::sync::Mutex::new(None);

impl Remembered {
    fn take(profile: &LinuxSeccomp, dir: &Path) -> Option<(Vec<SockFilter>, PathBuf)> {
        let mut ahead = REMEMBERED.lock().ok()?;
        if !ahead
            .as_ref()
            .is_some_and(|r| r.dir == dir && r.profile == *profile)
        {
            return None;
        }
        ahead.take().map(|r| (r.program, r.file))
    }
}

/// Installs the filter on the calling process: from here on every syscall of it (and of what
/// it execs) goes through the program. Without no_new_privs this needs CAP_SYS_ADMIN, so call
/// it before dropping capabilities in that case, else as late as possible. Returns the
/// notification fd when the profile has SCMP_ACT_NOTIFY rules.
pub fn load(filter: &Filter) -> Result<Option<OwnedFd>, SeccompError> {
    sys::set_mode_filter(&filter.program, filter.flags).map_err(|e| {
        let msg = match e {
            nix::Error::EACCES => {
                "seccomp(2) needs noNewPrivileges or CAP_SYS_ADMIN at this point".to_owned()
            }
            nix::Error::EINVAL => format!(
                "seccomp(2) refused the program or the flags {:#x} (kernel too old?)",
                filter.flags
            ),
            _ => "seccomp(2)".to_owned(),
        };
        SeccompError::Load { msg, source: e }
    })
}

/// The `linux.seccomp` part of the features document.
/// A filter ready to install and, for a notify profile, the connection to its agent, made
/// while `listenerPath` still names the runtime's (host) path: before the clone, or before
/// pivot_root at the latest.
#[derive(Debug)]
pub struct Prepared {
    filter: Filter,
    agent: Option<UnixStream>,
}

impl Prepared {
    pub fn new(profile: &LinuxSeccomp, cache_dir: Option<&Path>) -> Result<Prepared, SeccompError> {
        let filter = prepare(profile, cache_dir)?;
        let agent = match filter.listener_path() {
            Some(path) if filter.notify() => Some(connect_listener(path)?),
            _ => None,
        };
        Ok(Prepared { filter, agent })
    }

    /// Installs the filter on the calling process and hands the notify fd, with `state`, to
    /// the agent.
    pub fn install(&self, state: &Value) -> Result<(), SeccompError> {
        let fd = load(&self.filter)?;
        if let (Some(fd), Some(agent), Some(path)) = (fd, &self.agent, self.filter.listener_path())
        {
            send_over(
                agent,
                path,
                &fd,
                state.clone(),
                self.filter.listener_metadata(),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod default_profile_tests {
    use super::*;

    #[test]
    fn default_profile_parses_and_compiles() {
        let p = default_profile();
        assert_eq!(p.default_action(), LinuxSeccompAction::ScmpActErrno);
        let filter = prepare(&p, None).expect("the default profile compiles");
        assert!(filter.instructions() > 100, "{filter:?}");
        assert!(!filter.notify());
        // What the profile must refuse is refused by name (EPERM), never allowed.
        let rules = p.syscalls().as_deref().unwrap_or_default();
        for name in [
            "mount",
            "unshare",
            "keyctl",
            "kexec_load",
            "setns",
            "umount2",
        ] {
            let actions: Vec<_> = rules
                .iter()
                .filter(|r| r.names().iter().any(|n| n == name))
                .map(|r| (r.action(), r.errno_ret()))
                .collect();
            assert_eq!(
                actions,
                [(LinuxSeccompAction::ScmpActErrno, Some(1))],
                "{name}"
            );
        }
        assert!(rules.iter().any(|r| r.names().iter().any(|n| n == "read")
            && r.action() == LinuxSeccompAction::ScmpActAllow));
    }
}
