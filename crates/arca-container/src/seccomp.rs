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

/// Bumped whenever the translation changes, so old cache entries are no longer found.
const CACHE_FORMAT: &str = "arca-seccomp-bpf-v1";
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
            serde_json::from_str(include_str!("../profiles/seccomp-default.json"))
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

/// Connects to the seccomp agent's socket at `listener_path` (SOCK_STREAM). Separate from
/// [`send_over`] so a caller can connect while the host's paths are still reachable and send
/// later, from inside the container.
pub fn connect_listener(listener_path: &Path) -> Result<UnixStream, SeccompError> {
    UnixStream::connect(listener_path).map_err(|e| SeccompError::Listener {
        path: listener_path.to_owned(),
        op: "connecting",
        source: e,
    })
}

/// Sends the notification fd to the agent at `listener_path`: one message carrying the fd
/// (SCM_RIGHTS) and the runtime spec's seccomp state JSON (`ociVersion`, `fds:
/// ["seccompFd"]`, `pid`, `metadata`, `state`). `state` is the container's OCI state; its
/// `pid` is the `pid` of the message.
pub fn send_listener_fd(
    listener_path: &Path,
    fd: &OwnedFd,
    state: Value,
    metadata: Option<&str>,
) -> Result<(), SeccompError> {
    let stream = connect_listener(listener_path)?;
    send_over(&stream, listener_path, fd, state, metadata)
}

/// [`send_listener_fd`] over a stream already connected with [`connect_listener`];
/// `listener_path` only names it in errors.
pub fn send_over(
    stream: &UnixStream,
    listener_path: &Path,
    fd: &OwnedFd,
    state: Value,
    metadata: Option<&str>,
) -> Result<(), SeccompError> {
    let payload = seccomp_state(state, metadata);
    let err = |op, source| SeccompError::Listener {
        path: listener_path.to_owned(),
        op,
        source,
    };
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let sent = loop {
        match sendmsg::<()>(
            stream.as_raw_fd(),
            &[IoSlice::new(&payload)],
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(n) => break n,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(err("sending the notify fd", e.into())),
        }
    };
    // A stream socket may take less than the whole payload; the fd went with the first part.
    let mut rest = payload.get(sent..).unwrap_or_default();
    let mut w = stream;
    while !rest.is_empty() {
        match w.write(rest) {
            Ok(0) => {
                return Err(err(
                    "sending the seccomp state",
                    std::io::ErrorKind::WriteZero.into(),
                ))
            }
            Ok(n) => rest = rest.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(err("sending the seccomp state", e)),
        }
    }
    Ok(())
}

/// The "seccomp state" of the runtime spec, serialised.
fn seccomp_state(state: Value, metadata: Option<&str>) -> Vec<u8> {
    let mut msg = json!({
        "ociVersion": crate::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": state.get("pid").cloned().unwrap_or(Value::Null),
        "state": state,
    });
    if let Some(m) = metadata {
        msg["metadata"] = Value::from(m);
    }
    serde_json::to_vec(&msg).unwrap_or_default()
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

pub fn features() -> Value {
    let flags = [
        (
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync,
            sys::FLAG_TSYNC,
        ),
        (LinuxSeccompFilterFlag::SeccompFilterFlagLog, sys::FLAG_LOG),
        (
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow,
            sys::FLAG_SPEC_ALLOW,
        ),
        (
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv,
            sys::FLAG_WAIT_KILLABLE_RECV | sys::FLAG_NEW_LISTENER,
        ),
    ];
    let known: Vec<String> = flags.iter().map(|(f, _)| f.to_string()).collect();
    let supported: Vec<String> = flags
        .iter()
        .filter(|(_, bits)| sys::flags_supported(*bits))
        .map(|(f, _)| f.to_string())
        .collect();
    let actions = [
        LinuxSeccompAction::ScmpActAllow,
        LinuxSeccompAction::ScmpActErrno,
        LinuxSeccompAction::ScmpActKill,
        LinuxSeccompAction::ScmpActKillProcess,
        LinuxSeccompAction::ScmpActKillThread,
        LinuxSeccompAction::ScmpActLog,
        LinuxSeccompAction::ScmpActNotify,
        LinuxSeccompAction::ScmpActTrace,
        LinuxSeccompAction::ScmpActTrap,
    ];
    let operators = [
        LinuxSeccompOperator::ScmpCmpEq,
        LinuxSeccompOperator::ScmpCmpGe,
        LinuxSeccompOperator::ScmpCmpGt,
        LinuxSeccompOperator::ScmpCmpLe,
        LinuxSeccompOperator::ScmpCmpLt,
        LinuxSeccompOperator::ScmpCmpMaskedEq,
        LinuxSeccompOperator::ScmpCmpNe,
    ];
    json!({
        "enabled": true,
        "actions": actions.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "operators": operators.iter().map(|o| o.to_string()).collect::<Vec<_>>(),
        "archs": supported_archs().iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "knownFlags": known,
        "supportedFlags": supported,
    })
}

/// The architectures the linked libseccomp knows.
fn supported_archs() -> Vec<Arch> {
    let mut archs = vec![
        Arch::ScmpArchAarch64,
        Arch::ScmpArchArm,
        Arch::ScmpArchMips,
        Arch::ScmpArchMips64,
        Arch::ScmpArchMips64n32,
        Arch::ScmpArchMipsel,
        Arch::ScmpArchMipsel64,
        Arch::ScmpArchMipsel64n32,
        Arch::ScmpArchParisc,
        Arch::ScmpArchParisc64,
        Arch::ScmpArchPpc,
        Arch::ScmpArchPpc64,
        Arch::ScmpArchPpc64le,
        Arch::ScmpArchRiscv64,
        Arch::ScmpArchS390,
        Arch::ScmpArchS390x,
        Arch::ScmpArchX32,
        Arch::ScmpArchX86,
        Arch::ScmpArchX86_64,
    ];
    // Added in libseccomp 2.6.
    if libseccomp_version() >= (2, 6, 0) {
        archs.extend([
            Arch::ScmpArchLoongarch64,
            Arch::ScmpArchM68k,
            Arch::ScmpArchSh,
            Arch::ScmpArchSheb,
        ]);
    }
    archs
}

fn libseccomp_version() -> (u32, u32, u32) {
    ScmpVersion::current()
        .map(|v| (v.major, v.minor, v.micro))
        .unwrap_or_default()
}

/// Validates what libseccomp would not, and works out the seccomp(2) flags and whether a rule
/// notifies.
fn check_profile(profile: &LinuxSeccomp) -> Result<(u32, bool), SeccompError> {
    if profile.default_action() == LinuxSeccompAction::ScmpActNotify {
        return Err(SeccompError::profile(
            "defaultAction",
            "SCMP_ACT_NOTIFY cannot be the default action",
        ));
    }
    action(
        profile.default_action(),
        profile.default_errno_ret(),
        "defaultErrnoRet",
    )?;
    let mut notify = false;
    for (i, rule) in profile.syscalls().iter().flatten().enumerate() {
        action(
            rule.action(),
            rule.errno_ret(),
            &format!("syscalls[{i}].errnoRet"),
        )?;
        notify |= rule.action() == LinuxSeccompAction::ScmpActNotify;
        for (j, arg) in rule.args().iter().flatten().enumerate() {
            condition(arg)
                .map_err(|msg| SeccompError::profile(format!("syscalls[{i}].args[{j}]"), msg))?;
        }
    }
    if notify && profile.listener_path().is_none() {
        return Err(SeccompError::profile(
            "listenerPath",
            "required when a rule uses SCMP_ACT_NOTIFY",
        ));
    }
    let mut flags = 0;
    for f in profile.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => sys::FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => sys::FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => sys::FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv if notify => {
                sys::FLAG_WAIT_KILLABLE_RECV
            }
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => {
                // The kernel refuses it without a listener; nothing would wait anyway.
                tracing::debug!(
                    "seccomp: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored: no SCMP_ACT_NOTIFY rule"
                );
                0
            }
        };
    }
    if notify {
        flags |= sys::FLAG_NEW_LISTENER;
        if flags & sys::FLAG_TSYNC != 0 {
            flags |= sys::FLAG_TSYNC_ESRCH;
        }
    }
    Ok((flags, notify))
}

/// The libseccomp action of an OCI action and its optional `errnoRet` (named by `field`).
fn action(
    act: LinuxSeccompAction,
    errno_ret: Option<u32>,
    field: &str,
) -> Result<ScmpAction, SeccompError> {
    let ret = |default: i32| -> Result<i32, SeccompError> {
        match errno_ret {
            None => Ok(default),
            Some(n) if n <= 0xffff => Ok(i32::try_from(n).unwrap_or(default)),
            Some(n) => Err(SeccompError::profile(
                field,
                format!("{n} does not fit in the 16 bits of SECCOMP_RET_DATA"),
            )),
        }
    };
    if errno_ret.is_some()
        && !matches!(
            act,
            LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
        )
    {
        return Err(SeccompError::profile(
            field,
            format!("only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take an errno, not {act}"),
        ));
    }
    Ok(match act {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => ScmpAction::Errno(ret(libc::EPERM)?),
        LinuxSeccompAction::ScmpActTrace => {
            ScmpAction::Trace(u16::try_from(ret(libc::EPERM)?).unwrap_or(u16::MAX))
        }
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
    })
}

/// The libseccomp comparison of an OCI argument condition. For SCMP_CMP_MASKED_EQ, `value` is
/// the mask and `valueTwo` the value the masked argument must equal (as in libseccomp).
fn condition(arg: &LinuxSeccompArg) -> Result<ScmpArgCompare, String> {
    if arg.index() > MAX_ARG_INDEX {
        return Err(format!(
            "index {} out of range (syscalls have 6 arguments, 0 to 5)",
            arg.index()
        ));
    }
    let index = u32::try_from(arg.index()).unwrap_or(u32::MAX);
    let (op, datum) = match arg.op() {
        LinuxSeccompOperator::ScmpCmpNe => (ScmpCompareOp::NotEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpLt => (ScmpCompareOp::Less, arg.value()),
        LinuxSeccompOperator::ScmpCmpLe => (ScmpCompareOp::LessOrEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpEq => (ScmpCompareOp::Equal, arg.value()),
        LinuxSeccompOperator::ScmpCmpGe => (ScmpCompareOp::GreaterEqual, arg.value()),
        LinuxSeccompOperator::ScmpCmpGt => (ScmpCompareOp::Greater, arg.value()),
        LinuxSeccompOperator::ScmpCmpMaskedEq => (
            ScmpCompareOp::MaskedEqual(arg.value()),
            arg.value_two().unwrap_or(0),
        ),
    };
    Ok(ScmpArgCompare::new(index, op, datum))
}

fn arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// Translates the profile into a libseccomp filter (the native architecture is always in it).
fn build(profile: &LinuxSeccomp) -> Result<ScmpFilterContext, SeccompError> {
    let default = action(
        profile.default_action(),
        profile.default_errno_ret(),
        "defaultErrnoRet",
    )?;
    let mut ctx =
        ScmpFilterContext::new(default).map_err(|e| SeccompError::compile("seccomp_init", e))?;
    for a in profile.architectures().iter().flatten() {
        let scmp = arch(*a);
        let present = ctx
            .is_arch_present(scmp)
            .map_err(|e| SeccompError::compile(format!("seccomp_arch_exist {a}"), e))?;
        if !present {
            ctx.add_arch(scmp).map_err(|e| {
                SeccompError::compile(format!("seccomp_arch_add {a} (architectures)"), e)
            })?;
        }
    }
    for (i, rule) in profile.syscalls().iter().flatten().enumerate() {
        let act = action(
            rule.action(),
            rule.errno_ret(),
            &format!("syscalls[{i}].errnoRet"),
        )?;
        // libseccomp refuses a rule whose action is the default one; it would change nothing.
        if act == default {
            continue;
        }
        let args = rule.args().as_deref().unwrap_or_default();
        let conds = args
            .iter()
            .map(condition)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|msg| SeccompError::profile(format!("syscalls[{i}].args"), msg))?;
        let mut seen = [false; MAX_ARG_INDEX + 1];
        let repeated = args.iter().any(|a| {
            let slot = &mut seen[a.index().min(MAX_ARG_INDEX)];
            std::mem::replace(slot, true)
        });
        for name in rule.names() {
            let Ok(nr) = ScmpSyscall::from_name(name) else {
                tracing::debug!("seccomp: unknown syscall {name:?} skipped (syscalls[{i}])");
                continue;
            };
            let added = if conds.is_empty() {
                ctx.add_rule(act, nr).map(|_| ())
            } else if repeated {
                // libseccomp ANDs the conditions of a rule and refuses two on one argument:
                // as runc does, each condition becomes a rule of its own.
                conds
                    .iter()
                    .try_for_each(|c| ctx.add_rule_conditional(act, nr, &[*c]).map(|_| ()))
            } else {
                ctx.add_rule_conditional(act, nr, &conds).map(|_| ())
            };
            added.map_err(|e| {
                SeccompError::compile(format!("adding the rule for {name:?} (syscalls[{i}])"), e)
            })?;
        }
    }
    Ok(ctx)
}

/// The BPF program of the profile, as exported by `seccomp_export_bpf` (through a memfd:
/// `seccomp_export_bpf_mem` needs libseccomp 2.6).
fn compile(profile: &LinuxSeccomp) -> Result<Vec<u8>, SeccompError> {
    let ctx = build(profile)?;
    let fd = rustix::fs::memfd_create("arca-seccomp", rustix::fs::MemfdFlags::CLOEXEC)
        .map_err(|e| SeccompError::Export(e.into()))?;
    ctx.export_bpf(&fd)
        .map_err(|e| SeccompError::compile("seccomp_export_bpf", e))?;
    let mut file = fs::File::from(fd);
    file.rewind().map_err(SeccompError::Export)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(SeccompError::Export)?;
    Ok(bytes)
}

/// Instructions from the exported bytes (native-endian `struct sock_filter`s).
fn decode(bytes: &[u8]) -> std::io::Result<Vec<SockFilter>> {
    let bad = |msg: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, msg.to_owned());
    if bytes.is_empty() || !bytes.chunks_exact(INSN_SIZE).remainder().is_empty() {
        return Err(bad("not a whole number of BPF instructions"));
    }
    if bytes.len() / INSN_SIZE > sys::MAX_INSNS {
        return Err(bad("program longer than BPF_MAXINSNS"));
    }
    Ok(bytes
        .chunks_exact(INSN_SIZE)
        .map(|c| SockFilter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

/// The cache key: sha256 of the format tag, the canonical profile JSON (without the listener
/// fields), the architecture and the libseccomp version, in hex.
pub fn cache_key(profile: &LinuxSeccomp) -> String {
    let mut p = profile.clone();
    p.set_listener_path(None);
    p.set_listener_metadata(None);
    let mut canonical = Vec::new();
    if let Ok(v) = serde_json::to_value(&p) {
        write_canonical(&v, &mut canonical);
    }
    let (major, minor, micro) = libseccomp_version();
    let mut h = Sha256::new();
    h.update(CACHE_FORMAT.as_bytes());
    h.update([0]);
    h.update(&canonical);
    h.update([0]);
    h.update(std::env::consts::ARCH.as_bytes());
    h.update([0]);
    h.update(format!("libseccomp {major}.{minor}.{micro}").as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// JSON with object keys sorted at every level, no whitespace.
fn write_canonical(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend(serde_json::to_vec(k).unwrap_or_default());
                out.push(b':');
                if let Some(val) = map.get(*k) {
                    write_canonical(val, out);
                }
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => out.extend(serde_json::to_vec(scalar).unwrap_or_default()),
    }
}

/// The cached program at `file`: `None` when there is none, an error when it is unusable.
fn read_cached(file: &Path) -> std::io::Result<Option<Vec<SockFilter>>> {
    match fs::read(file) {
        Ok(bytes) => decode(&bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Stores `bytes` at `file` (in `dir`, created 0700): a temporary file, synced, renamed over.
fn write_cached(dir: &Path, file: &Path, bytes: &[u8]) -> std::io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, file)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
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
