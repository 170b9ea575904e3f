//! The OCI profile translated to a libseccomp filter and exported as BPF; the features
//! document of what this libseccomp supports.

use super::*;

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
pub(super) fn supported_archs() -> Vec<Arch> {
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

pub(super) fn libseccomp_version() -> (u32, u32, u32) {
    ScmpVersion::current()
        .map(|v| (v.major, v.minor, v.micro))
        .unwrap_or_default()
}

/// Validates what libseccomp would not, and works out the seccomp(2) flags and whether a rule
/// notifies.
pub(super) fn check_profile(profile: &LinuxSeccomp) -> Result<(u32, bool), SeccompError> {
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
pub(super) fn action(
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
pub(super) fn condition(arg: &LinuxSeccompArg) -> Result<ScmpArgCompare, String> {
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

pub(super) fn arch(a: Arch) -> ScmpArch {
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
pub(super) fn build(profile: &LinuxSeccomp) -> Result<ScmpFilterContext, SeccompError> {
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
    let mut rules = 0usize;
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
            rules += 1;
        }
    }
    // A binary tree instead of a list of syscall numbers: the kernel runs a new filter once per
    // syscall number and architecture when it is installed (Docker's default profile: 0.27 ms
    // instead of 0.88), and every syscall then walks the tree. Not for a handful of rules:
    // libseccomp before 2.5.4 ignores the default action of a tree without rules (its issue
    // 370), and a short list gains nothing.
    if rules >= BINARY_TREE_MIN_RULES {
        if let Err(e) = ctx.set_ctl_optimize(2) {
            tracing::debug!("seccomp: no binary-tree filter (libseccomp < 2.5?): {e}");
        }
    }
    Ok(ctx)
}

/// Fewer rules than this stay a plain list.
const BINARY_TREE_MIN_RULES: usize = 8;

/// The BPF program of the profile, as exported by `seccomp_export_bpf` (through a memfd:
/// `seccomp_export_bpf_mem` needs libseccomp 2.6).
pub(super) fn compile(profile: &LinuxSeccomp) -> Result<Vec<u8>, SeccompError> {
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
pub(super) fn decode(bytes: &[u8]) -> std::io::Result<Vec<SockFilter>> {
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
