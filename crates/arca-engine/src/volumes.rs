//! Docker's volumes: named (`-v name:/dst`, `--mount type=volume`, `arca volume create`) and
//! anonymous (`-v /dst`, the image's `Volumes`), kept as Docker's local driver keeps them:
//!
//! ```text
//! <root>/volumes/<name>/_data        what the container sees, bind-mounted at its path
//! <root>/volumes/<name>/volume.json  created time, labels, driver "local"
//! ```
//!
//! A volume is made in a hidden directory and renamed into place, so it appears whole or not
//! at all, and two creators of one name agree (the second finds it: create is idempotent, as
//! Docker's). Removal renames it aside first. A volume is in use while a container's record
//! names it; `rm -v` (and `--rm`) remove a container's anonymous volumes.
//!
//! A new, empty volume is filled with what the image has at its path, as Docker does: the
//! path is resolved inside the container's rootfs with `openat2(RESOLVE_IN_ROOT)`, and the
//! tree is copied by file descriptor, never following a symlink (they are copied as links).

use std::collections::BTreeMap;
use std::ffi::CStr;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use serde::{Deserialize, Serialize};

use crate::container::now;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::names;
use crate::prune::{freeable_bytes, Pruned};
use crate::records::Settings;
use crate::spec::{Mount, MountKind};

const META: &str = "volume.json";
/// Docker's label on the volumes it makes for `-v /path` and image `VOLUME`s: how `system
/// prune --volumes` tells them from named ones once their container is gone.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";
/// Directories deeper than this are not copied into a new volume.
const MAX_DEPTH: usize = 128;

/// A volume's metadata file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Meta {
    created: i64,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    driver: String,
}

/// One volume, as `volume ls` and `inspect` show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub name: String,
    /// `<root>/volumes/<name>/_data`.
    pub mountpoint: PathBuf,
    /// Seconds since the epoch.
    pub created: i64,
    pub labels: BTreeMap<String, String>,
    pub driver: String,
}

/// Docker's rule for volume names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_volume_name(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// The volumes a container's `-v`/`--mount` and image ask for, made and resolved to binds.
#[derive(Debug, Default)]
pub struct AttachedVolumes {
    /// Named volumes used (recorded in the container's settings).
    pub named: Vec<String>,
    /// Anonymous volumes made for it (removed with `rm -v`).
    pub anonymous: Vec<String>,
    /// Volumes made just now, with where the image's content goes: `(name, destination)`.
    fresh: Vec<(String, String)>,
}

impl AttachedVolumes {
    /// Records the volumes in the container's settings.
    pub fn record(&self, settings: &mut Settings) {
        settings.volumes = self.named.clone();
        settings.anonymous_volumes = self.anonymous.clone();
    }
}

impl Engine {
    fn volumes_dir(&self) -> PathBuf {
        self.root().join("volumes")
    }

    fn volume_dir(&self, name: &str) -> PathBuf {
        self.volumes_dir().join(name)
    }

    /// Makes volume `name` (a random 64-hex-digit one when `None`); an existing one is
    /// returned as it is. The flag is whether it was made now.
    pub fn volume_create(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
    ) -> Result<(Volume, bool), EngineError> {
        let name = match name {
            Some(n) if !valid_volume_name(n) => return Err(bad_name(n)),
            Some(n) => n.to_owned(),
            None => names::new_id(),
        };
        if let Ok(v) = self.volume_get(&name) {
            return Ok((v, false));
        }
        let dir = self.volumes_dir();
        std::fs::create_dir_all(&dir).map_err(|e| EngineError::io("create", &dir, e))?;
        let tmp = dir.join(format!(".new-{}", names::new_id()));
        let made = (|| {
            let data = tmp.join("_data");
            std::fs::create_dir_all(&data).map_err(|e| EngineError::io("create", &data, e))?;
            let meta = Meta {
                created: now(),
                labels,
                driver: "local".to_owned(),
            };
            let text = serde_json::to_vec_pretty(&meta)
                .map_err(|e| EngineError::Spec(format!("volume {name}: {e}")))?;
            let path = tmp.join(META);
            std::fs::write(&path, text).map_err(|e| EngineError::io("write", &path, e))?;
            let dest = self.volume_dir(&name);
            match std::fs::rename(&tmp, &dest) {
                Ok(()) => Ok(true),
                // Made meanwhile by another arca: it is the volume.
                Err(_) if dest.join(META).exists() => Ok(false),
                Err(e) => Err(EngineError::io("rename", &dest, e)),
            }
        })();
        if !matches!(made, Ok(true)) {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        let made = made?;
        Ok((self.volume_get(&name)?, made))
    }

    /// Volume `name`.
    pub fn volume_get(&self, name: &str) -> Result<Volume, EngineError> {
        if !valid_volume_name(name) {
            return Err(no_such(name));
        }
        let dir = self.volume_dir(name);
        let path = dir.join(META);
        let text = match std::fs::read(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such(name)),
            Err(e) => return Err(EngineError::io("read", &path, e)),
        };
        let meta: Meta = serde_json::from_slice(&text)
            .map_err(|e| EngineError::Spec(format!("volume {name}: {}: {e}", path.display())))?;
        Ok(Volume {
            name: name.to_owned(),
            mountpoint: dir.join("_data"),
            created: meta.created,
            labels: meta.labels,
            driver: meta.driver,
        })
    }

    /// Every volume, by name.
    pub fn volume_list(&self) -> Result<Vec<Volume>, EngineError> {
        let dir = self.volumes_dir();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(EngineError::io("read", &dir, e)),
        };
        let mut out = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| EngineError::io("read", &dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !valid_volume_name(&name) {
                continue;
            }
            match self.volume_get(&name) {
                Ok(v) => out.push(v),
                Err(EngineError::NoSuchVolume(_)) => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// The names of the containers whose records name volume `name`.
    pub fn volume_users(&self, name: &str) -> Result<Vec<String>, EngineError> {
        Ok(self
            .records
            .list()?
            .into_iter()
            .filter(|r| {
                r.settings.volumes.iter().any(|v| v == name)
                    || r.settings.anonymous_volumes.iter().any(|v| v == name)
            })
            .map(|r| r.name)
            .collect())
    }

    /// `volume rm`: refused while a container uses it, unless `force`.
    pub fn volume_remove(&self, name: &str, force: bool) -> Result<(), EngineError> {
        self.volume_get(name)?;
        if !force {
            let users = self.volume_users(name)?;
            if !users.is_empty() {
                return Err(EngineError::VolumeInUse {
                    name: name.to_owned(),
                    containers: users.join(", "),
                });
            }
        }
        self.volume_delete(name)
    }

    /// `volume prune`: every volume no container uses (only the anonymous ones with
    /// `anonymous_only`, as `system prune --volumes`); returns their names and the bytes freed.
    pub fn volume_prune(&self, anonymous_only: bool) -> Result<Pruned, EngineError> {
        let records = self.records.list()?;
        let mut out = Pruned::default();
        for v in self.volume_list()? {
            let used = records.iter().any(|r| {
                r.settings.volumes.contains(&v.name)
                    || r.settings.anonymous_volumes.contains(&v.name)
            });
            if used || (anonymous_only && !v.labels.contains_key(ANONYMOUS_LABEL)) {
                continue;
            }
            let bytes = freeable_bytes(&v.mountpoint);
            self.volume_delete(&v.name)?;
            out.removed.push(v.name);
            out.bytes += bytes;
        }
        Ok(out)
    }

    /// Removes a container's anonymous volumes (`rm -v`, `--rm`); failures are logged.
    pub fn remove_anonymous_volumes(&self, settings: &Settings) {
        for v in &settings.anonymous_volumes {
            match self.volume_delete(v) {
                Ok(()) | Err(EngineError::NoSuchVolume(_)) => {}
                Err(e) => tracing::warn!("removing anonymous volume {v}: {e}"),
            }
        }
    }

    /// Renames the volume aside (it is gone at once), then deletes it.
    fn volume_delete(&self, name: &str) -> Result<(), EngineError> {
        if !valid_volume_name(name) {
            return Err(no_such(name));
        }
        let dir = self.volume_dir(name);
        let aside = self.volumes_dir().join(format!(".rm-{}", names::new_id()));
        match std::fs::rename(&dir, &aside) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(no_such(name)),
            Err(e) => return Err(EngineError::io("rename", &dir, e)),
        }
        std::fs::remove_dir_all(&aside).map_err(|e| EngineError::io("remove", &aside, e))
    }

    /// Turns the volume mounts of `mounts` into binds of their volumes' `_data` (making the
    /// volumes that are missing) and adds an anonymous volume for each of the image's
    /// `Volumes` no mount covers. On error, the anonymous volumes made are removed.
    pub fn attach_volumes(
        &self,
        mounts: &mut Vec<Mount>,
        image_volumes: &[String],
    ) -> Result<AttachedVolumes, EngineError> {
        let mut att = AttachedVolumes::default();
        let r = self.attach_inner(mounts, image_volumes, &mut att);
        if let Err(e) = r {
            self.discard(&att);
            return Err(e);
        }
        Ok(att)
    }

    fn attach_inner(
        &self,
        mounts: &mut Vec<Mount>,
        image_volumes: &[String],
        att: &mut AttachedVolumes,
    ) -> Result<(), EngineError> {
        let clean = |d: &str| crate::spec::clean_destination(d);
        for path in image_volumes {
            let dst = clean(path);
            if dst == "/" || mounts.iter().any(|m| clean(&m.destination) == dst) {
                continue;
            }
            mounts.push(Mount {
                kind: MountKind::Volume { name: None },
                destination: dst,
                read_only: false,
                options: Vec::new(),
            });
        }
        for m in mounts.iter_mut() {
            let MountKind::Volume { name } = &m.kind else {
                continue;
            };
            let labels = match name {
                Some(_) => BTreeMap::new(),
                None => BTreeMap::from([(ANONYMOUS_LABEL.to_owned(), String::new())]),
            };
            let (vol, made) = self.volume_create(name.as_deref(), labels)?;
            if name.is_some() {
                if !att.named.contains(&vol.name) {
                    att.named.push(vol.name.clone());
                }
            } else {
                att.anonymous.push(vol.name.clone());
            }
            if made || dir_is_empty(&vol.mountpoint) {
                att.fresh.push((vol.name.clone(), m.destination.clone()));
            }
            m.kind = MountKind::Bind {
                source: vol.mountpoint,
            };
        }
        Ok(())
    }

    /// Removes the anonymous volumes of a container that was not made.
    pub fn discard(&self, att: &AttachedVolumes) {
        for v in &att.anonymous {
            let _ = self.volume_delete(v);
        }
    }

    /// Fills each volume made (or found empty) by [`Engine::attach_volumes`] with what the
    /// image has at its destination in `rootfs` (mounted), as Docker does on first use.
    pub fn populate_volumes(
        &self,
        att: &AttachedVolumes,
        rootfs: &Path,
    ) -> Result<(), EngineError> {
        for (name, dst) in &att.fresh {
            let data = self.volume_dir(name).join("_data");
            if !dir_is_empty(&data) {
                continue;
            }
            copy_image_path(rootfs, dst, &data).map_err(|e| {
                EngineError::Spec(format!("copying the image's {dst} into volume {name}: {e}"))
            })?;
        }
        Ok(())
    }
}

fn bad_name(n: &str) -> EngineError {
    EngineError::BadVolumeName(n.to_owned())
}

fn no_such(n: &str) -> EngineError {
    EngineError::NoSuchVolume(n.to_owned())
}

fn dir_is_empty(p: &Path) -> bool {
    std::fs::read_dir(p).is_ok_and(|mut rd| rd.next().is_none())
}

/// Copies the directory `dst` of the image (resolved in `rootfs`) into `data`, ownership and
/// modes included. Nothing to copy when the image has no directory there.
fn copy_image_path(rootfs: &Path, dst: &str, data: &Path) -> std::io::Result<()> {
    let root = rustix::fs::open(
        rootfs,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    let rel = dst.trim_start_matches('/');
    let src = match rustix::fs::openat2(
        &root,
        rel,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
    ) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    let out = rustix::fs::open(
        data,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    // The volume takes the directory's owner and mode, as Docker's copy does.
    let st = rustix::fs::fstat(&src)?;
    rustix::fs::fchown(
        &out,
        Some(rustix::fs::Uid::from_raw(st.st_uid)),
        Some(rustix::fs::Gid::from_raw(st.st_gid)),
    )?;
    rustix::fs::fchmod(&out, Mode::from_raw_mode(st.st_mode & 0o7777))?;
    copy_dir(&src, &out, 0)
}

/// Copies the entries of directory `src` into directory `dst`, both by fd; names are single
/// components and nothing is opened through a symlink.
fn copy_dir(src: &OwnedFd, dst: &OwnedFd, depth: usize) -> std::io::Result<()> {
    if depth > MAX_DEPTH {
        return Err(std::io::Error::other("directories nested too deep"));
    }
    let dup = rustix::io::dup(src)?;
    let mut dir = rustix::fs::Dir::read_from(&dup)?;
    dir.rewind();
    let mut names = Vec::new();
    for entry in dir {
        let entry = entry?;
        let name = entry.file_name();
        if name == c"." || name == c".." {
            continue;
        }
        names.push(name.to_owned());
    }
    for name in names {
        copy_entry(src, dst, &name, depth)?;
    }
    Ok(())
}

fn copy_entry(src: &OwnedFd, dst: &OwnedFd, name: &CStr, depth: usize) -> std::io::Result<()> {
    let st = rustix::fs::statat(src, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let mode = Mode::from_raw_mode(st.st_mode & 0o7777);
    let uid = Some(rustix::fs::Uid::from_raw(st.st_uid));
    let gid = Some(rustix::fs::Gid::from_raw(st.st_gid));
    match FileType::from_raw_mode(st.st_mode) {
        FileType::Directory => {
            rustix::fs::mkdirat(dst, name, Mode::from_raw_mode(0o700))?;
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let s = rustix::fs::openat(src, name, flags, Mode::empty())?;
            let d = rustix::fs::openat(dst, name, flags, Mode::empty())?;
            copy_dir(&s, &d, depth + 1)?;
            rustix::fs::fchown(&d, uid, gid)?;
            rustix::fs::fchmod(&d, mode)?;
        }
        FileType::RegularFile => {
            let s = rustix::fs::openat(
                src,
                name,
                OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC,
                Mode::empty(),
            )?;
            let d = rustix::fs::openat(
                dst,
                name,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )?;
            let (mut sf, mut df) = (std::fs::File::from(s), std::fs::File::from(d));
            std::io::copy(&mut sf, &mut df)?;
            rustix::fs::fchown(&df, uid, gid)?;
            rustix::fs::fchmod(&df, mode)?;
        }
        FileType::Symlink => {
            let target = rustix::fs::readlinkat(src, name, Vec::new())?;
            rustix::fs::symlinkat(target.as_c_str(), dst, name)?;
            rustix::fs::chownat(dst, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)?;
        }
        t @ (FileType::Fifo | FileType::CharacterDevice | FileType::BlockDevice) => {
            rustix::fs::mknodat(dst, name, t, mode, st.st_rdev)?;
            rustix::fs::chownat(dst, name, uid, gid, AtFlags::SYMLINK_NOFOLLOW)?;
            rustix::fs::chmodat(dst, name, mode, AtFlags::empty())?;
        }
        // Sockets and the unknown are not content.
        _ => {}
    }
    Ok(())
}
