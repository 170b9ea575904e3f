//! The cgroup v2 device controller: the spec's ordered device rules compiled into a
//! `BPF_PROG_TYPE_CGROUP_DEVICE` program and attached to the container's cgroup, as runc's
//! `libcontainer/cgroups/devices` (devices_emulator.go + devicefilter.go) does.
//!
//! The rules first go through runc's emulator of the v1 `devices.allow`/`devices.deny` files, so
//! that v2 behaves as v1 would: an "a" rule resets the cgroup to allow-all or deny-all, later
//! rules add or remove exceptions to that default (with runc's refusal to punch a hole into a
//! wildcard exception). The program then checks each remaining exception (sorted by major,
//! minor, type) and returns the opposite of the default on the first match, else the default.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use arca_sys::bpf::{self, Insn};
use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::error::CgroupError;

/// `BPF_DEVCG_ACC_*` of `linux/bpf.h`, used as the permission bits throughout.
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;
const ACC_ALL: i32 = ACC_MKNOD | ACC_READ | ACC_WRITE;
/// `BPF_DEVCG_DEV_*` of `linux/bpf.h`.
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;

/// License of the program; device programs call no GPL-only helper. runc's.
const LICENSE: &std::ffi::CStr = c"Apache";

/// The match part of an exception; field order gives runc's sort order (major, minor, type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Meta {
    /// -1 is a wildcard.
    major: i64,
    minor: i64,
    /// [`DEV_BLOCK`] or [`DEV_CHAR`] (b < c, as runc's byte order).
    typ: i32,
}

/// runc's `emulator`: the state a v1 devices cgroup would be in after the rules.
#[derive(Debug, Default)]
struct Emulator {
    default_allow: bool,
    exceptions: BTreeMap<Meta, i32>,
}

impl Emulator {
    fn apply(&mut self, rule: &LinuxDeviceCgroup) -> Result<(), CgroupError> {
        let typ = match rule.typ().unwrap_or(LinuxDeviceType::A) {
            LinuxDeviceType::A => None,
            LinuxDeviceType::B => Some(DEV_BLOCK),
            LinuxDeviceType::C => Some(DEV_CHAR),
            other => {
                return Err(invalid(format!(
                    "type {:?} cannot be used in a device cgroup rule",
                    other.as_str()
                )))
            }
        };
        let perms = parse_access(rule.access().as_deref())?;
        let number = |n: Option<i64>, what: &str| match n {
            None => Ok(-1),
            Some(n) if n < 0 => Ok(-1),
            Some(n) if n > i64::from(u32::MAX) => Err(invalid(format!("{what} {n} out of range"))),
            Some(n) => Ok(n),
        };
        let Some(typ) = typ else {
            // "a" resets everything: allow-all (block list) or deny-all (allow list).
            *self = Emulator {
                default_allow: rule.allow(),
                exceptions: BTreeMap::new(),
            };
            return Ok(());
        };
        let meta = Meta {
            major: number(rule.major(), "major")?,
            minor: number(rule.minor(), "minor")?,
            typ,
        };
        if rule.allow() == self.default_allow {
            self.remove(meta, perms)
        } else {
            *self.exceptions.entry(meta).or_insert(0) |= perms;
            Ok(())
        }
    }

    /// runc's `rmRule`: removing part of what a wildcard exception grants is refused (v1 would
    /// silently ignore it).
    fn remove(&mut self, meta: Meta, perms: i32) -> Result<(), CgroupError> {
        for partial in [
            Meta { major: -1, ..meta },
            Meta { minor: -1, ..meta },
            Meta {
                major: -1,
                minor: -1,
                ..meta
            },
        ] {
            if partial == meta {
                continue;
            }
            if self
                .exceptions
                .get(&partial)
                .is_some_and(|p| p & perms != 0)
            {
                return Err(invalid(format!(
                    "rule {} {}:{} cannot punch a hole into the wildcard exception {} {}:{}",
                    type_char(meta.typ),
                    num_str(meta.major),
                    num_str(meta.minor),
                    type_char(partial.typ),
                    num_str(partial.major),
                    num_str(partial.minor),
                )));
            }
        }
        if let Some(p) = self.exceptions.get_mut(&meta) {
            *p &= !perms;
            if *p == 0 {
                self.exceptions.remove(&meta);
            }
        }
        Ok(())
    }
}

fn invalid(reason: String) -> CgroupError {
    CgroupError::InvalidResource {
        resource: "linux.resources.devices",
        reason,
    }
}

fn type_char(typ: i32) -> char {
    if typ == DEV_BLOCK {
        'b'
    } else {
        'c'
    }
}

fn num_str(n: i64) -> String {
    if n < 0 {
        "*".to_owned()
    } else {
        n.to_string()
    }
}

/// "rwm" in any order and combination; absent or empty means all three.
fn parse_access(access: Option<&str>) -> Result<i32, CgroupError> {
    let access = access.unwrap_or("");
    if access.is_empty() {
        return Ok(ACC_ALL);
    }
    access.chars().try_fold(0, |acc, c| match c {
        'r' => Ok(acc | ACC_READ),
        'w' => Ok(acc | ACC_WRITE),
        'm' => Ok(acc | ACC_MKNOD),
        _ => Err(invalid(format!("unknown access {access:?}"))),
    })
}

// Instruction encoding (`linux/bpf_common.h`, `linux/bpf.h`).
const BPF_LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const BPF_ALU_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const BPF_ALU_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const BPF_ALU_MOV_K: u8 = 0xb4; // BPF_ALU | BPF_MOV | BPF_K
const BPF_ALU_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const BPF_JMP_JNE_K: u8 = 0x55; // BPF_JMP | BPF_JNE | BPF_K
const BPF_JMP_JNE_X: u8 = 0x5d; // BPF_JMP | BPF_JNE | BPF_X
const BPF_JMP_EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

fn insn(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        code,
        regs: (src << 4) | (dst & 0x0f),
        off,
        imm,
    }
}

/// `return v`.
fn ret(v: bool) -> [Insn; 2] {
    [
        insn(BPF_ALU_MOV_K, 0, 0, 0, i32::from(v)),
        insn(BPF_JMP_EXIT, 0, 0, 0, 0),
    ]
}

/// The program for `rules` (in spec order), instruction for instruction what runc's
/// `deviceFilter` emits for the same rules.
pub(crate) fn program(rules: &[LinuxDeviceCgroup]) -> Result<Vec<Insn>, CgroupError> {
    let mut emu = Emulator::default();
    for r in rules {
        emu.apply(r)?;
    }
    // struct bpf_cgroup_dev_ctx { u32 access_type (type | access << 16); u32 major; u32 minor; }
    let mut p = vec![
        insn(BPF_LDX_MEM_W, 2, 1, 0, 0), // r2 = type
        insn(BPF_ALU_AND_K, 2, 0, 0, 0xffff),
        insn(BPF_LDX_MEM_W, 3, 1, 0, 0), // r3 = access
        insn(BPF_ALU_RSH_K, 3, 0, 0, 16),
        insn(BPF_LDX_MEM_W, 4, 1, 4, 0), // r4 = major
        insn(BPF_LDX_MEM_W, 5, 1, 8, 0), // r5 = minor
    ];
    for (meta, perms) in &emu.exceptions {
        // Each `None` offset jumps to the next block once the block's length is known.
        let mut block: Vec<(Insn, bool)> = vec![(insn(BPF_JMP_JNE_K, 2, 0, 0, meta.typ), true)];
        if *perms != ACC_ALL {
            // if (r3 & perms) != r3: the access asked for is not a subset of the allowed one.
            block.push((insn(BPF_ALU_MOV_X, 1, 3, 0, 0), false));
            block.push((insn(BPF_ALU_AND_K, 1, 0, 0, *perms), false));
            block.push((insn(BPF_JMP_JNE_X, 1, 3, 0, 0), true));
        }
        for (n, reg) in [(meta.major, 4), (meta.minor, 5)] {
            // -1 is a wildcard; else a u32 (range-checked by the emulator) whose bits go in the
            // immediate, as runc's int32().
            if let Ok(n) = u32::try_from(n) {
                let imm = i32::from_ne_bytes(n.to_ne_bytes());
                block.push((insn(BPF_JMP_JNE_K, reg, 0, 0, imm), true));
            }
        }
        for i in ret(!emu.default_allow) {
            block.push((i, false));
        }
        let len = block.len();
        for (idx, (mut i, jumps)) in block.into_iter().enumerate() {
            if jumps {
                i.off = i16::try_from(len - idx - 1).unwrap_or(i16::MAX);
            }
            p.push(i);
        }
    }
    p.extend(ret(emu.default_allow));
    Ok(p)
}

/// Compiles `rules`, loads the program and attaches it to the cgroup directory `dir`, then
/// detaches whatever device programs were attached there before (an earlier `apply`), as runc's
/// `LoadAttachCgroupDeviceFilter`. A directory that is not on cgroup2 (a fake tree in tests)
/// only gets the rules validated.
pub(crate) fn apply(dir: &Path, rules: &[LinuxDeviceCgroup]) -> Result<(), CgroupError> {
    let insns = program(rules)?;
    let err = |op: &str, source: nix::Error| CgroupError::Bpf {
        path: dir.to_owned(),
        op: op.to_owned(),
        source,
    };
    match nix::sys::statfs::statfs(dir) {
        Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => {}
        Ok(_) => {
            tracing::debug!(
                "{} is not on cgroup2: device rules not attached",
                dir.display()
            );
            return Ok(());
        }
        Err(e) => return Err(err("statfs", e)),
    }
    let cgroup = File::open(dir).map_err(|source| CgroupError::Read {
        path: dir.to_owned(),
        source,
    })?;
    let old = bpf::prog_query(cgroup.as_fd(), bpf::ATTACH_CGROUP_DEVICE)
        .map_err(|e| err("BPF_PROG_QUERY", e))?;
    let prog = match bpf::prog_load(bpf::PROG_TYPE_CGROUP_DEVICE, &insns, LICENSE, None) {
        Ok(fd) => fd,
        Err(e) => {
            // Load again with the verifier's log, which says what it refused.
            let mut log = vec![0u8; 64 * 1024];
            let _ = bpf::prog_load(
                bpf::PROG_TYPE_CGROUP_DEVICE,
                &insns,
                LICENSE,
                Some(&mut log),
            );
            let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
            let text = String::from_utf8_lossy(&log[..end]);
            return Err(err(
                &format!("BPF_PROG_LOAD (verifier: {})", text.trim()),
                e,
            ));
        }
    };
    bpf::prog_attach(
        cgroup.as_fd(),
        prog.as_fd(),
        bpf::ATTACH_CGROUP_DEVICE,
        bpf::F_ALLOW_MULTI,
    )
    .map_err(|e| err("BPF_PROG_ATTACH", e))?;
    for id in old {
        let old_prog = bpf::prog_get_fd_by_id(id).map_err(|e| err("BPF_PROG_GET_FD_BY_ID", e))?;
        bpf::prog_detach(cgroup.as_fd(), old_prog.as_fd(), bpf::ATTACH_CGROUP_DEVICE)
            .map_err(|e| err("BPF_PROG_DETACH", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::default_allowed_devices;

    use crate::device_rule as rule;

    /// runc's `asm.Instructions.String()` notation, jump targets as offsets.
    fn render(p: &[Insn]) -> Vec<String> {
        p.iter()
            .map(|i| {
                let (dst, src) = (i.regs & 0xf, i.regs >> 4);
                match i.code {
                    BPF_LDX_MEM_W => {
                        format!("LdXMemW dst: r{dst} src: r{src} off: {} imm: 0", i.off)
                    }
                    BPF_ALU_AND_K => format!("AndImm32 dst: r{dst} imm: {}", i.imm),
                    BPF_ALU_RSH_K => format!("RShImm32 dst: r{dst} imm: {}", i.imm),
                    BPF_ALU_MOV_K => format!("MovImm32 dst: r{dst} imm: {}", i.imm),
                    BPF_ALU_MOV_X => format!("MovReg32 dst: r{dst} src: r{src}"),
                    BPF_JMP_JNE_K => format!("JNEImm dst: r{dst} off: {} imm: {}", i.off, i.imm),
                    BPF_JMP_JNE_X => format!("JNEReg dst: r{dst} off: {} src: r{src}", i.off),
                    BPF_JMP_EXIT => "Exit".to_owned(),
                    c => format!("unknown {c:#x}"),
                }
            })
            .collect()
    }

    const PROLOGUE: [&str; 6] = [
        "LdXMemW dst: r2 src: r1 off: 0 imm: 0",
        "AndImm32 dst: r2 imm: 65535",
        "LdXMemW dst: r3 src: r1 off: 0 imm: 0",
        "RShImm32 dst: r3 imm: 16",
        "LdXMemW dst: r4 src: r1 off: 4 imm: 0",
        "LdXMemW dst: r5 src: r1 off: 8 imm: 0",
    ];

    fn expect(rules: &[LinuxDeviceCgroup], body: &[&str]) {
        let want: Vec<String> = PROLOGUE
            .iter()
            .chain(body)
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(render(&program(rules).unwrap()), want);
    }

    fn block(
        typ: i32,
        major: Option<i64>,
        minor: Option<i64>,
        access: Option<i32>,
        ret: i32,
    ) -> Vec<String> {
        let mut b = vec![format!("JNEImm dst: r2 off: OFF imm: {typ}")];
        if let Some(a) = access {
            b.push("MovReg32 dst: r1 src: r3".to_owned());
            b.push(format!("AndImm32 dst: r1 imm: {a}"));
            b.push("JNEReg dst: r1 off: OFF src: r3".to_owned());
        }
        if let Some(m) = major {
            b.push(format!("JNEImm dst: r4 off: OFF imm: {m}"));
        }
        if let Some(m) = minor {
            b.push(format!("JNEImm dst: r5 off: OFF imm: {m}"));
        }
        b.push(format!("MovImm32 dst: r0 imm: {ret}"));
        b.push("Exit".to_owned());
        let len = b.len();
        b.into_iter()
            .enumerate()
            .map(|(i, l)| l.replace("OFF", &(len - i - 1).to_string()))
            .collect()
    }

    #[test]
    fn no_rules_denies_everything() {
        expect(&[], &["MovImm32 dst: r0 imm: 0", "Exit"]);
    }

    #[test]
    fn allow_all_is_runcs_privileged_program() {
        expect(
            &[rule(true, LinuxDeviceType::A, None, None, "rwm")],
            &["MovImm32 dst: r0 imm: 1", "Exit"],
        );
    }

    /// runc's TestDeviceFilter_BuiltInAllowList, without the tun rule runc ≥ 1.2 dropped:
    /// exceptions sorted by (major, minor, type), wildcards (-1) first.
    #[test]
    fn default_rules_match_runcs_builtin_allow_list() {
        let mut rules = vec![rule(false, LinuxDeviceType::A, None, None, "rwm")];
        rules.extend(default_allowed_devices());
        let mut want: Vec<String> = Vec::new();
        want.extend(block(1, None, None, Some(1), 1));
        want.extend(block(2, None, None, Some(1), 1));
        for minor in [3, 5, 7, 8, 9] {
            want.extend(block(2, Some(1), Some(minor), None, 1));
        }
        want.extend(block(2, Some(5), Some(0), None, 1));
        want.extend(block(2, Some(5), Some(2), None, 1));
        want.extend(block(2, Some(136), None, None, 1));
        want.push("MovImm32 dst: r0 imm: 0".to_owned());
        want.push("Exit".to_owned());
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        expect(&rules, &want);
        // The first block, spelled out as in runc's test.
        let p = render(&program(&rules).unwrap());
        assert_eq!(
            p[6..12],
            [
                "JNEImm dst: r2 off: 5 imm: 1",
                "MovReg32 dst: r1 src: r3",
                "AndImm32 dst: r1 imm: 1",
                "JNEReg dst: r1 off: 2 src: r3",
                "MovImm32 dst: r0 imm: 1",
                "Exit",
            ]
        );
    }

    /// runc's TestDeviceFilter_PrivilegedExceptSingleDevice.
    #[test]
    fn allow_all_except_one_device() {
        let rules = [
            rule(true, LinuxDeviceType::A, None, None, "rwm"),
            rule(false, LinuxDeviceType::B, Some(8), Some(0), "rwm"),
        ];
        let mut want = block(1, Some(8), Some(0), None, 0);
        want.push("MovImm32 dst: r0 imm: 1".to_owned());
        want.push("Exit".to_owned());
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        expect(&rules, &want);
    }

    /// runc's TestDeviceFilter_Weird: "a" resets, so the deny of 8:1 before it is lost.
    #[test]
    fn rules_before_a_reset_are_dropped() {
        let rules = [
            rule(false, LinuxDeviceType::B, Some(8), Some(1), "rwm"),
            rule(true, LinuxDeviceType::A, None, None, "rwm"),
            rule(false, LinuxDeviceType::B, Some(8), Some(2), "rwm"),
        ];
        let mut want = block(1, Some(8), Some(2), None, 0);
        want.push("MovImm32 dst: r0 imm: 1".to_owned());
        want.push("Exit".to_owned());
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        expect(&rules, &want);
    }

    #[test]
    fn later_deny_removes_earlier_allow_and_permissions_merge() {
        let rules = [
            rule(false, LinuxDeviceType::A, None, None, "rwm"),
            rule(true, LinuxDeviceType::C, Some(1), Some(11), "r"),
            rule(true, LinuxDeviceType::C, Some(1), Some(11), "w"),
            rule(true, LinuxDeviceType::C, Some(1), Some(1), "rw"),
            rule(false, LinuxDeviceType::C, Some(1), Some(1), "rw"),
        ];
        let mut want = block(2, Some(1), Some(11), Some(ACC_READ | ACC_WRITE), 1);
        want.push("MovImm32 dst: r0 imm: 0".to_owned());
        want.push("Exit".to_owned());
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        expect(&rules, &want);
    }

    #[test]
    fn hole_in_wildcard_and_bad_rules_are_refused() {
        let hole = [
            rule(false, LinuxDeviceType::A, None, None, "rwm"),
            rule(true, LinuxDeviceType::C, Some(136), None, "rwm"),
            rule(false, LinuxDeviceType::C, Some(136), Some(1), "w"),
        ];
        assert!(program(&hole).is_err());
        assert!(program(&[rule(true, LinuxDeviceType::C, Some(1), Some(3), "rwx")]).is_err());
        assert!(program(&[rule(true, LinuxDeviceType::P, Some(1), Some(3), "r")]).is_err());
        assert!(program(&[rule(true, LinuxDeviceType::C, Some(1 << 33), Some(3), "r")]).is_err());
    }

    #[test]
    fn instruction_bytes() {
        // r2 = *(u32 *)(r1 + 0): code 0x61, dst 2 in the low nibble, src 1 in the high one.
        assert_eq!(
            insn(BPF_LDX_MEM_W, 2, 1, 0, 0),
            Insn {
                code: 0x61,
                regs: 0x12,
                off: 0,
                imm: 0
            }
        );
        assert_eq!(std::mem::size_of::<Insn>(), 8);
    }
}
