//! Resource limits: `--memory`, `--cpus` and `--pids-limit` (cgroup) and `--ulimit` (rlimits),
//! with Docker's syntax, defaults and bounds.

use oci_spec::runtime::{
    LinuxCpu, LinuxMemory, LinuxPids, LinuxResources, PosixRlimit, PosixRlimitBuilder,
    PosixRlimitType,
};

use super::{RunConfig, SpecError};

/// Docker refuses a memory limit below 6 MiB: the runtime and the container's init would be
/// OOM-killed before the program starts.
pub const MIN_MEMORY: i64 = 6 << 20;

/// The CFS period `--cpus` is expressed in (Docker's): 100 ms.
pub const CPU_PERIOD: u64 = 100_000;

/// Default `RLIMIT_NOFILE` (soft and hard): what Docker containers get from containerd's unit
/// (`LimitNOFILE=infinity`, i.e. the kernel's `nr_open`, 1048576) and what Podman sets
/// explicitly for rootful containers. Writing it in the spec makes it independent of the
/// limits of whoever runs `arca`. `RLIMIT_NPROC` is left inherited, as Docker does.
pub const DEFAULT_NOFILE: u64 = 1 << 20;

/// Docker's `RAMInBytes`: a number (decimals allowed) and an optional binary unit `b`, `k`,
/// `m`, `g`, `t`, `p` (any case, optionally followed by `i` and/or `b`: `512m`, `1.5GiB`).
pub(super) fn parse_size(s: &str) -> Result<i64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim_start_matches(' ').to_ascii_lowercase();
    let shift = match unit.as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" | "ki" => 10,
        "m" | "mb" | "mib" | "mi" => 20,
        "g" | "gb" | "gib" | "gi" => 30,
        "t" | "tb" | "tib" | "ti" => 40,
        "p" | "pb" | "pib" | "pi" => 50,
        _ => return Err(format!("unknown unit {unit:?}")),
    };
    if num.is_empty() || num.starts_with('.') || num.ends_with('.') {
        return Err("expected a number with an optional unit (b, k, m, g, t, p)".to_owned());
    }
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{num:?} is not a number"))?;
    let bytes = n * f64::from(1u32 << 10).powi(shift / 10);
    if !bytes.is_finite() || bytes >= 9.2e18 {
        return Err("too large".to_owned());
    }
    #[allow(clippy::cast_possible_truncation)]
    Ok(bytes as i64)
}

/// `-m`/`--memory`: `512m`, `1g`, `1073741824` (see `parse_size`).
pub fn parse_memory(s: &str) -> Result<i64, SpecError> {
    parse_size(s).map_err(|r| SpecError::invalid("--memory", s, r))
}

/// One `--ulimit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ulimit {
    pub typ: PosixRlimitType,
    pub soft: u64,
    pub hard: u64,
}

/// `--ulimit name=soft[:hard]` (hard defaults to soft; `-1` or `unlimited` is no limit), with
/// Docker's names (`nofile`, `nproc`, `core`, `memlock`, `stack`...).
pub fn parse_ulimit(s: &str) -> Result<Ulimit, SpecError> {
    const FLAG: &str = "--ulimit";
    let (name, values) = s
        .split_once('=')
        .ok_or_else(|| SpecError::invalid(FLAG, s, "expected name=soft[:hard]"))?;
    let typ = match name {
        "as" => PosixRlimitType::RlimitAs,
        "core" => PosixRlimitType::RlimitCore,
        "cpu" => PosixRlimitType::RlimitCpu,
        "data" => PosixRlimitType::RlimitData,
        "fsize" => PosixRlimitType::RlimitFsize,
        "locks" => PosixRlimitType::RlimitLocks,
        "memlock" => PosixRlimitType::RlimitMemlock,
        "msgqueue" => PosixRlimitType::RlimitMsgqueue,
        "nice" => PosixRlimitType::RlimitNice,
        "nofile" => PosixRlimitType::RlimitNofile,
        "nproc" => PosixRlimitType::RlimitNproc,
        "rss" => PosixRlimitType::RlimitRss,
        "rtprio" => PosixRlimitType::RlimitRtprio,
        "rttime" => PosixRlimitType::RlimitRttime,
        "sigpending" => PosixRlimitType::RlimitSigpending,
        "stack" => PosixRlimitType::RlimitStack,
        _ => {
            return Err(SpecError::invalid(
                FLAG,
                s,
                format!("unknown ulimit {name:?}"),
            ))
        }
    };
    let value = |v: &str| -> Result<u64, SpecError> {
        match v {
            "-1" | "unlimited" => Ok(u64::MAX),
            _ => v.parse::<u64>().map_err(|_| {
                SpecError::invalid(
                    FLAG,
                    s,
                    format!("{v:?} is not a limit (a number, -1 or unlimited)"),
                )
            }),
        }
    };
    let (soft, hard) = match values.split_once(':') {
        Some((soft, hard)) => (value(soft)?, value(hard)?),
        None => {
            let v = value(values)?;
            (v, v)
        }
    };
    if soft > hard {
        return Err(SpecError::invalid(
            FLAG,
            s,
            "the soft limit must be less than or equal to the hard limit",
        ));
    }
    Ok(Ulimit { typ, soft, hard })
}

/// [`DEFAULT_NOFILE`], or the caller's hard limit when that is lower: raising a hard limit
/// needs `CAP_SYS_RESOURCE`, which a sandboxed caller may not have (the container's init would
/// then fail with EPERM), so, as Podman does, the container gets what can be given.
fn default_nofile() -> u64 {
    let current = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    current
        .maximum
        .map_or(DEFAULT_NOFILE, |max| max.min(DEFAULT_NOFILE))
}

/// The default `RLIMIT_NOFILE`, then the user's ulimits (a later one for the same resource
/// replaces an earlier one).
pub(super) fn rlimits(ulimits: &[String]) -> Result<Vec<PosixRlimit>, SpecError> {
    let nofile = default_nofile();
    let mut out = vec![Ulimit {
        typ: PosixRlimitType::RlimitNofile,
        soft: nofile,
        hard: nofile,
    }];
    for s in ulimits {
        let u = parse_ulimit(s)?;
        match out.iter_mut().find(|o| o.typ == u.typ) {
            Some(o) => *o = u,
            None => out.push(u),
        }
    }
    out.into_iter()
        .map(|u| {
            PosixRlimitBuilder::default()
                .typ(u.typ)
                .soft(u.soft)
                .hard(u.hard)
                .build()
                .map_err(|e| SpecError::invalid("--ulimit", format!("{u:?}"), e.to_string()))
        })
        .collect()
}

/// Memory (with Docker's default swap allowance: as much swap as memory, i.e. memory+swap =
/// 2 × memory), CPU quota over a 100 ms period, and the pids limit. Devices are set by the
/// caller.
pub(super) fn resources(run: &RunConfig) -> Result<LinuxResources, SpecError> {
    let mut r = LinuxResources::default();
    if let Some(m) = run.memory {
        if m < MIN_MEMORY {
            return Err(SpecError::invalid(
                "--memory",
                m.to_string(),
                "the minimum memory limit is 6MB",
            ));
        }
        let mut mem = LinuxMemory::default();
        mem.set_limit(Some(m));
        mem.set_swap(Some(m.saturating_mul(2)));
        r.set_memory(Some(mem));
    }
    if let Some(c) = run.cpus {
        // Docker's bounds: 0.01 CPU at least (a 1 ms quota, the kernel's minimum).
        if !c.is_finite() || !(0.01..=1e6).contains(&c) {
            return Err(SpecError::invalid(
                "--cpus",
                c.to_string(),
                "must be a number of CPUs from 0.01",
            ));
        }
        let mut cpu = LinuxCpu::default();
        #[allow(clippy::cast_possible_truncation)]
        cpu.set_quota(Some((c * CPU_PERIOD as f64).round() as i64));
        cpu.set_period(Some(CPU_PERIOD));
        r.set_cpu(Some(cpu));
    }
    if let Some(p) = run.pids_limit.filter(|p| *p > 0) {
        let mut pids = LinuxPids::default();
        pids.set_limit(p);
        r.set_pids(Some(pids));
    }
    Ok(r)
}
