//! What a process inside the container sees: every test runs busybox
//! commands in a foreground `run` and checks what they printed.

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;

use common::*;
use serde_json::{json, Value};

/// Runs `script` with `sh -c` in a fresh container whose config `edit`
/// changed; returns its stdout (asserting exit 0).
fn run_script(script: &str, edit: impl FnOnce(&mut Value, &Bundle)) -> String {
    let bundle = Bundle::busybox(&["sh", "-c", script]);
    let rt = Runtime::new();
    let mut config = bundle.config();
    edit(&mut config, &bundle);
    bundle.edit(|c| *c = config);
    let out = rt.run_stdout(&bundle);
    drop(rt);
    bundle.assert_gone();
    out
}

/// Like [`run_script`] with the default config.
fn run_plain(script: &str) -> String {
    run_script(script, |_, _| {})
}

/// The mountinfo line whose mount point is `mnt` (the last one mounted).
fn mount_line<'a>(mountinfo: &'a str, mnt: &str) -> &'a str {
    mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some(mnt))
        .unwrap_or_else(|| panic!("no mount at {mnt} in:\n{mountinfo}"))
}

/// (per-mount options, fstype, super options) of a mountinfo line.
fn mount_fields(line: &str) -> (Vec<&str>, &str, Vec<&str>) {
    let (pre, post) = line.split_once(" - ").unwrap();
    let opts = pre.split(' ').nth(5).unwrap().split(',').collect();
    let mut post = post.split(' ');
    let fstype = post.next().unwrap();
    let sopts = post.nth(1).unwrap_or("").split(',').collect();
    (opts, fstype, sopts)
}

/// Hex capability mask of `names` (`CAP_KILL` = bit 5, ...).
fn cap_mask(names: &[&str]) -> u64 {
    names
        .iter()
        .map(|n| {
            let bit = match *n {
                "CAP_CHOWN" => 0,
                "CAP_DAC_OVERRIDE" => 1,
                "CAP_FOWNER" => 3,
                "CAP_KILL" => 5,
                "CAP_SETGID" => 6,
                "CAP_SETUID" => 7,
                "CAP_NET_BIND_SERVICE" => 10,
                "CAP_NET_RAW" => 13,
                "CAP_SYS_ADMIN" => 21,
                "CAP_AUDIT_WRITE" => 29,
                other => panic!("add {other} to cap_mask"),
            };
            1u64 << bit
        })
        .fold(0, |a, b| a | b)
}

#[test]
fn stdout_is_captured() {
    assert_eq!(run_plain("echo hello; echo world"), "hello\nworld\n");
}

#[test]
fn hostname_and_domainname() {
    let out = run_script("hostname; cat /proc/sys/kernel/domainname", |c, _| {
        c["hostname"] = json!("arca-host");
        c["domainname"] = json!("arca.example");
    });
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "arca-host");
    // arca-specific: runc 1.1 ignores `domainname` (prints "(none)").
    if !is_runc() {
        assert_eq!(lines[1], "arca.example");
    }
}

/// A new network namespace comes with `lo` up (runc and crun do the same): IFF_UP (0x1) is in
/// its flags as the container's sysfs shows them.
#[test]
fn a_new_network_namespace_has_loopback_up() {
    let out = run_plain("cat /sys/class/net/lo/flags; ls /sys/class/net");
    let lines: Vec<&str> = out.lines().collect();
    let flags = u32::from_str_radix(lines[0].trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 0x1, 0x1, "lo is down: flags {}", lines[0]);
    assert_eq!(lines[1..], ["lo"], "{out}");
}

#[test]
fn process_is_pid_1() {
    assert_eq!(run_plain("echo $$"), "1\n");
    // With a direct exec (no shell), the program itself is pid 1.
    let bundle = Bundle::busybox(&["cat", "/proc/self/stat"]);
    let rt = Runtime::new();
    let out = rt.run_stdout(&bundle);
    assert!(out.starts_with("1 (cat) "), "{out}");
}

#[test]
fn default_mounts() {
    let out = run_plain("cat /proc/self/mountinfo");
    let (_, fs_proc, _) = mount_fields(mount_line(&out, "/proc"));
    assert_eq!(fs_proc, "proc");
    let (opts, fs_dev, sopts) = mount_fields(mount_line(&out, "/dev"));
    assert_eq!(fs_dev, "tmpfs");
    assert!(opts.contains(&"nosuid"), "{opts:?}");
    assert!(sopts.contains(&"mode=755"), "{sopts:?}");
    assert!(sopts.contains(&"size=65536k"), "{sopts:?}");
    let (opts, fs_pts, sopts) = mount_fields(mount_line(&out, "/dev/pts"));
    assert_eq!(fs_pts, "devpts");
    assert!(opts.contains(&"noexec"), "{opts:?}");
    assert!(sopts.contains(&"ptmxmode=666"), "{sopts:?}");
    assert!(sopts.contains(&"gid=5"), "{sopts:?}");
    let (opts, fs_shm, _) = mount_fields(mount_line(&out, "/dev/shm"));
    assert_eq!(fs_shm, "tmpfs");
    assert!(opts.contains(&"nodev"), "{opts:?}");
    let (_, fs_mq, _) = mount_fields(mount_line(&out, "/dev/mqueue"));
    assert_eq!(fs_mq, "mqueue");
    let (opts, fs_sys, _) = mount_fields(mount_line(&out, "/sys"));
    assert_eq!(fs_sys, "sysfs");
    assert!(opts.contains(&"ro"), "sysfs is read-only: {opts:?}");
    // The root: read-only (root.readonly is true by default).
    let (opts, _, _) = mount_fields(mount_line(&out, "/"));
    assert!(opts.contains(&"ro"), "root is read-only: {opts:?}");
}

#[test]
fn bind_mount_with_flags() {
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("hello.txt"), "from the host\n").unwrap();
    let s = src.path().to_str().unwrap().to_string();
    let out = run_script(
        "cat /data/hello.txt; grep ' /data ' /proc/self/mountinfo; \
         touch /data/new 2>&1 || echo touch-failed",
        |c, b| {
            fs::create_dir_all(b.rootfs().join("data")).unwrap();
            add_mount(
                c,
                json!({"destination": "/data", "type": "bind", "source": s,
                       "options": ["rbind", "ro", "nosuid", "nodev", "noexec"]}),
            );
        },
    );
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("from the host"));
    let (opts, _, _) = mount_fields(lines.next().expect("mountinfo line"));
    for o in ["ro", "nosuid", "nodev", "noexec"] {
        assert!(opts.contains(&o), "{o} in {opts:?}");
    }
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains("touch-failed"), "{out}");
    assert!(!src.path().join("new").exists());
}

#[test]
fn bind_mount_destination_created() {
    // The destination does not exist in the rootfs: the runtime creates it
    // (also under a read-only root, which is made read-only last).
    let src = tempfile::tempdir().unwrap();
    fs::write(src.path().join("f"), "x").unwrap();
    let s = src.path().to_str().unwrap().to_string();
    let out = run_script("cat /new/dir/f", |c, _| {
        add_mount(
            c,
            json!({"destination": "/new/dir", "type": "bind", "source": s,
                   "options": ["bind"]}),
        );
    });
    assert_eq!(out, "x");
}

#[test]
fn bind_mount_file() {
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("resolv.conf");
    fs::write(&file, "nameserver 192.0.2.1\n").unwrap();
    let s = file.to_str().unwrap().to_string();
    let out = run_script("cat /etc/resolv.conf", |c, _| {
        add_mount(
            c,
            json!({"destination": "/etc/resolv.conf", "type": "bind", "source": s,
                   "options": ["bind", "ro"]}),
        );
    });
    assert_eq!(out, "nameserver 192.0.2.1\n");
}

#[test]
fn rro_makes_submounts_read_only() {
    let src = tempfile::tempdir().unwrap();
    let _sub = HostMount::tmpfs(&src.path().join("sub"));
    let s = src.path().to_str().unwrap().to_string();
    let out = run_script(
        "touch /data/sub/x 2>&1 || echo sub-ro; touch /data/y 2>&1 || echo top-ro",
        |c, _| {
            add_mount(
                c,
                json!({"destination": "/data", "type": "bind", "source": s,
                       "options": ["rbind", "rro"]}),
            );
        },
    );
    assert!(out.contains("sub-ro"), "submount is read-only: {out}");
    assert!(out.contains("top-ro"), "mount is read-only: {out}");
    assert!(out.contains("Read-only file system"), "{out}");
}

#[test]
fn tmpfs_with_size() {
    let out = run_script(
        "grep ' /scratch ' /proc/self/mountinfo; echo hi > /scratch/f && cat /scratch/f",
        |c, _| {
            add_mount(
                c,
                json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                       "options": ["size=1m", "mode=1755", "nosuid"]}),
            );
        },
    );
    let mut lines = out.lines();
    let (opts, fstype, sopts) = mount_fields(lines.next().unwrap());
    assert_eq!(fstype, "tmpfs");
    assert!(opts.contains(&"nosuid"), "{opts:?}");
    assert!(sopts.contains(&"size=1024k"), "{sopts:?}");
    assert!(sopts.contains(&"mode=1755"), "{sopts:?}");
    assert_eq!(lines.next(), Some("hi"));
}

#[test]
fn readonly_root() {
    let out = run_plain("touch /x 2>&1; echo rc=$?");
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.ends_with("rc=1\n"), "{out}");

    let out = run_script("touch /x && echo wrote", |c, _| {
        c["root"]["readonly"] = json!(false)
    });
    assert_eq!(out, "wrote\n");
}

#[test]
fn masked_paths() {
    let out = run_script(
        "wc -c < /secret-file; stat -c '%t:%T' /secret-file; ls -A /masked | wc -l; \
         ls -A /visible | wc -l; \
         for f in /proc/kcore /proc/keys /proc/timer_list; do \
           [ -e $f ] && echo $f $(wc -c < $f) $(stat -c '%t:%T' $f); done",
        |c, b| {
            for d in ["masked", "visible"] {
                fs::create_dir_all(b.rootfs().join(d)).unwrap();
                fs::write(b.rootfs().join(d).join("secret"), "s").unwrap();
            }
            fs::write(b.rootfs().join("secret-file"), "secret").unwrap();
            let masked = c["linux"]["maskedPaths"].as_array_mut().unwrap();
            masked.push(json!("/masked"));
            masked.push(json!("/secret-file"));
        },
    );
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines[0], "0", "a masked file reads empty: {out}");
    assert_eq!(lines[1], "1:3", "a masked file is /dev/null (1:3): {out}");
    assert_eq!(lines[2], "0", "a masked dir is empty: {out}");
    assert_eq!(lines[3], "1", "an unmasked dir is not: {out}");
    // The default masked /proc files that this kernel has (not all have
    // /proc/kcore) are /dev/null too.
    for f in ["/proc/kcore", "/proc/keys", "/proc/timer_list"] {
        if std::path::Path::new(f).exists() {
            let want = format!("{f} 0 1:3");
            assert!(lines.contains(&want.as_str()), "{want} in:\n{out}");
        }
    }
}

#[test]
fn readonly_paths() {
    let out = run_plain(
        "{ echo 1 > /proc/sys/net/ipv4/ip_forward; } 2>&1 || echo write-failed; \
         grep ' /proc/sys ' /proc/self/mountinfo",
    );
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(out.contains("write-failed"), "{out}");
    let line = out.lines().last().unwrap();
    let (opts, _, _) = mount_fields(line);
    assert!(opts.contains(&"ro"), "{opts:?}");
}

#[test]
fn dev_contents() {
    let out = run_plain(
        "for d in null zero full random urandom tty; do stat -c '%n %F %t:%T %a' /dev/$d; done; \
         for l in fd stdin stdout stderr ptmx; do echo /dev/$l $(readlink /dev/$l); done; \
         head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok",
    );
    let want_devs = [
        "/dev/null character special file 1:3 666",
        "/dev/zero character special file 1:5 666",
        "/dev/full character special file 1:7 666",
        "/dev/random character special file 1:8 666",
        "/dev/urandom character special file 1:9 666",
        "/dev/tty character special file 5:0 666",
    ];
    for want in want_devs {
        assert!(out.lines().any(|l| l == want), "{want} in:\n{out}");
    }
    for want in [
        "/dev/fd /proc/self/fd",
        "/dev/stdin /proc/self/fd/0",
        "/dev/stdout /proc/self/fd/1",
        "/dev/stderr /proc/self/fd/2",
        "/dev/ptmx pts/ptmx",
    ] {
        assert!(out.lines().any(|l| l == want), "{want} in:\n{out}");
    }
    assert!(out.contains("null-ok"), "{out}");
}

#[test]
fn linux_devices_entry() {
    let out = run_script("stat -c '%F %t:%T %a %u:%g' /dev/arca-test0", |c, _| {
        c["linux"]["devices"] = json!([{
            "path": "/dev/arca-test0", "type": "c", "major": 1, "minor": 3,
            "fileMode": 0o640, "uid": 1000, "gid": 1001
        }]);
    });
    assert_eq!(out, "character special file 1:3 640 1000:1001\n");
}

#[test]
fn user_uid_gid_additional_gids() {
    let out = run_script("id -u; id -g; grep Groups /proc/self/status", |c, _| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20]});
    });
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1001");
    let groups: Vec<&str> = lines[2]
        .trim_start_matches("Groups:")
        .split_whitespace()
        .collect();
    assert_eq!(groups, ["10", "20"], "{out}");
}

#[test]
fn home_from_passwd() {
    // runc sets HOME from the container's /etc/passwd when env lacks it.
    let out = run_script("echo $HOME", |_, _| {});
    assert_eq!(out, "/root\n");
}

#[test]
fn umask() {
    let out = run_script("umask; touch /tmp/f; stat -c %a /tmp/f", |c, _| {
        c["root"]["readonly"] = json!(false);
        c["process"]["user"]["umask"] = json!(0o077);
    });
    assert_eq!(out, "0077\n600\n");
}

#[test]
fn env_and_cwd() {
    let out = run_script("echo $FOO; echo \"$SPACED\"; pwd", |c, _| {
        let env = c["process"]["env"].as_array_mut().unwrap();
        env.push(json!("FOO=bar"));
        env.push(json!("SPACED=a b=c"));
        c["process"]["cwd"] = json!("/tmp");
    });
    assert_eq!(out, "bar\na b=c\n/tmp\n");
}

#[test]
fn rlimits() {
    let out = run_script(
        "ulimit -n; ulimit -Hn; grep 'Max open files' /proc/self/limits; \
         grep 'Max processes' /proc/self/limits",
        |c, _| {
            c["process"]["rlimits"] = json!([
                {"type": "RLIMIT_NOFILE", "soft": 123, "hard": 456},
                {"type": "RLIMIT_NPROC", "soft": 1000, "hard": 2000}
            ]);
        },
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "123");
    assert_eq!(lines[1], "456");
    let f: Vec<&str> = lines[2].split_whitespace().collect();
    assert_eq!(f[3..5], ["123", "456"], "{out}");
    let f: Vec<&str> = lines[3].split_whitespace().collect();
    assert_eq!(f[2..4], ["1000", "2000"], "{out}");
}

#[test]
fn no_new_privileges() {
    let out = run_plain("grep NoNewPrivs /proc/self/status");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["NoNewPrivs:", "1"]
    );
    let out = run_script("grep NoNewPrivs /proc/self/status", |c, _| {
        c["process"]["noNewPrivileges"] = json!(false)
    });
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["NoNewPrivs:", "0"]
    );
}

#[test]
fn default_capabilities() {
    let status = run_plain("cat /proc/self/status");
    let default = cap_mask(&["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    for key in ["CapBnd", "CapEff", "CapPrm"] {
        let v = u64::from_str_radix(status_field(&status, key), 16).unwrap();
        assert_eq!(v, default, "{key}: {v:#x}");
    }
}

#[test]
fn capability_sets() {
    let status = run_script("cat /proc/self/status", |c, _| {
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"],
            "permitted": ["CAP_CHOWN", "CAP_KILL"],
            "effective": ["CAP_KILL"],
            "inheritable": ["CAP_CHOWN"],
            "ambient": []
        });
    });
    let get = |k| u64::from_str_radix(status_field(&status, k), 16).unwrap();
    assert_eq!(
        get("CapBnd"),
        cap_mask(&["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"])
    );
    assert_eq!(get("CapPrm"), cap_mask(&["CAP_CHOWN", "CAP_KILL"]));
    // execve as uid 0 raises the effective set to the permitted one
    // (noNewPrivileges keeps permitted from growing to the bounding set).
    assert_eq!(get("CapEff"), cap_mask(&["CAP_CHOWN", "CAP_KILL"]));
    assert_eq!(get("CapInh"), cap_mask(&["CAP_CHOWN"]));
    assert_eq!(get("CapAmb"), 0);
}

#[test]
fn capabilities_dropped_for_non_root_user() {
    let status = run_script("cat /proc/self/status", |c, _| {
        c["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        c["process"]["capabilities"] = json!({
            "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_NET_BIND_SERVICE"]
        });
    });
    let get = |k| u64::from_str_radix(status_field(&status, k), 16).unwrap();
    // execve as a non-root uid keeps only the ambient set in permitted and
    // effective; bounding and inheritable are the spec's.
    let both = cap_mask(&["CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    assert_eq!(get("CapBnd"), both);
    assert_eq!(get("CapInh"), both);
    assert_eq!(get("CapPrm"), cap_mask(&["CAP_NET_BIND_SERVICE"]));
    assert_eq!(get("CapEff"), cap_mask(&["CAP_NET_BIND_SERVICE"]));
    assert_eq!(get("CapAmb"), cap_mask(&["CAP_NET_BIND_SERVICE"]));
    assert_eq!(
        status_field(&status, "Uid").split_whitespace().next(),
        Some("1000")
    );
}

#[test]
fn oom_score_adj() {
    let out = run_script("cat /proc/self/oom_score_adj", |c, _| {
        c["process"]["oomScoreAdj"] = json!(123);
    });
    assert_eq!(out, "123\n");
}

#[test]
fn sysctl_in_new_net_ns() {
    let out = run_script(
        "cat /proc/sys/net/ipv4/ip_forward; cat /proc/sys/net/ipv4/ping_group_range",
        |c, _| {
            c["linux"]["sysctl"] = json!({
                "net.ipv4.ip_forward": "1",
                "net.ipv4.ping_group_range": "0 2147483647"
            });
        },
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["0", "2147483647"]
    );
}

#[test]
fn new_namespaces_differ_from_host() {
    let out = run_plain("for n in pid net ipc uts mnt; do readlink /proc/self/ns/$n; done");
    let me = i32::try_from(std::process::id()).unwrap();
    for (line, ns) in out.lines().zip(["pid", "net", "ipc", "uts", "mnt"]) {
        assert_ne!(line, ns_link(me, ns), "{ns} namespace is new");
    }
    // The cgroup and user namespaces are not in the spec: shared with host.
    let out = run_plain("readlink /proc/self/ns/user");
    assert_eq!(out.trim(), ns_link(me, "user"));
}

#[test]
fn join_netns_by_path() {
    let ns = NetNs::new();
    let ino = fs::metadata(ns.path()).unwrap().ino();
    let path = ns.path().to_str().unwrap().to_string();
    let out = run_script("readlink /proc/self/ns/net", |c, _| {
        for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
            if n["type"] == "network" {
                n["path"] = json!(path);
            }
        }
    });
    assert_eq!(out.trim(), format!("net:[{ino}]"));
}

#[test]
fn user_namespace_mappings() {
    let out = run_script(
        "cat /proc/self/uid_map; cat /proc/self/gid_map; id -u",
        |c, b| {
            c["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            c["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
            c["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 200000, "size": 65536}]);
            // The cgroup mount needs a cgroup namespace under a user ns in some
            // runtimes; keep the test about the mappings.
            c["mounts"]
                .as_array_mut()
                .unwrap()
                .retain(|m| m["type"] != "cgroup");
            let _ = b;
        },
    );
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["0", "100000", "65536"], "{out}");
    assert_eq!(lines[1], ["0", "200000", "65536"], "{out}");
    assert_eq!(lines[2], ["0"], "{out}");
}

/// The optional fields (propagation tags) of the host's `/` mount.
fn host_root_propagation() -> String {
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let line = mount_line(&info, "/");
    let (pre, _) = line.split_once(" - ").unwrap();
    pre.split(' ').skip(6).collect::<Vec<_>>().join(" ")
}

#[test]
fn rootfs_propagation_accepted_and_host_untouched() {
    // What `rootfsPropagation` shows inside depends on the host's mounts
    // (runc makes the rootfs' parent private for pivot_root), so this checks
    // that each value is accepted, the container's / is its rootfs, and the
    // host's propagation is unchanged.
    let before = host_root_propagation();
    for prop in [
        "private", "rprivate", "slave", "rslave", "shared", "rshared",
    ] {
        let out = run_script(
            "awk '$5 == \"/\" {print $4}' /proc/self/mountinfo",
            |c, _| {
                c["linux"]["rootfsPropagation"] = json!(prop);
            },
        );
        assert!(
            out.trim().ends_with("/rootfs"),
            "{prop}: root is the bundle's rootfs: {out}"
        );
        assert_eq!(
            host_root_propagation(),
            before,
            "{prop}: host / propagation unchanged"
        );
    }
}

#[test]
fn no_pivot() {
    let bundle = Bundle::busybox(&["sh", "-c", "cat /etc/passwd | wc -l; ls /; echo $$"]);
    let rt = Runtime::new();
    let id = unique_id("nopivot");
    let out = rt.run_ok(&["run", "--no-pivot", "--bundle", bundle.path_str(), &id]);
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert_eq!(lines[0], "2", "the bundle's /etc/passwd: {}", out.stdout);
    assert!(lines.contains(&"bin"), "{}", out.stdout);
    assert_eq!(lines.last(), Some(&"1"));
    drop(rt);
    bundle.assert_gone();
}

#[test]
fn personality_linux32() {
    let out = run_script("uname -m", |c, _| {
        c["linux"]["personality"] = json!({"domain": "LINUX32"});
    });
    assert!(
        ["i686", "i386"].contains(&out.trim()),
        "uname -m under LINUX32: {out:?}"
    );
}

#[test]
fn scheduler_policy_and_nice() {
    // /proc/self/sched is absent without CONFIG_SCHED_DEBUG; field 19 of stat is nice, 41 policy.
    let out = run_script("cat /proc/self/stat", |c, _| {
        c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7});
    });
    let rest = out.rsplit_once(") ").expect("stat has a comm").1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state): field N is fields[N - 3].
    assert_eq!(fields[19 - 3], "7", "nice in {out}");
    assert_eq!(fields[41 - 3], "3", "policy (SCHED_BATCH = 3) in {out}");
}

#[test]
fn io_priority() {
    let out = run_script("ionice -p $$", |c, _| {
        c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6});
    });
    assert!(out.contains("best-effort") || out.contains("be"), "{out:?}");
    assert!(out.contains('6'), "{out:?}");
}

#[test]
fn time_namespace_offsets() {
    // A boottime offset of ten days shows in the container's /proc/uptime.
    let out = run_script("cut -d. -f1 /proc/uptime", |c, _| {
        c["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}));
        c["linux"]["timeOffsets"] = json!({"boottime": {"secs": 864000, "nanosecs": 0}});
    });
    let inside: u64 = out.trim().parse().expect("uptime seconds");
    let host: u64 = std::fs::read_to_string("/proc/uptime")
        .unwrap()
        .split('.')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        inside >= host + 864000 - 5,
        "uptime {inside} vs host {host}"
    );
}

/// A capability name newer than this runtime (or the kernel) is skipped with a warning, as runc
/// does; the known ones still apply.
#[test]
fn unknown_capability_names_are_skipped() {
    let status = run_script("cat /proc/self/status", |c, _| {
        let set = json!(["CAP_KILL", "CAP_FROM_THE_FUTURE"]);
        c["process"]["capabilities"] = json!({
            "bounding": set, "permitted": set, "effective": set, "inheritable": [], "ambient": []
        });
    });
    let get = |k| u64::from_str_radix(status_field(&status, k), 16).unwrap();
    assert_eq!(get("CapBnd"), cap_mask(&["CAP_KILL"]));
    assert_eq!(get("CapEff"), cap_mask(&["CAP_KILL"]));
}
