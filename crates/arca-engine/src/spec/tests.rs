//! The spec `build` produces, field by field, against Docker's behaviour.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::image::ImageConfiguration;
use oci_spec::runtime::{Capability, LinuxDeviceType, LinuxNamespaceType, PosixRlimitType, Spec};
use serde_json::json;

use super::*;

fn image(config: serde_json::Value) -> ImageConfiguration {
    serde_json::from_value(json!({
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": []},
    }))
    .expect("image config")
}

fn plain() -> ImageConfiguration {
    image(json!({"Cmd": ["sh"]}))
}

const ID: &str = "0123456789abcdef0123456789abcdef";

fn rootfs() -> tempfile::TempDir {
    tempfile::tempdir().expect("tempdir")
}

fn spec_with(img: &ImageConfiguration, run: &RunConfig) -> Spec {
    let root = rootfs();
    build(img, root.path(), ID, run).expect("build")
}

fn spec(run: &RunConfig) -> Spec {
    spec_with(&plain(), run)
}

fn err(run: &RunConfig) -> String {
    let root = rootfs();
    build(&plain(), root.path(), ID, run)
        .expect_err("build must fail")
        .to_string()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn process(s: &Spec) -> &oci_spec::runtime::Process {
    s.process().as_ref().expect("process")
}

fn linux(s: &Spec) -> &oci_spec::runtime::Linux {
    s.linux().as_ref().expect("linux")
}

fn env(s: &Spec) -> Vec<String> {
    process(s).env().clone().expect("env")
}

fn caps(s: &Spec) -> HashSet<Capability> {
    let c = process(s).capabilities().clone().expect("capabilities");
    assert_eq!(c.bounding(), c.effective());
    assert_eq!(c.bounding(), c.permitted());
    assert!(c.inheritable().is_none() && c.ambient().is_none());
    c.bounding().clone().expect("bounding")
}

fn cap(name: &str) -> Capability {
    serde_json::from_value(json!(name)).expect("capability")
}

#[test]
fn entrypoint_and_cmd_combinations_follow_docker() {
    let none: Option<Vec<&str>> = None;
    // (image Entrypoint, image Cmd, --entrypoint, run cmd) => args
    #[allow(clippy::type_complexity)]
    let table: Vec<(
        Option<Vec<&str>>,
        Option<Vec<&str>>,
        Option<Vec<&str>>,
        Vec<&str>,
        Vec<&str>,
    )> = vec![
        (none.clone(), Some(vec!["sh"]), None, vec![], vec!["sh"]),
        (
            none.clone(),
            Some(vec!["sh"]),
            None,
            vec!["ls", "-l"],
            vec!["ls", "-l"],
        ),
        (
            Some(vec!["/init"]),
            Some(vec!["--serve"]),
            None,
            vec![],
            vec!["/init", "--serve"],
        ),
        (
            Some(vec!["/init"]),
            Some(vec!["--serve"]),
            None,
            vec!["--help"],
            vec!["/init", "--help"],
        ),
        (
            Some(vec!["/init"]),
            none.clone(),
            None,
            vec![],
            vec!["/init"],
        ),
        // --entrypoint drops the image's Cmd.
        (
            Some(vec!["/init"]),
            Some(vec!["--serve"]),
            Some(vec!["/bin/sh"]),
            vec![],
            vec!["/bin/sh"],
        ),
        (
            Some(vec!["/init"]),
            Some(vec!["--serve"]),
            Some(vec!["/bin/sh"]),
            vec!["-c", "id"],
            vec!["/bin/sh", "-c", "id"],
        ),
        (
            none.clone(),
            Some(vec!["sh"]),
            Some(vec!["/bin/echo"]),
            vec![],
            vec!["/bin/echo"],
        ),
        // --entrypoint "" resets the entrypoint: only the user's command remains.
        (
            Some(vec!["/init"]),
            Some(vec!["--serve"]),
            Some(vec![]),
            vec!["ls"],
            vec!["ls"],
        ),
    ];
    for (ep, cmd, run_ep, run_cmd, want) in table {
        let img = image(json!({"Entrypoint": ep, "Cmd": cmd}));
        let run = RunConfig {
            entrypoint: run_ep.clone().map(|v| strings(&v)),
            cmd: strings(&run_cmd),
            ..Default::default()
        };
        let s = spec_with(&img, &run);
        assert_eq!(
            process(&s).args().clone().expect("args"),
            strings(&want),
            "image {ep:?} {cmd:?}, --entrypoint {run_ep:?}, cmd {run_cmd:?}"
        );
    }
}

#[test]
fn no_command_is_an_error() {
    let root = rootfs();
    let img = image(json!({"Entrypoint": ["/init"], "Cmd": ["x"]}));
    let run = RunConfig {
        entrypoint: Some(vec![]),
        ..Default::default()
    };
    let e = build(&img, root.path(), ID, &run).unwrap_err().to_string();
    assert!(e.contains("no command specified"), "{e}");
    let e = build(&image(json!({})), root.path(), ID, &RunConfig::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("no command specified"), "{e}");
}

#[test]
fn env_merges_image_and_user_by_key_in_dockers_order() {
    let img = image(json!({"Cmd": ["sh"], "Env": ["PATH=/opt/bin:/bin", "A=image", "B=image"]}));
    let run = RunConfig {
        env: strings(&["B=user", "C=user", "A"]),
        tty: true,
        ..Default::default()
    };
    let s = spec_with(&img, &run);
    assert_eq!(
        env(&s),
        strings(&[
            "PATH=/opt/bin:/bin",
            "HOSTNAME=0123456789ab",
            "TERM=xterm",
            "B=user",
            "C=user"
        ])
    );
    // Defaults: PATH, HOSTNAME, no TERM without -t.
    let s = spec(&RunConfig::default());
    assert_eq!(
        env(&s),
        strings(&[
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOSTNAME=0123456789ab",
        ])
    );
    assert_eq!(process(&s).terminal(), Some(false));
    let e = err(&RunConfig {
        env: strings(&["=x"]),
        ..Default::default()
    });
    assert!(e.contains("--env") && e.contains("=x"), "{e}");
}

#[test]
fn resolve_env_and_env_file() {
    let host = |k: &str| (k == "HOME_VAR").then(|| "from-host".to_owned());
    assert_eq!(
        resolve_env(&strings(&["A=1", "HOME_VAR", "UNSET"]), host),
        strings(&["A=1", "HOME_VAR=from-host"])
    );
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("env");
    std::fs::write(
        &f,
        "\u{feff}# comment\n\nA=1\n  B = x y\nHOME_VAR\nUNSET\nC=\"q\"\n",
    )
    .unwrap();
    let e = env_file::parse_env_file_with(&f, host)
        .unwrap_err()
        .to_string();
    assert!(e.contains("line 4") && e.contains("whitespace"), "{e}");
    std::fs::write(
        &f,
        "\u{feff}# comment\n\nA=1\n  B=x y\nHOME_VAR\nUNSET\nC=\"q\"\n",
    )
    .unwrap();
    assert_eq!(
        env_file::parse_env_file_with(&f, host).unwrap(),
        strings(&["A=1", "B=x y", "HOME_VAR=from-host", "C=\"q\""])
    );
    std::fs::write(&f, "=v\n").unwrap();
    assert!(parse_env_file(&f)
        .unwrap_err()
        .to_string()
        .contains("no variable name"));
    let e = parse_env_file(&dir.path().join("missing"))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("--env-file"), "{e}");
}

#[test]
fn cwd_hostname_root_and_annotations() {
    let img = image(json!({"Cmd": ["sh"], "WorkingDir": "/app"}));
    let root = rootfs();
    let s = build(&img, root.path(), ID, &RunConfig::default()).unwrap();
    assert_eq!(process(&s).cwd(), Path::new("/app"));
    assert_eq!(s.hostname().as_deref(), Some("0123456789ab"));
    let r = s.root().as_ref().unwrap();
    assert_eq!(r.path(), root.path());
    assert_eq!(r.readonly(), Some(false));
    assert_eq!(
        linux(&s).cgroups_path().as_deref(),
        Some(Path::new("/arca/0123456789abcdef0123456789abcdef"))
    );
    assert!(s.annotations().is_none());

    let run = RunConfig {
        workdir: Some("/srv".into()),
        hostname: Some("web-1.example".into()),
        read_only: true,
        labels: vec![("com.example.a".into(), "1".into())],
        ..Default::default()
    };
    let s = build(&img, root.path(), ID, &run).unwrap();
    assert_eq!(process(&s).cwd(), Path::new("/srv"));
    assert_eq!(s.hostname().as_deref(), Some("web-1.example"));
    assert!(env(&s).contains(&"HOSTNAME=web-1.example".to_owned()));
    assert_eq!(s.root().as_ref().unwrap().readonly(), Some(true));
    assert_eq!(s.annotations().as_ref().unwrap()["com.example.a"], "1");
    assert_eq!(
        spec(&RunConfig::default()).version(),
        arca_container::OCI_VERSION
    );

    for (run, flag) in [
        (
            RunConfig {
                workdir: Some("rel".into()),
                ..Default::default()
            },
            "--workdir",
        ),
        (
            RunConfig {
                hostname: Some("bad name".into()),
                ..Default::default()
            },
            "--hostname",
        ),
    ] {
        let e = err(&run);
        assert!(e.starts_with(flag), "{e}");
    }
}

/// A rootfs with passwd and group files, and a symlinked passwd pointing outside.
fn user_rootfs(passwd_link: bool) -> tempfile::TempDir {
    let root = rootfs();
    let etc = root.path().join("etc");
    std::fs::create_dir(&etc).unwrap();
    let passwd = "root:x:0:0:root:/root:/bin/sh\n\
                  # comment\n\
                  daemon:x:1:1::/:/sbin/nologin\n\
                  app:x:1000:1000:App:/home/app:/bin/sh\n";
    let group = "root:x:0:\nwheel:x:10:root,app\nvideo:x:44:app\napp:x:1000:\nstaff:x:50:\n";
    if passwd_link {
        // An absolute link: inside the container it means <rootfs>/real/passwd, never the
        // host's /real/passwd.
        std::fs::create_dir(root.path().join("real")).unwrap();
        std::fs::write(root.path().join("real/passwd"), passwd).unwrap();
        std::os::unix::fs::symlink("/real/passwd", etc.join("passwd")).unwrap();
    } else {
        std::fs::write(etc.join("passwd"), passwd).unwrap();
    }
    std::fs::write(etc.join("group"), group).unwrap();
    root
}

fn user_of(root: &Path, user: &str) -> (u32, u32, Vec<u32>) {
    let run = RunConfig {
        user: Some(user.into()),
        ..Default::default()
    };
    let s = build(&plain(), root, ID, &run).unwrap_or_else(|e| panic!("{user}: {e}"));
    let u = process(&s).user();
    (
        u.uid(),
        u.gid(),
        u.additional_gids().clone().unwrap_or_default(),
    )
}

#[test]
fn user_lookup_in_rootfs() {
    let root = user_rootfs(false);
    let r = root.path();
    assert_eq!(user_of(r, ""), (0, 0, vec![0, 10]));
    assert_eq!(user_of(r, "root"), (0, 0, vec![0, 10]));
    assert_eq!(user_of(r, "app"), (1000, 1000, vec![1000, 10, 44]));
    assert_eq!(user_of(r, "1000"), (1000, 1000, vec![1000, 10, 44]));
    // An explicit group replaces the primary group and drops the supplementary ones.
    assert_eq!(user_of(r, "app:staff"), (1000, 50, vec![50]));
    assert_eq!(user_of(r, "app:77"), (1000, 77, vec![77]));
    // Unknown numeric ids are fine.
    assert_eq!(user_of(r, "4242"), (4242, 0, vec![0]));
    assert_eq!(user_of(r, "4242:4343"), (4242, 4343, vec![4343]));
    // The image's User applies without -u.
    let img = image(json!({"Cmd": ["sh"], "User": "daemon"}));
    let s = build(&img, r, ID, &RunConfig::default()).unwrap();
    assert_eq!(process(&s).user().uid(), 1);
}

#[test]
fn user_lookup_follows_symlinks_inside_the_rootfs() {
    let root = user_rootfs(true);
    assert_eq!(
        user_of(root.path(), "app"),
        (1000, 1000, vec![1000, 10, 44])
    );
    // A link that climbs out with .. stays in the root too: it resolves to <rootfs>/etc/...
    let passwd = root.path().join("etc/passwd");
    std::fs::remove_file(&passwd).unwrap();
    std::os::unix::fs::symlink("../../../../../../../../real/passwd", &passwd).unwrap();
    assert_eq!(user_of(root.path(), "app").0, 1000);
}

#[test]
fn missing_user_or_group_is_an_error_naming_it() {
    let root = user_rootfs(false);
    let run = |u: &str| RunConfig {
        user: Some(u.into()),
        ..Default::default()
    };
    let e = build(&plain(), root.path(), ID, &run("nobody")).unwrap_err();
    assert!(
        matches!(&e, SpecError::NoSuchUser { user } if user == "nobody"),
        "{e}"
    );
    assert!(e.to_string().contains("nobody"));
    let e = build(&plain(), root.path(), ID, &run("app:nogroup")).unwrap_err();
    assert!(
        matches!(&e, SpecError::NoSuchGroup { group } if group == "nogroup"),
        "{e}"
    );
    // No passwd at all: names fail, numbers work.
    let empty = rootfs();
    assert!(build(&plain(), empty.path(), ID, &run("app")).is_err());
    assert_eq!(user_of(empty.path(), "12:34"), (12, 34, vec![34]));
    let e = build(&plain(), empty.path(), ID, &run("99999999999")).unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
}

#[test]
fn passwd_that_is_not_a_regular_file_is_refused() {
    let root = rootfs();
    std::fs::create_dir_all(root.path().join("etc/passwd")).unwrap();
    let run = RunConfig {
        user: Some("app".into()),
        ..Default::default()
    };
    let e = build(&plain(), root.path(), ID, &run)
        .unwrap_err()
        .to_string();
    assert!(e.contains("not a regular file"), "{e}");
}

#[test]
fn capabilities_default_add_drop_all() {
    let default: HashSet<_> = caps::DEFAULT.iter().map(|c| cap(c)).collect();
    assert_eq!(default.len(), 14);
    assert_eq!(caps(&spec(&RunConfig::default())), default);

    let s = spec(&RunConfig {
        cap_add: strings(&["sys_admin", "CAP_NET_ADMIN"]),
        cap_drop: strings(&["Cap_Chown", "mknod"]),
        ..Default::default()
    });
    let mut want = default.clone();
    want.remove(&Capability::Chown);
    want.remove(&Capability::Mknod);
    want.insert(Capability::SysAdmin);
    want.insert(Capability::NetAdmin);
    assert_eq!(caps(&s), want);

    let s = spec(&RunConfig {
        cap_drop: strings(&["ALL"]),
        cap_add: strings(&["kill"]),
        ..Default::default()
    });
    assert_eq!(caps(&s), HashSet::from([Capability::Kill]));

    let s = spec(&RunConfig {
        cap_add: strings(&["all"]),
        cap_drop: strings(&["SYS_ADMIN"]),
        ..Default::default()
    });
    let c = caps(&s);
    assert_eq!(c.len(), caps::ALL.len() - 1);
    assert!(!c.contains(&Capability::SysAdmin) && c.contains(&Capability::SysModule));

    let e = err(&RunConfig {
        cap_add: strings(&["CAP_FLY"]),
        ..Default::default()
    });
    assert!(
        e.starts_with("--cap-add \"CAP_FLY\"") && e.contains("unknown capability"),
        "{e}"
    );
}

fn mount_options(s: &Spec, dest: &str) -> Option<Vec<String>> {
    s.mounts()
        .as_ref()
        .unwrap()
        .iter()
        .find(|m| m.destination() == Path::new(dest))
        .map(|m| m.options().clone().unwrap_or_default())
}

#[test]
fn default_mounts_paths_and_namespaces() {
    let s = spec(&RunConfig::default());
    let dests: Vec<_> = s
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| m.destination().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        dests,
        strings(&[
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/dev/shm"
        ])
    );
    assert!(mount_options(&s, "/sys")
        .unwrap()
        .contains(&"ro".to_owned()));
    assert!(mount_options(&s, "/sys/fs/cgroup")
        .unwrap()
        .contains(&"ro".to_owned()));
    assert!(mount_options(&s, "/dev/shm")
        .unwrap()
        .contains(&"size=65536k".to_owned()));
    let l = linux(&s);
    assert_eq!(l.masked_paths().as_ref().unwrap().len(), 12);
    assert!(l
        .masked_paths()
        .as_ref()
        .unwrap()
        .contains(&"/proc/kcore".to_owned()));
    assert_eq!(l.readonly_paths().as_ref().unwrap().len(), 5);
    let ns: Vec<_> = l
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| n.typ())
        .collect();
    use LinuxNamespaceType::*;
    assert_eq!(ns, vec![Pid, Network, Ipc, Uts, Mount, Cgroup]);
    assert!(process(&s).no_new_privileges().is_none());

    let s = spec(&RunConfig {
        network: super::Network::Host,
        ..Default::default()
    });
    let ns: Vec<_> = linux(&s)
        .namespaces()
        .as_ref()
        .unwrap()
        .iter()
        .map(|n| n.typ())
        .collect();
    assert_eq!(ns, vec![Pid, Ipc, Uts, Mount, Cgroup]);
    assert_ne!(s.hostname().as_deref(), Some("0123456789ab"));
}

#[test]
fn privileged() {
    let s = spec(&RunConfig {
        privileged: true,
        cap_drop: strings(&["CHOWN"]),
        ..Default::default()
    });
    assert_eq!(caps(&s).len(), caps::ALL.len());
    let l = linux(&s);
    assert!(l.masked_paths().is_none() && l.readonly_paths().is_none());
    assert!(l.seccomp().is_none());
    assert!(!mount_options(&s, "/sys")
        .unwrap()
        .contains(&"ro".to_owned()));
    assert!(!mount_options(&s, "/sys/fs/cgroup")
        .unwrap()
        .contains(&"ro".to_owned()));
    let rules = l.resources().as_ref().unwrap().devices().clone().unwrap();
    assert_eq!(rules.len(), 1);
    assert!(
        rules[0].allow() && rules[0].typ().is_none() && rules[0].access().as_deref() == Some("rwm")
    );
    let nodes = l.devices().clone().unwrap_or_default();
    assert!(nodes.iter().any(|d| d.path() == Path::new("/dev/null")));
    assert!(!nodes.iter().any(|d| d.path().starts_with("/dev/pts")));
}

#[test]
fn seccomp_default_unconfined_file_and_nnp() {
    let default = arca_container::seccomp::default_profile();
    let s = spec(&RunConfig::default());
    assert_eq!(linux(&s).seccomp().as_ref(), Some(&default));

    let s = spec(&RunConfig {
        security_opt: strings(&["seccomp=unconfined", "no-new-privileges"]),
        ..Default::default()
    });
    assert!(linux(&s).seccomp().is_none());
    assert_eq!(process(&s).no_new_privileges(), Some(true));
    let s = spec(&RunConfig {
        security_opt: strings(&[
            "seccomp:unconfined",
            "no-new-privileges:true",
            "no-new-privileges=false",
        ]),
        ..Default::default()
    });
    assert!(linux(&s).seccomp().is_none());
    assert!(process(&s).no_new_privileges().is_none());

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("profile.json");
    std::fs::write(
        &f,
        json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
            "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "includes": {}}]
        })
        .to_string(),
    )
    .unwrap();
    let s = spec(&RunConfig {
        security_opt: vec![format!("seccomp={}", f.display())],
        ..Default::default()
    });
    let p = linux(&s).seccomp().clone().unwrap();
    assert_eq!(p.architectures().as_ref().unwrap().len(), 2);
    assert_eq!(
        p.syscalls().as_ref().unwrap()[0].names(),
        &strings(&["chmod"])
    );

    std::fs::write(
        &f,
        json!({"defaultAction": "SCMP_ACT_ERRNO",
               "syscalls": [{"names": ["ptrace"], "action": "SCMP_ACT_ALLOW",
                             "includes": {"caps": ["CAP_SYS_PTRACE"]}}]})
        .to_string(),
    )
    .unwrap();
    let e = err(&RunConfig {
        security_opt: vec![format!("seccomp={}", f.display())],
        ..Default::default()
    });
    assert!(e.contains("includes/excludes"), "{e}");
    std::fs::write(
        &f,
        json!({"defaultAction": "SCMP_ACT_ERRNO",
               "syscalls": [{"names": ["chmod"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1}]})
        .to_string(),
    )
    .unwrap();
    let e = err(&RunConfig {
        security_opt: vec![format!("seccomp={}", f.display())],
        ..Default::default()
    });
    assert!(
        e.starts_with("--security-opt") && e.contains("errnoRet"),
        "{e}"
    );
    let e = err(&RunConfig {
        security_opt: strings(&["seccomp=/nonexistent/profile.json"]),
        ..Default::default()
    });
    assert!(
        e.starts_with("--security-opt") && e.contains("/nonexistent/profile.json"),
        "{e}"
    );
    for bad in [
        "apparmor=docker-default",
        "label=type:x",
        "whatever",
        "no-new-privileges=maybe",
    ] {
        let e = err(&RunConfig {
            security_opt: strings(&[bad]),
            ..Default::default()
        });
        assert!(e.starts_with("--security-opt") && e.contains(bad), "{e}");
    }
    // What arca already does is accepted.
    spec(&RunConfig {
        security_opt: strings(&["apparmor=unconfined", "label=disable"]),
        ..Default::default()
    });
}

#[test]
fn memory_cpus_pids() {
    assert_eq!(parse_memory("512m").unwrap(), 512 << 20);
    assert_eq!(parse_memory("1g").unwrap(), 1 << 30);
    assert_eq!(parse_memory("1.5GiB").unwrap(), 3 << 29);
    assert_eq!(parse_memory("4096").unwrap(), 4096);
    assert_eq!(parse_memory("64 kb").unwrap(), 64 << 10);
    for bad in ["", "m", "12q", "-5m", "1..2m", "1e3"] {
        let e = parse_memory(bad).unwrap_err().to_string();
        assert!(e.starts_with("--memory"), "{bad}: {e}");
    }

    let s = spec(&RunConfig {
        memory: Some(512 << 20),
        cpus: Some(1.5),
        pids_limit: Some(100),
        ..Default::default()
    });
    let r = linux(&s).resources().clone().unwrap();
    let m = r.memory().unwrap();
    assert_eq!((m.limit(), m.swap()), (Some(512 << 20), Some(1 << 30)));
    let c = r.cpu().clone().unwrap();
    assert_eq!((c.quota(), c.period()), (Some(150_000), Some(100_000)));
    assert_eq!(r.pids().unwrap().limit(), 100);

    let s = spec(&RunConfig {
        pids_limit: Some(-1),
        ..Default::default()
    });
    let r = linux(&s).resources().clone().unwrap();
    assert!(r.pids().is_none() && r.memory().is_none() && r.cpu().is_none());

    let e = err(&RunConfig {
        memory: Some(1 << 20),
        ..Default::default()
    });
    assert!(e.starts_with("--memory") && e.contains("6MB"), "{e}");
    for bad in [0.0, -1.0, f64::NAN, 0.001] {
        let e = err(&RunConfig {
            cpus: Some(bad),
            ..Default::default()
        });
        assert!(e.starts_with("--cpus"), "{e}");
    }
}

fn rlimit(s: &Spec, t: PosixRlimitType) -> Option<(u64, u64)> {
    process(s)
        .rlimits()
        .as_ref()
        .unwrap()
        .iter()
        .find(|r| r.typ() == t)
        .map(|r| (r.soft(), r.hard()))
}

#[test]
fn ulimits() {
    let s = spec(&RunConfig::default());
    // 2^20, or our own hard limit where that is lower (no CAP_SYS_RESOURCE to raise it).
    let hard = rustix::process::getrlimit(rustix::process::Resource::Nofile)
        .maximum
        .map_or(1 << 20, |m| m.min(1 << 20));
    assert_eq!(
        rlimit(&s, PosixRlimitType::RlimitNofile),
        Some((hard, hard))
    );
    assert_eq!(process(&s).rlimits().as_ref().unwrap().len(), 1);

    let s = spec(&RunConfig {
        ulimits: strings(&["nofile=1024:2048", "nproc=100", "core=-1", "nproc=200:300"]),
        ..Default::default()
    });
    assert_eq!(
        rlimit(&s, PosixRlimitType::RlimitNofile),
        Some((1024, 2048))
    );
    assert_eq!(rlimit(&s, PosixRlimitType::RlimitNproc), Some((200, 300)));
    assert_eq!(
        rlimit(&s, PosixRlimitType::RlimitCore),
        Some((u64::MAX, u64::MAX))
    );
    assert_eq!(process(&s).rlimits().as_ref().unwrap().len(), 3);

    for (bad, why) in [
        ("nofile", "name=soft"),
        ("files=10", "unknown ulimit"),
        ("nofile=10:5", "soft limit"),
        ("nofile=ten", "\"ten\""),
    ] {
        let e = parse_ulimit(bad).unwrap_err().to_string();
        assert!(e.starts_with("--ulimit") && e.contains(why), "{bad}: {e}");
    }
}

#[test]
fn devices() {
    let s = spec(&RunConfig {
        devices: strings(&["/dev/null:/dev/mynull:rw", "/dev/zero:r"]),
        ..Default::default()
    });
    let l = linux(&s);
    let nodes = l.devices().clone().unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0].path(), Path::new("/dev/mynull"));
    assert_eq!(nodes[0].typ(), LinuxDeviceType::C);
    assert_eq!((nodes[0].major(), nodes[0].minor()), (1, 3));
    assert_eq!(nodes[1].path(), Path::new("/dev/zero"));
    let rules = l.resources().as_ref().unwrap().devices().clone().unwrap();
    assert_eq!(rules.len(), 3);
    assert!(!rules[0].allow() && rules[0].access().as_deref() == Some("rwm"));
    assert!(rules[1].allow() && rules[1].major() == Some(1) && rules[1].minor() == Some(3));
    assert_eq!(rules[1].access().as_deref(), Some("rw"));
    assert_eq!(rules[2].access().as_deref(), Some("r"));

    // No devices: only "deny all", no linux.devices.
    let s = spec(&RunConfig::default());
    assert!(linux(&s).devices().is_none());
    assert_eq!(
        linux(&s)
            .resources()
            .as_ref()
            .unwrap()
            .devices()
            .as_ref()
            .unwrap()
            .len(),
        1
    );

    for (bad, why) in [
        ("/etc/hostname", "not a device"),
        ("/dev/null:/x:rwx", "permissions"),
        ("dev/null", "absolute"),
        ("/dev/null:/a:rw:x", "SRC[:DST[:PERMS]]"),
        ("/nonexistent/dev", "/nonexistent/dev"),
    ] {
        let e = err(&RunConfig {
            devices: strings(&[bad]),
            ..Default::default()
        });
        assert!(e.starts_with("--device") && e.contains(why), "{bad}: {e}");
    }
}

#[test]
fn volume_parsing() {
    let m = parse_volume("/host/data:/data:ro").unwrap();
    assert_eq!(
        m,
        Mount {
            kind: MountKind::Bind {
                source: PathBuf::from("/host/data")
            },
            destination: "/data".into(),
            read_only: true,
            options: vec![],
        }
    );
    assert_eq!(
        parse_volume("data:/data:ro").unwrap().kind,
        MountKind::Volume {
            name: Some("data".into())
        }
    );
    assert_eq!(
        parse_volume("/data").unwrap().kind,
        MountKind::Volume { name: None }
    );
    let m = parse_volume("/h:/c:rw,rshared,z").unwrap();
    assert!(!m.read_only);
    assert_eq!(m.options, strings(&["rshared"]));

    for (bad, part) in [
        ("/h:data", "\"data\": must be an absolute"),
        ("/h:/c:rx", "unknown option \"rx\""),
        ("/h:/c:ro:x", "too many colons"),
        ("/h:/", "can't be /"),
        (":/c", "empty source"),
        ("/h:", "empty destination"),
    ] {
        let e = parse_volume(bad).unwrap_err().to_string();
        assert!(e.starts_with("--volume") && e.contains(part), "{bad}: {e}");
    }
}

#[test]
fn tmpfs_and_mount_parsing() {
    let m = parse_tmpfs("/run:exec,size=64m,mode=1777").unwrap();
    assert_eq!(m.kind, MountKind::Tmpfs);
    assert_eq!(
        m.options,
        strings(&["nosuid", "nodev", "exec", "size=64m", "mode=1777"])
    );
    let m = parse_tmpfs("/tmp").unwrap();
    assert_eq!(m.options, strings(&["noexec", "nosuid", "nodev"]));
    assert!(parse_tmpfs("/t:ro").unwrap().read_only);
    let e = parse_tmpfs("/t:bogus").unwrap_err().to_string();
    assert!(e.starts_with("--tmpfs") && e.contains("\"bogus\""), "{e}");

    let m = parse_mount("type=bind,source=/h,target=/c,readonly,bind-propagation=rslave").unwrap();
    assert_eq!(
        m.kind,
        MountKind::Bind {
            source: "/h".into()
        }
    );
    assert_eq!(m.destination, "/c");
    assert!(m.read_only);
    assert_eq!(m.options, strings(&["rslave"]));
    let m = parse_mount("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=700").unwrap();
    assert_eq!(
        m.options,
        strings(&["noexec", "nosuid", "nodev", "size=1048576", "mode=700"])
    );
    assert!(
        !parse_mount("type=bind,src=/h,dst=/c,ro=false")
            .unwrap()
            .read_only
    );
    assert_eq!(
        parse_mount("type=volume,src=v,dst=/c").unwrap().kind,
        MountKind::Volume {
            name: Some("v".into())
        }
    );
    for (bad, part) in [
        ("type=nfs,src=v,dst=/c", "type=nfs"),
        (
            "type=volume,src=v,dst=/c,tmpfs-size=1m",
            "on a volume mount",
        ),
        ("type=bind,dst=/c", "source is required"),
        ("type=bind,src=/h", "target is required"),
        ("type=bind,src=/h,dst=/c,color=red", "unknown key \"color\""),
        ("type=bind,src=/h,dst=/c,readonly=maybe", "readonly=maybe"),
        ("type=tmpfs,dst=/t,tmpfs-mode=999", "tmpfs-mode=999"),
        ("type=tmpfs,dst=/t,tmpfs-size=lots", "tmpfs-size=lots"),
    ] {
        let e = parse_mount(bad).unwrap_err().to_string();
        assert!(e.starts_with("--mount") && e.contains(part), "{bad}: {e}");
    }
}

#[test]
fn user_mounts_in_the_spec() {
    let s = spec(&RunConfig {
        mounts: vec![
            parse_volume("/h/b:/a/b").unwrap(),
            parse_volume("/h/a:/a:ro").unwrap(),
            parse_tmpfs("/dev/shm:size=1g").unwrap(),
            parse_volume("/h/s:/s:rshared").unwrap(),
        ],
        ..Default::default()
    });
    let ms = s.mounts().as_ref().unwrap();
    let dests: Vec<_> = ms
        .iter()
        .map(|m| m.destination().to_string_lossy().into_owned())
        .collect();
    // The user's /dev/shm replaces the default one; user mounts by depth, parents first.
    assert_eq!(
        dests,
        strings(&[
            "/proc",
            "/dev",
            "/dev/pts",
            "/sys",
            "/sys/fs/cgroup",
            "/dev/mqueue",
            "/a",
            "/s",
            "/a/b",
            "/dev/shm"
        ])
    );
    let a = ms
        .iter()
        .find(|m| m.destination() == Path::new("/a"))
        .unwrap();
    assert_eq!(a.typ().as_deref(), Some("bind"));
    assert_eq!(a.source().as_deref(), Some(Path::new("/h/a")));
    assert_eq!(
        a.options().clone().unwrap(),
        strings(&["rbind", "ro", "rprivate"])
    );
    assert_eq!(
        mount_options(&s, "/dev/shm").unwrap(),
        strings(&["noexec", "nosuid", "nodev", "size=1g"])
    );
    assert_eq!(linux(&s).rootfs_propagation().as_deref(), Some("shared"));

    // A user /dev replaces every default under /dev.
    let s = spec(&RunConfig {
        mounts: vec![parse_volume("/dev:/dev").unwrap()],
        ..Default::default()
    });
    let dests: Vec<_> = s
        .mounts()
        .as_ref()
        .unwrap()
        .iter()
        .map(|m| m.destination().to_string_lossy().into_owned())
        .collect();
    assert_eq!(dests, strings(&["/proc", "/sys", "/sys/fs/cgroup", "/dev"]));

    let e = err(&RunConfig {
        mounts: vec![parse_volume("/h:/c").unwrap(), parse_tmpfs("/c/").unwrap()],
        ..Default::default()
    });
    assert!(
        e.contains("duplicate mount point") && e.contains("/c"),
        "{e}"
    );
}

/// What `build` writes is a config.json the runtime accepts (its own validation, which names
/// the first bad field).
#[test]
fn the_spec_loads_as_a_bundle() {
    let root = user_rootfs(false);
    let run = RunConfig {
        user: Some("app".into()),
        tty: true,
        read_only: true,
        cap_add: strings(&["SYS_PTRACE"]),
        memory: Some(64 << 20),
        cpus: Some(0.5),
        pids_limit: Some(64),
        ulimits: strings(&["nproc=100"]),
        devices: strings(&["/dev/null:/dev/n2"]),
        mounts: vec![
            parse_volume("/tmp:/host-tmp:ro").unwrap(),
            parse_tmpfs("/run").unwrap(),
        ],
        labels: vec![("a".into(), "b".into())],
        ..Default::default()
    };
    let s = build(&plain(), root.path(), ID, &run).unwrap();
    let bundle = tempfile::tempdir().unwrap();
    std::fs::write(
        bundle.path().join("config.json"),
        serde_json::to_vec_pretty(&s).unwrap(),
    )
    .unwrap();
    let b = arca_container::spec::Bundle::load(bundle.path()).unwrap();
    assert_eq!(b.rootfs, root.path());
    assert_eq!(b.spec, s);
}
