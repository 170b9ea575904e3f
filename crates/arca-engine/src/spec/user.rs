//! `-u name|uid[:group|gid]` (or the image's `User`) resolved the way runc's `GetExecUser`
//! resolves it for Docker, against the container's own `/etc/passwd` and `/etc/group`.
//!
//! The rootfs is image content, i.e. untrusted: `/etc/passwd` may be a symlink to `/etc/shadow`
//! or `../../..` of the host. Both files are opened with `openat2(RESOLVE_IN_ROOT)` from a
//! descriptor of the rootfs, so every symlink and `..` resolves as it would inside the
//! container, and only regular files are read, up to [`MAX_FILE`].

use std::io::Read;
use std::path::Path;

use oci_spec::runtime::User;
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};

use super::SpecError;

/// Generous for a passwd or group file, and a bound on what a hostile image makes us read.
const MAX_FILE: u64 = 4 << 20;

/// The user a container's process runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedUser {
    pub uid: u32,
    pub gid: u32,
    /// The primary gid first (as Docker lists it), then the groups that name the user as a
    /// member when no group was given explicitly.
    pub additional_gids: Vec<u32>,
}

impl ResolvedUser {
    pub fn into_oci(self) -> User {
        let mut u = User::default();
        u.set_uid(self.uid);
        u.set_gid(self.gid);
        u.set_additional_gids(Some(self.additional_gids));
        u
    }
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
}

struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// Resolves `spec` (`""` is root) in the rootfs at `rootfs`. A user name missing from passwd
/// is an error; a numeric uid missing is not (the process runs with gid 0, as runc does).
/// An explicit group replaces the primary group and disables supplementary groups; a group
/// name missing from the group file is an error, a numeric gid is taken as is.
pub fn resolve_user(rootfs: &Path, spec: &str) -> Result<ResolvedUser, SpecError> {
    let (user_arg, group_arg) = match spec.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    let user_arg = if user_arg.is_empty() { "0" } else { user_arg };
    let numeric_uid = parse_id("--user", spec, user_arg)?;
    let numeric_gid = match group_arg {
        Some(g) if !g.is_empty() => parse_id("--user", spec, g)?,
        _ => None,
    };
    let group_arg = group_arg.filter(|g| !g.is_empty());

    // passwd is needed unless both parts are numeric and the group is explicit; runc reads it
    // anyway for the name behind a uid (and so its supplementary groups).
    let passwd = parse_passwd(&read_in_root(rootfs, "etc/passwd", spec)?);
    let matched = passwd
        .iter()
        .find(|e| e.name == user_arg || Some(e.uid) == numeric_uid);
    let (uid, mut gid, name) = match (matched, numeric_uid) {
        (Some(e), _) => (e.uid, e.gid, Some(e.name.clone())),
        (None, Some(uid)) => (uid, 0, None),
        (None, None) => {
            return Err(SpecError::NoSuchUser {
                user: user_arg.to_owned(),
            })
        }
    };

    let mut supplementary = Vec::new();
    if group_arg.is_some() || name.is_some() {
        let groups = parse_group(&read_in_root(rootfs, "etc/group", spec)?);
        if let Some(g) = group_arg {
            gid = match groups
                .iter()
                .find(|e| e.name == g || Some(e.gid) == numeric_gid)
            {
                Some(e) => e.gid,
                None => numeric_gid.ok_or_else(|| SpecError::NoSuchGroup {
                    group: g.to_owned(),
                })?,
            };
        } else if let Some(name) = &name {
            supplementary = groups
                .iter()
                .filter(|e| e.members.iter().any(|m| m == name))
                .map(|e| e.gid)
                .collect();
        }
    }
    let mut additional_gids = vec![gid];
    for g in supplementary {
        if !additional_gids.contains(&g) {
            additional_gids.push(g);
        }
    }
    Ok(ResolvedUser {
        uid,
        gid,
        additional_gids,
    })
}

/// `Some(id)` for a decimal id, `None` for a name. Ids are 32-bit and (uid_t)-1 is reserved.
fn parse_id(flag: &'static str, spec: &str, s: &str) -> Result<Option<u32>, SpecError> {
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match s.parse::<u32>() {
        Ok(id) if id != u32::MAX => Ok(Some(id)),
        _ => Err(SpecError::invalid(
            flag,
            spec,
            format!("id {s} is out of range"),
        )),
    }
}

/// Reads `path` (relative to the rootfs) confined to the rootfs. A missing file (or a dangling
/// link) reads as empty, as runc treats it; anything but a regular file is an error.
fn read_in_root(rootfs: &Path, path: &str, spec: &str) -> Result<String, SpecError> {
    let io_err = |source: std::io::Error| SpecError::Io {
        flag: "--user",
        value: spec.to_owned(),
        path: Path::new("/").join(path),
        source,
    };
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| SpecError::Io {
        flag: "--user",
        value: spec.to_owned(),
        path: rootfs.to_path_buf(),
        source: e.into(),
    })?;
    // NONBLOCK: opening a FIFO planted as etc/passwd must not hang; it is refused below.
    let fd = match rustix::fs::openat2(
        &root,
        path,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT) => return Ok(String::new()),
        Err(e) => return Err(io_err(e.into())),
    };
    let st = rustix::fs::fstat(&fd).map_err(|e| io_err(e.into()))?;
    if FileType::from_raw_mode(st.st_mode) != FileType::RegularFile {
        return Err(io_err(std::io::Error::other("not a regular file")));
    }
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(MAX_FILE + 1)
        .read_to_string(&mut text)
        .map_err(io_err)?;
    if text.len() as u64 > MAX_FILE {
        return Err(io_err(std::io::Error::other(format!(
            "larger than {MAX_FILE} bytes"
        ))));
    }
    Ok(text)
}

/// Lines that are not `name:x:uid:gid:...` with numeric ids are skipped.
fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().split(':').collect();
            Some(PasswdEntry {
                name: (*f.first()?).to_owned(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
            })
        })
        .collect()
}

/// `name:x:gid:member,member`; lines without a numeric gid are skipped.
fn parse_group(text: &str) -> Vec<GroupEntry> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().split(':').collect();
            Some(GroupEntry {
                name: (*f.first()?).to_owned(),
                gid: f.get(2)?.parse().ok()?,
                members: f
                    .get(3)
                    .map(|m| {
                        m.split(',')
                            .map(str::trim)
                            .filter(|m| !m.is_empty())
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            })
        })
        .collect()
}
