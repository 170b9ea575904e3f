//! The spec's mount options (`fstab`-style strings) turned into what the mount API needs:
//! mount attributes, superblock options, propagation and recursive attributes.

use rustix::mount::MountAttrFlags as A;

/// A mount's options, sorted by which syscall consumes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountOptions {
    pub bind: bool,
    pub recursive: bool,
    /// Attributes set on this mount only (`ro`, `nosuid`...).
    pub attr_set: A,
    pub attr_clr: A,
    /// Attributes set on the whole tree (`rro`, `rnosuid`...).
    pub rec_set: A,
    pub rec_clr: A,
    /// Propagation (MS_SHARED etc.) with whether it is recursive.
    pub propagation: Vec<(u64, bool)>,
    /// Filesystem options (`mode=755`, `size=64k`, `newinstance`) and superblock flags.
    pub data: Vec<String>,
    /// `idmap` or `ridmap`: the mount gets an id mapping (see `init::idmap`).
    pub idmap: bool,
    /// `ridmap`: the id mapping applies to every mount of the tree, not only its top.
    pub idmap_recursive: bool,
    /// Options arca knows but does not implement yet (reported, never silently dropped).
    pub unsupported: Vec<String>,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            bind: false,
            recursive: false,
            attr_set: A::empty(),
            attr_clr: A::empty(),
            rec_set: A::empty(),
            rec_clr: A::empty(),
            propagation: Vec::new(),
            data: Vec::new(),
            idmap: false,
            idmap_recursive: false,
            unsupported: Vec::new(),
        }
    }
}

const MS_SHARED: u64 = 1 << 20;
const MS_SLAVE: u64 = 1 << 19;
const MS_PRIVATE: u64 = 1 << 18;
const MS_UNBINDABLE: u64 = 1 << 17;

fn attr(name: &str) -> Option<(A, bool)> {
    Some(match name {
        "ro" => (A::MOUNT_ATTR_RDONLY, true),
        "rw" => (A::MOUNT_ATTR_RDONLY, false),
        "nosuid" => (A::MOUNT_ATTR_NOSUID, true),
        "suid" => (A::MOUNT_ATTR_NOSUID, false),
        "nodev" => (A::MOUNT_ATTR_NODEV, true),
        "dev" => (A::MOUNT_ATTR_NODEV, false),
        "noexec" => (A::MOUNT_ATTR_NOEXEC, true),
        "exec" => (A::MOUNT_ATTR_NOEXEC, false),
        "noatime" => (A::MOUNT_ATTR_NOATIME, true),
        "relatime" => (A::MOUNT_ATTR_RELATIME, true),
        "strictatime" => (A::MOUNT_ATTR_STRICTATIME, true),
        "atime" | "norelatime" | "nostrictatime" => (A::empty(), true),
        "nodiratime" => (A::MOUNT_ATTR_NODIRATIME, true),
        "diratime" => (A::MOUNT_ATTR_NODIRATIME, false),
        "nosymfollow" => (A::MOUNT_ATTR_NOSYMFOLLOW, true),
        "symfollow" => (A::MOUNT_ATTR_NOSYMFOLLOW, false),
        _ => return None,
    })
}

impl MountOptions {
    pub fn parse<S: AsRef<str>>(options: &[S]) -> MountOptions {
        let mut o = MountOptions::default();
        for opt in options {
            let opt = opt.as_ref();
            match opt {
                "bind" => o.bind = true,
                "rbind" => {
                    o.bind = true;
                    o.recursive = true;
                }
                "defaults" | "async" | "loud" | "nomand" | "noiversion" | "nolazytime"
                | "remount" => {}
                "shared" | "rshared" => o.propagation.push((MS_SHARED, opt.starts_with('r'))),
                "slave" | "rslave" => o.propagation.push((MS_SLAVE, opt.starts_with('r'))),
                "private" | "rprivate" => o.propagation.push((MS_PRIVATE, opt.starts_with('r'))),
                "unbindable" | "runbindable" => {
                    o.propagation.push((MS_UNBINDABLE, opt.starts_with('r')))
                }
                "sync" | "dirsync" | "lazytime" | "mand" | "iversion" | "silent" => {
                    o.data.push(opt.to_owned())
                }
                "idmap" => o.idmap = true,
                "ridmap" => {
                    o.idmap = true;
                    o.idmap_recursive = true;
                }
                "tmpcopyup" => o.unsupported.push(opt.to_owned()),
                _ => {
                    if let Some((a, set)) = attr(opt) {
                        set_attr(&mut o.attr_set, &mut o.attr_clr, a, set, opt);
                    } else if let Some((a, set)) = opt.strip_prefix('r').and_then(attr) {
                        set_attr(&mut o.rec_set, &mut o.rec_clr, a, set, opt);
                    } else {
                        o.data.push(opt.to_owned());
                    }
                }
            }
        }
        o
    }
}

/// The filesystem options of a new `fstype` instance with SELinux's `linux.mountLabel` added as
/// `context=<label>` (runc's label.FormatMountLabel), so its files carry the container's label.
/// Not for proc, sysfs or cgroup (runc leaves them alone: their labels come from the policy),
/// nor mqueue: its superblock is the ipc namespace's, created with it, and SELinux refuses a
/// second mount with different settings; its root is relabelled instead (see `init::mounts`).
/// A `context` the spec's options already give wins: the kernel refuses two.
pub fn with_mount_label(fstype: &str, data: &[String], label: Option<&str>) -> Vec<String> {
    let mut data = data.to_vec();
    let Some(label) = label else {
        return data;
    };
    let exempt = matches!(fstype, "proc" | "sysfs" | "mqueue" | "cgroup" | "cgroup2");
    if !exempt && !data.iter().any(|o| o.starts_with("context=")) {
        data.push(format!("context={label}"));
    }
    data
}

fn set_attr(set: &mut A, clr: &mut A, a: A, on: bool, name: &str) {
    // The atime modes are one field: choosing one clears the others.
    let atime = A::MOUNT_ATTR_NOATIME | A::MOUNT_ATTR_STRICTATIME | A::MOUNT_ATTR_RELATIME;
    if a.is_empty() || atime.contains(a) || name.ends_with("atime") && !name.contains("dir") {
        set.remove(atime);
        *clr |= A::MOUNT_ATTR__ATIME;
        if on {
            set.insert(a);
        }
        return;
    }
    if on {
        set.insert(a);
        clr.remove(a);
    } else {
        clr.insert(a);
        set.remove(a);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_options() {
        let o = MountOptions::parse(&[
            "rbind", "ro", "nosuid", "rnoexec", "rslave", "mode=755", "size=1m", "sync",
        ]);
        assert!(o.bind && o.recursive);
        assert_eq!(o.attr_set, A::MOUNT_ATTR_RDONLY | A::MOUNT_ATTR_NOSUID);
        assert_eq!(o.rec_set, A::MOUNT_ATTR_NOEXEC);
        assert_eq!(o.propagation, vec![(MS_SLAVE, true)]);
        assert_eq!(o.data, vec!["mode=755", "size=1m", "sync"]);
        let o = MountOptions::parse(&["rro", "rw"]);
        assert_eq!(o.rec_set, A::MOUNT_ATTR_RDONLY);
        assert_eq!(o.attr_clr, A::MOUNT_ATTR_RDONLY);
        let o = MountOptions::parse(&["tmpcopyup"]);
        assert_eq!(o.unsupported, vec!["tmpcopyup"]);
    }

    #[test]
    fn mount_label_becomes_context() {
        let l = Some("system_u:object_r:svirt_image_t:s0:c1,c2");
        let data = vec!["mode=755".to_owned()];
        assert_eq!(
            with_mount_label("tmpfs", &data, l),
            vec![
                "mode=755",
                "context=system_u:object_r:svirt_image_t:s0:c1,c2"
            ]
        );
        assert_eq!(with_mount_label("devpts", &[], l).len(), 1);
        for fs in ["proc", "sysfs", "mqueue", "cgroup", "cgroup2"] {
            assert!(with_mount_label(fs, &[], l).is_empty(), "{fs}");
        }
        assert_eq!(with_mount_label("tmpfs", &data, None), data);
        let own = vec!["context=system_u:object_r:tmp_t:s0".to_owned()];
        assert_eq!(with_mount_label("tmpfs", &own, l), own);
    }

    #[test]
    fn idmap_options() {
        let o = MountOptions::parse(&["bind", "idmap"]);
        assert!(o.idmap && !o.idmap_recursive);
        assert!(o.data.is_empty() && o.unsupported.is_empty());
        let o = MountOptions::parse(&["rbind", "ridmap"]);
        assert!(o.idmap && o.idmap_recursive && o.recursive);
        let o = MountOptions::parse(&["rbind", "ro"]);
        assert!(!o.idmap);
    }
}
