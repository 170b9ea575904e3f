//! Profile translation, checked by running the compiled BPF program in a small classic-BPF
//! interpreter on made-up `struct seccomp_data`, so nothing is loaded into the test process.

use std::os::unix::net::UnixListener;

use super::*;

const RET_KILL_THREAD: u32 = 0;
const RET_KILL_PROCESS: u32 = 0x8000_0000;
const RET_TRAP: u32 = 0x0003_0000;
const RET_ERRNO: u32 = 0x0005_0000;
const RET_USER_NOTIF: u32 = 0x7fc0_0000;
const RET_TRACE: u32 = 0x7ff0_0000;
const RET_LOG: u32 = 0x7ffc_0000;
const RET_ALLOW: u32 = 0x7fff_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const AUDIT_ARCH_AARCH64: u32 = 0xc000_00b7;

fn profile(v: Value) -> LinuxSeccomp {
    serde_json::from_value(v).expect("valid profile JSON")
}

fn compiled(v: Value) -> Filter {
    prepare(&profile(v), None).expect("profile compiles")
}

/// Runs `prog` on a `struct seccomp_data` for syscall `nr` of `arch` with `args`.
fn run(prog: &[SockFilter], arch: u32, nr: i64, args: [u64; 6]) -> u32 {
    let mut data = Vec::with_capacity(64);
    data.extend(i32::try_from(nr).unwrap().to_ne_bytes());
    data.extend(arch.to_ne_bytes());
    data.extend(0u64.to_ne_bytes());
    for a in args {
        data.extend(a.to_ne_bytes());
    }
    let word = |off: u32| {
        let o = off as usize;
        u32::from_ne_bytes(data[o..o + 4].try_into().unwrap())
    };
    let (mut a, mut x, mut mem, mut pc) = (0u32, 0u32, [0u32; 16], 0usize);
    loop {
        let i = prog[pc];
        pc += 1;
        let k = i.k;
        let src = if i.code & 0x08 != 0 { x } else { k };
        match i.code & 0x07 {
            0x00 => match i.code & 0xe0 {
                0x20 => a = word(k),
                0x00 => a = k,
                0x60 => a = mem[k as usize],
                m => panic!("ld mode {m:#x}"),
            },
            0x01 => match i.code & 0xe0 {
                0x00 => x = k,
                0x60 => x = mem[k as usize],
                m => panic!("ldx mode {m:#x}"),
            },
            0x02 => mem[k as usize] = a,
            0x03 => mem[k as usize] = x,
            0x04 => {
                a = match i.code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 => a / src,
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a << src,
                    0x70 => a >> src,
                    0x80 => a.wrapping_neg(),
                    0xa0 => a ^ src,
                    op => panic!("alu op {op:#x}"),
                }
            }
            0x05 => {
                let taken = match i.code & 0xf0 {
                    0x00 => {
                        pc += k as usize;
                        continue;
                    }
                    0x10 => a == src,
                    0x20 => a > src,
                    0x30 => a >= src,
                    0x40 => a & src != 0,
                    op => panic!("jmp op {op:#x}"),
                };
                pc += usize::from(if taken { i.jt } else { i.jf });
            }
            0x06 => return if i.code & 0x18 == 0x10 { a } else { k },
            _ => {
                if i.code & 0xf8 == 0x00 {
                    x = a; // TAX
                } else {
                    a = x; // TXA
                }
            }
        }
    }
}

fn x86_64(f: &Filter, nr: i64, args: [u64; 6]) -> u32 {
    run(&f.program, AUDIT_ARCH_X86_64, nr, args)
}

#[test]
fn allow_default_with_errno_rule() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }]
    }));
    assert_eq!(x86_64(&f, libc::SYS_mkdir, [0; 6]), RET_ERRNO | 1);
    assert_eq!(x86_64(&f, libc::SYS_mkdirat, [0; 6]), RET_ERRNO | 1);
    assert_eq!(x86_64(&f, libc::SYS_getpid, [0; 6]), RET_ALLOW);
    // An architecture the filter does not know is killed (libseccomp's bad-arch action).
    assert_eq!(
        run(&f.program, AUDIT_ARCH_AARCH64, 1, [0; 6]),
        RET_KILL_THREAD
    );
    assert_eq!(f.flags(), 0);
    assert!(!f.notify());
}

#[test]
fn errno_default_and_errno_ret() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [{ "names": ["read", "write"], "action": "SCMP_ACT_ALLOW" }]
    }));
    assert_eq!(x86_64(&f, libc::SYS_read, [0; 6]), RET_ALLOW);
    assert_eq!(x86_64(&f, libc::SYS_uname, [0; 6]), RET_ERRNO | 38);
    // Without defaultErrnoRet (and without errnoRet on a rule): EPERM.
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            { "names": ["read"], "action": "SCMP_ACT_ALLOW" },
            { "names": ["sync"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5 }
        ]
    }));
    assert_eq!(x86_64(&f, libc::SYS_uname, [0; 6]), RET_ERRNO | 1);
    assert_eq!(x86_64(&f, libc::SYS_sync, [0; 6]), RET_ERRNO | 5);
}

#[test]
fn every_action() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/agent.sock",
        "syscalls": [
            { "names": ["sync"], "action": "SCMP_ACT_KILL" },
            { "names": ["syncfs"], "action": "SCMP_ACT_KILL_THREAD" },
            { "names": ["getpid"], "action": "SCMP_ACT_KILL_PROCESS" },
            { "names": ["getppid"], "action": "SCMP_ACT_TRAP" },
            { "names": ["uname"], "action": "SCMP_ACT_TRACE", "errnoRet": 7 },
            { "names": ["getuid"], "action": "SCMP_ACT_TRACE" },
            { "names": ["getgid"], "action": "SCMP_ACT_LOG" },
            { "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" },
            { "names": ["read"], "action": "SCMP_ACT_ALLOW" }
        ]
    }));
    assert_eq!(x86_64(&f, libc::SYS_sync, [0; 6]), RET_KILL_THREAD);
    assert_eq!(x86_64(&f, libc::SYS_syncfs, [0; 6]), RET_KILL_THREAD);
    assert_eq!(x86_64(&f, libc::SYS_getpid, [0; 6]), RET_KILL_PROCESS);
    assert_eq!(x86_64(&f, libc::SYS_getppid, [0; 6]), RET_TRAP);
    assert_eq!(x86_64(&f, libc::SYS_uname, [0; 6]), RET_TRACE | 7);
    assert_eq!(x86_64(&f, libc::SYS_getuid, [0; 6]), RET_TRACE | 1);
    assert_eq!(x86_64(&f, libc::SYS_getgid, [0; 6]), RET_LOG);
    assert_eq!(x86_64(&f, libc::SYS_mkdir, [0; 6]), RET_USER_NOTIF);
    assert_eq!(x86_64(&f, libc::SYS_read, [0; 6]), RET_ALLOW);
    assert!(f.notify());
    assert_eq!(f.flags(), sys::FLAG_NEW_LISTENER);
    assert_eq!(f.listener_path(), Some(Path::new("/run/agent.sock")));
}

#[test]
fn argument_conditions() {
    let big = 0x1_0000_0005u64; // differs from 5 only in the upper word
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            { "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
              "args": [{ "index": 0, "value": 8, "op": "SCMP_CMP_EQ" }] },
            { "names": ["dup3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2,
              "args": [{ "index": 2, "value": 5, "op": "SCMP_CMP_NE" }] },
            { "names": ["lseek"], "action": "SCMP_ACT_ERRNO", "errnoRet": 3,
              "args": [{ "index": 1, "value": 10, "op": "SCMP_CMP_LT" }] },
            { "names": ["pread64"], "action": "SCMP_ACT_ERRNO", "errnoRet": 4,
              "args": [{ "index": 3, "value": 10, "op": "SCMP_CMP_LE" }] },
            { "names": ["pwrite64"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
              "args": [{ "index": 3, "value": big, "op": "SCMP_CMP_GE" }] },
            { "names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 6,
              "args": [{ "index": 1, "value": 9, "op": "SCMP_CMP_GT" }] },
            { "names": ["clone"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7,
              "args": [{ "index": 0, "value": 0x7e02_0000u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" }] },
            { "names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 8,
              "args": [{ "index": 0, "value": 16, "op": "SCMP_CMP_EQ" },
                       { "index": 2, "value": 9, "op": "SCMP_CMP_EQ" }] }
        ]
    }));
    let a = |nr, idx: usize, v: u64| {
        let mut args = [0u64; 6];
        args[idx] = v;
        x86_64(&f, nr, args)
    };
    assert_eq!(a(libc::SYS_personality, 0, 8), RET_ERRNO | 1);
    assert_eq!(a(libc::SYS_personality, 0, 0), RET_ALLOW);
    assert_eq!(a(libc::SYS_personality, 0, 8 | (1 << 32)), RET_ALLOW);
    assert_eq!(a(libc::SYS_dup3, 2, 5), RET_ALLOW);
    assert_eq!(a(libc::SYS_dup3, 2, 6), RET_ERRNO | 2);
    assert_eq!(a(libc::SYS_lseek, 1, 9), RET_ERRNO | 3);
    assert_eq!(a(libc::SYS_lseek, 1, 10), RET_ALLOW);
    assert_eq!(a(libc::SYS_pread64, 3, 10), RET_ERRNO | 4);
    assert_eq!(a(libc::SYS_pread64, 3, 11), RET_ALLOW);
    assert_eq!(a(libc::SYS_pwrite64, 3, 5), RET_ALLOW);
    assert_eq!(a(libc::SYS_pwrite64, 3, big), RET_ERRNO | 5);
    assert_eq!(a(libc::SYS_kill, 1, 9), RET_ALLOW);
    assert_eq!(a(libc::SYS_kill, 1, 15), RET_ERRNO | 6);
    // MASKED_EQ: (arg & value) == valueTwo; a fork has none of the namespace bits.
    assert_eq!(a(libc::SYS_clone, 0, 0x11), RET_ERRNO | 7);
    assert_eq!(a(libc::SYS_clone, 0, 0x2000_0000), RET_ALLOW);
    // Conditions on different arguments are ANDed.
    assert_eq!(
        x86_64(&f, libc::SYS_socket, [16, 0, 9, 0, 0, 0]),
        RET_ERRNO | 8
    );
    assert_eq!(x86_64(&f, libc::SYS_socket, [16, 0, 0, 0, 0, 0]), RET_ALLOW);
}

#[test]
fn repeated_argument_index_is_an_or() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            { "names": ["personality"], "action": "SCMP_ACT_ERRNO",
              "args": [{ "index": 0, "value": 8, "op": "SCMP_CMP_EQ" },
                       { "index": 0, "value": 0x20008, "op": "SCMP_CMP_EQ" }] }
        ]
    }));
    let p = |v| x86_64(&f, libc::SYS_personality, [v, 0, 0, 0, 0, 0]);
    assert_eq!(p(8), RET_ERRNO | 1);
    assert_eq!(p(0x20008), RET_ERRNO | 1);
    assert_eq!(p(0), RET_ALLOW);
}

#[test]
fn unknown_syscall_names_are_skipped() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            { "names": ["arca_no_such_syscall", "mkdir"], "action": "SCMP_ACT_ERRNO" },
            { "names": ["another_unknown_one"], "action": "SCMP_ACT_KILL" }
        ]
    }));
    assert_eq!(x86_64(&f, libc::SYS_mkdir, [0; 6]), RET_ERRNO | 1);
    assert_eq!(x86_64(&f, libc::SYS_getpid, [0; 6]), RET_ALLOW);
}

#[test]
fn rules_equal_to_the_default_are_dropped() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            { "names": ["uname"], "action": "SCMP_ACT_ERRNO" },
            { "names": ["sync"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 },
            { "names": ["read"], "action": "SCMP_ACT_ALLOW" }
        ]
    }));
    assert_eq!(x86_64(&f, libc::SYS_uname, [0; 6]), RET_ERRNO | 1);
    assert_eq!(x86_64(&f, libc::SYS_read, [0; 6]), RET_ALLOW);
}

#[test]
fn extra_architectures() {
    let f = compiled(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO" }]
    }));
    const I386_MKDIR: i64 = 39;
    assert_eq!(
        run(&f.program, AUDIT_ARCH_I386, I386_MKDIR, [0; 6]),
        RET_ERRNO | 1
    );
    assert_eq!(run(&f.program, AUDIT_ARCH_I386, 20, [0; 6]), RET_ALLOW);
    // x32 syscalls are x86_64's with bit 30 set.
    const X32: i64 = 0x4000_0000;
    assert_eq!(x86_64(&f, X32 | libc::SYS_mkdir, [0; 6]), RET_ERRNO | 1);
    assert_eq!(x86_64(&f, libc::SYS_mkdir, [0; 6]), RET_ERRNO | 1);
}

#[test]
fn flags() {
    let p = |flags: Value, notify: bool| {
        let mut v = json!({ "defaultAction": "SCMP_ACT_ALLOW", "flags": flags });
        if notify {
            v["listenerPath"] = json!("/a.sock");
            v["syscalls"] = json!([{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]);
        }
        compiled(v).flags()
    };
    assert_eq!(
        p(
            json!(["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]),
            false
        ),
        sys::FLAG_LOG | sys::FLAG_SPEC_ALLOW
    );
    assert_eq!(
        p(json!(["SECCOMP_FILTER_FLAG_TSYNC"]), false),
        sys::FLAG_TSYNC
    );
    // TSYNC with a listener needs TSYNC_ESRCH; WAIT_KILLABLE_RECV only means something with one.
    assert_eq!(
        p(json!(["SECCOMP_FILTER_FLAG_TSYNC"]), true),
        sys::FLAG_TSYNC | sys::FLAG_NEW_LISTENER | sys::FLAG_TSYNC_ESRCH
    );
    assert_eq!(
        p(json!(["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]), false),
        0
    );
    assert_eq!(
        p(json!(["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]), true),
        sys::FLAG_WAIT_KILLABLE_RECV | sys::FLAG_NEW_LISTENER
    );
}

#[test]
fn invalid_profiles_name_the_field() {
    let err = |v: Value| prepare(&profile(v), None).unwrap_err().to_string();
    let e = err(json!({ "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }] }));
    assert!(e.contains("listenerPath"), "{e}");
    let e = err(json!({ "defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/a" }));
    assert!(e.contains("defaultAction"), "{e}");
    let e = err(json!({ "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{ "names": ["read"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1 }] }));
    assert!(e.contains("syscalls[0].errnoRet"), "{e}");
    let e = err(json!({ "defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1 }));
    assert!(e.contains("defaultErrnoRet"), "{e}");
    let e = err(json!({ "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 70000 }));
    assert!(e.contains("16 bits"), "{e}");
    let e = err(json!({ "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["read"], "action": "SCMP_ACT_ERRNO",
                       "args": [{ "index": 6, "value": 1, "op": "SCMP_CMP_EQ" }] }] }));
    assert!(e.contains("syscalls[0].args[0]"), "{e}");
}

fn podman() -> LinuxSeccomp {
    let text = include_str!("../../../arca-runtime/tests/fixtures/podman-seccomp.json");
    serde_json::from_str(text).expect("podman profile parses")
}

#[test]
fn podman_default_profile() {
    let f = prepare(&podman(), None).expect("podman profile compiles");
    // defaultErrnoRet 38: ENOSYS for what the profile does not know.
    assert_eq!(x86_64(&f, 450, [0; 6]), RET_ERRNO | 38);
    assert_eq!(x86_64(&f, libc::SYS_write, [0; 6]), RET_ALLOW);
    assert_eq!(x86_64(&f, libc::SYS_execve, [0; 6]), RET_ALLOW);
    assert_eq!(x86_64(&f, libc::SYS_kexec_load, [0; 6]), RET_ERRNO | 1);
    assert_eq!(
        x86_64(&f, libc::SYS_personality, [0, 0, 0, 0, 0, 0]),
        RET_ALLOW
    );
    assert_eq!(
        x86_64(&f, libc::SYS_personality, [1, 0, 0, 0, 0, 0]),
        RET_ERRNO | 38
    );
    assert_eq!(run(&f.program, AUDIT_ARCH_I386, 4, [0; 6]), RET_ALLOW); // write
}

/// The tree and the list say the same: the default profile (a tree) and a profile without
/// rules (a list: libseccomp < 2.5.4 would make a tree without rules kill everything).
#[test]
fn tree_and_list_filters_decide_alike() {
    let empty = compiled(json!({ "defaultAction": "SCMP_ACT_ALLOW" }));
    assert_eq!(x86_64(&empty, libc::SYS_getpid, [0; 6]), RET_ALLOW);
    assert_eq!(x86_64(&empty, libc::SYS_reboot, [0; 6]), RET_ALLOW);
    let default = prepare(&default_profile(), None).unwrap();
    assert_eq!(x86_64(&default, libc::SYS_getpid, [0; 6]), RET_ALLOW);
    assert_eq!(x86_64(&default, libc::SYS_read, [0; 6]), RET_ALLOW);
    assert_eq!(x86_64(&default, libc::SYS_reboot, [0; 6]), RET_ERRNO | 1);
    assert_eq!(
        x86_64(&default, libc::SYS_kexec_load, [0; 6]),
        RET_ERRNO | 1
    );
    assert_eq!(
        run(&default.program, AUDIT_ARCH_I386, 20, [0; 6]), // getpid
        RET_ALLOW
    );
}

#[test]
fn cache_roundtrip() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("nested/cache");
    let p = podman();
    let first = prepare(&p, Some(&cache)).unwrap();
    assert!(!first.from_cache());
    let file = first.cache_file().unwrap().to_owned();
    assert!(file.exists(), "cache entry written");
    let name = file.file_name().unwrap().to_str().unwrap();
    assert_eq!(name.len(), 64 + 4, "{name}");
    assert!(name.ends_with(".bpf"));
    assert_eq!(
        fs::read(&file).unwrap().len(),
        first.instructions() * INSN_SIZE
    );
    let second = prepare(&p, Some(&cache)).unwrap();
    assert!(second.from_cache());
    assert_eq!(second.cache_file(), Some(file.as_path()));
    assert_eq!(second.program, first.program);
    assert_eq!(second.flags(), first.flags());
    // No temporary files left.
    assert_eq!(fs::read_dir(&cache).unwrap().count(), 1);

    // A broken entry is replaced.
    fs::write(&file, b"garbage").unwrap();
    let third = prepare(&p, Some(&cache)).unwrap();
    assert!(!third.from_cache());
    assert_eq!(third.program, first.program);
    assert!(prepare(&p, Some(&cache)).unwrap().from_cache());
}

#[test]
fn a_profile_prepared_ahead_serves_the_next_prepare_once() {
    let dir = tempfile::tempdir().unwrap();
    let deny = profile(json!({ "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7 }] }));
    prepare_ahead(&deny, dir.path());
    let file = dir.path().join(format!("{}.bpf", cache_key(&deny)));
    // Whatever the file now holds, the program prepared ahead is what the next prepare gets.
    fs::write(&file, b"garbage").unwrap();
    let ahead = prepare(&deny, Some(dir.path())).unwrap();
    assert!(ahead.from_cache());
    assert_eq!(ahead.cache_file(), Some(file.as_path()));
    assert_eq!(x86_64(&ahead, libc::SYS_rmdir, [0; 6]), RET_ERRNO | 7);
    // Only once: the next one reads the (broken) file and compiles again.
    let again = prepare(&deny, Some(dir.path())).unwrap();
    assert!(!again.from_cache());
    assert_eq!(again.program, ahead.program);
    // Another profile, or another cache, is not served by it.
    prepare_ahead(&deny, dir.path());
    let other = tempfile::tempdir().unwrap();
    assert!(!prepare(&deny, Some(other.path())).unwrap().from_cache());
    assert!(prepare(&deny, Some(dir.path())).unwrap().from_cache());
}

#[test]
fn cache_is_used_as_is() {
    // The cached program is what gets loaded: swap two entries and the filters swap.
    let dir = tempfile::tempdir().unwrap();
    let deny = |errno: u32| {
        profile(json!({ "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno }] }))
    };
    let a = prepare(&deny(1), Some(dir.path())).unwrap();
    let b = prepare(&deny(13), Some(dir.path())).unwrap();
    fs::copy(b.cache_file().unwrap(), a.cache_file().unwrap()).unwrap();
    let a2 = prepare(&deny(1), Some(dir.path())).unwrap();
    assert!(a2.from_cache());
    assert_eq!(x86_64(&a2, libc::SYS_mkdir, [0; 6]), RET_ERRNO | 13);
}

#[test]
fn cache_key_is_canonical() {
    let a = profile(json!({ "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1 }] }));
    let b: LinuxSeccomp = serde_json::from_str(
        r#"{"syscalls":[{"errnoRet":1,"action":"SCMP_ACT_ERRNO","names":["mkdir"]}],
            "listenerPath":"/elsewhere.sock","listenerMetadata":"x",
            "defaultAction":"SCMP_ACT_ALLOW"}"#,
    )
    .unwrap();
    assert_eq!(cache_key(&a), cache_key(&b));
    let c = profile(json!({ "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 2 }] }));
    assert_ne!(cache_key(&a), cache_key(&c));
    assert_eq!(cache_key(&a).len(), 64);
}

#[test]
fn canonical_json_sorts_keys() {
    let mut out = Vec::new();
    write_canonical(
        &json!({"b": [1, {"d": "x", "c": null}], "a": true}),
        &mut out,
    );
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"a":true,"b":[1,{"c":null,"d":"x"}]}"#
    );
}

#[test]
fn listener_receives_fd_and_state() {
    use nix::sys::socket::{recvmsg, ControlMessageOwned};
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let fd: OwnedFd = rustix::fs::memfd_create("probe", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    rustix::io::write(&fd, b"hello").unwrap();
    let state = json!({ "ociVersion": "1.2.0", "id": "c1", "status": "creating",
                        "pid": 4242, "bundle": "/b" });
    send_listener_fd(&sock, &fd, state.clone(), Some("meta")).unwrap();

    let (stream, _) = listener.accept().unwrap();
    let mut buf = vec![0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .unwrap();
    let mut got = None;
    for c in msg.cmsgs().unwrap() {
        if let ControlMessageOwned::ScmRights(fds) = c {
            got = fds.first().copied();
        }
    }
    let n = msg.bytes;
    let received = arca_sys::fd::own_received(got.expect("an fd"));
    let mut text = [0u8; 5];
    rustix::io::pread(&received, &mut text, 0).unwrap();
    assert_eq!(&text, b"hello", "the very file was passed");
    let v: Value = serde_json::from_slice(&buf[..n]).unwrap();
    assert_eq!(v["ociVersion"], crate::OCI_VERSION);
    assert_eq!(v["fds"], json!(["seccompFd"]));
    assert_eq!(v["pid"], 4242);
    assert_eq!(v["metadata"], "meta");
    assert_eq!(v["state"], state);
}

#[test]
fn listener_path_errors() {
    let fd: OwnedFd = rustix::fs::memfd_create("probe", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
    let e = send_listener_fd(Path::new("/nonexistent/agent.sock"), &fd, json!({}), None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/nonexistent/agent.sock") && e.contains("connecting"),
        "{e}"
    );
}

#[test]
fn features_document() {
    let f = features();
    assert_eq!(f["enabled"], true);
    let has = |k: &str, v: &str| f[k].as_array().unwrap().iter().any(|x| x == v);
    assert!(has("actions", "SCMP_ACT_NOTIFY"));
    assert!(has("actions", "SCMP_ACT_KILL_PROCESS"));
    assert!(has("operators", "SCMP_CMP_MASKED_EQ"));
    assert!(has("archs", "SCMP_ARCH_X86_64"));
    assert!(has("knownFlags", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"));
    // Every kernel arca runs on has these (4.14+).
    assert!(has("supportedFlags", "SECCOMP_FILTER_FLAG_LOG"));
    assert!(has("supportedFlags", "SECCOMP_FILTER_FLAG_TSYNC"));
}

/// Timings, not a check: `cargo test -p arca-container --release --lib -- --ignored
/// --nocapture prepare_timings`.
#[test]
#[ignore]
fn prepare_timings() {
    let p = podman();
    let dir = tempfile::tempdir().unwrap();
    let n = 200u32;
    let t = std::time::Instant::now();
    for _ in 0..n {
        prepare(&p, None).unwrap();
    }
    let compile = t.elapsed() / n;
    prepare(&p, Some(dir.path())).unwrap();
    let t = std::time::Instant::now();
    for _ in 0..n {
        assert!(prepare(&p, Some(dir.path())).unwrap().from_cache());
    }
    let cached = t.elapsed() / n;
    let t = std::time::Instant::now();
    for _ in 0..n {
        cache_key(&p);
    }
    let key = t.elapsed() / n;
    println!("podman profile: compile {compile:?}, from cache {cached:?} (of which key {key:?})");
}
