//! Readers for the few cgroupfs file formats stats need. A missing file is `None` (stats are best
//! effort: the controller may be absent or not delegated); a file that exists but cannot be read
//! or parsed is an error naming it, since that points at a kernel format arca does not know.

use std::path::{Path, PathBuf};

use crate::error::CgroupError;
use crate::fs::read_optional;

pub(super) fn parse_error(path: &Path, reason: impl Into<String>) -> CgroupError {
    CgroupError::Parse {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// `dir/file` and its content, `None` if it does not exist.
pub(super) fn read(dir: &Path, file: &str) -> Result<Option<(PathBuf, String)>, CgroupError> {
    let path = dir.join(file);
    Ok(read_optional(&path)?.map(|text| (path, text)))
}

/// One number as cgroupfs writes it: `max` is unlimited (`u64::MAX`, as runc), and a negative
/// value (v1 writes -1 for "unset" in a few files) is 0.
pub(super) fn uint(path: &Path, text: &str) -> Result<u64, CgroupError> {
    let text = text.trim();
    if text == "max" {
        return Ok(u64::MAX);
    }
    text.parse::<u64>().or_else(|_| match text.parse::<i64>() {
        Ok(n) if n < 0 => Ok(0),
        _ => Err(parse_error(path, format!("{text:?} is not a number"))),
    })
}

/// A single-number file, `None` if missing.
pub(super) fn read_uint(dir: &Path, file: &str) -> Result<Option<u64>, CgroupError> {
    read(dir, file)?
        .map(|(path, text)| uint(&path, &text))
        .transpose()
}

/// A single signed-number file (e.g. `cpuset.sched_relax_domain_level`, -1 by default).
pub(super) fn read_int(dir: &Path, file: &str) -> Result<Option<i64>, CgroupError> {
    read(dir, file)?
        .map(|(path, text)| {
            let text = text.trim();
            text.parse()
                .map_err(|_| parse_error(&path, format!("{text:?} is not a number")))
        })
        .transpose()
}

/// Whitespace-separated numbers (`cpuacct.usage_percpu`).
pub(super) fn uints(path: &Path, text: &str) -> Result<Vec<u64>, CgroupError> {
    text.split_whitespace().map(|n| uint(path, n)).collect()
}

/// A flat-keyed file (`key value` per line: `memory.stat`, `cpu.stat`, `memory.events`).
pub(super) fn key_values<'a>(
    path: &Path,
    text: &'a str,
) -> Result<Vec<(&'a str, u64)>, CgroupError> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(
            |line| match line.split_whitespace().collect::<Vec<_>>()[..] {
                [key, value] => Ok((key, uint(path, value)?)),
                _ => Err(parse_error(path, format!("malformed line {line:?}"))),
            },
        )
        .collect()
}

/// The value of `key` in a flat-keyed file, `None` if the file is missing (0 if the key is).
pub(super) fn read_key(dir: &Path, file: &str, key: &str) -> Result<Option<u64>, CgroupError> {
    let Some((path, text)) = read(dir, file)? else {
        return Ok(None);
    };
    let pairs = key_values(&path, &text)?;
    Ok(Some(
        pairs.iter().find(|(k, _)| *k == key).map_or(0, |(_, v)| *v),
    ))
}

/// A cpuset list (`0-3,8,10-11`) as runc reports it: every member, in order.
pub(super) fn cpu_list(path: &Path, text: &str) -> Result<Vec<u16>, CgroupError> {
    let num = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| parse_error(path, format!("{s:?} is not a cpu or node number")))
    };
    let mut out = Vec::new();
    for part in text.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (num(from)?, num(to)?);
                if from > to {
                    return Err(parse_error(path, format!("range {part:?} is reversed")));
                }
                out.extend(from..=to);
            }
            None => out.push(num(part)?),
        }
    }
    Ok(out)
}

/// The hugepage sizes a hugetlb directory has files for (`hugetlb.<size>.<suffix>`), found by
/// listing rather than from `/sys/kernel/mm/hugepages` so that fake trees work and only sizes
/// the cgroup really accounts are reported. Reservation files (`<size>.rsvd.*`) are skipped.
pub(super) fn page_sizes(dir: &Path, suffix: &str) -> Result<Vec<String>, CgroupError> {
    let err = |source| CgroupError::ReadDir {
        path: dir.to_owned(),
        source,
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(err(e)),
    };
    let mut sizes = Vec::new();
    for entry in entries {
        let name = entry.map_err(err)?.file_name();
        let size = name
            .to_str()
            .and_then(|n| n.strip_prefix("hugetlb."))
            .and_then(|n| n.strip_suffix(suffix))
            .and_then(|n| n.strip_suffix('.'));
        if let Some(size) = size.filter(|s| !s.is_empty() && !s.contains('.')) {
            sizes.push(size.to_owned());
        }
    }
    Ok(sizes)
}
