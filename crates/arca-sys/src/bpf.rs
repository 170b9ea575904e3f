//! bpf(2) for the cgroup v2 device controller: load a `BPF_PROG_TYPE_CGROUP_DEVICE` program,
//! attach it to a cgroup directory, list and detach the programs attached there.
//!
//! Only the `bpf_attr` variants these commands use are defined, as `repr(C)` structs with
//! explicit padding so that no uninitialised byte reaches the kernel (which rejects non-zero
//! bytes past the fields it knows).

use std::ffi::CStr;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::Error as Errno;

/// `BPF_PROG_LOAD`.
const CMD_PROG_LOAD: libc::c_long = 5;
/// `BPF_PROG_ATTACH`.
const CMD_PROG_ATTACH: libc::c_long = 8;
/// `BPF_PROG_DETACH`.
const CMD_PROG_DETACH: libc::c_long = 9;
/// `BPF_PROG_GET_FD_BY_ID`.
const CMD_PROG_GET_FD_BY_ID: libc::c_long = 13;
/// `BPF_PROG_QUERY`.
const CMD_PROG_QUERY: libc::c_long = 16;

/// `BPF_PROG_TYPE_CGROUP_DEVICE` of `linux/bpf.h`.
pub const PROG_TYPE_CGROUP_DEVICE: u32 = 15;
/// `BPF_CGROUP_DEVICE`, the attach type of device programs.
pub const ATTACH_CGROUP_DEVICE: u32 = 6;
/// `BPF_F_ALLOW_MULTI`: several programs on one cgroup, all of which must allow.
pub const F_ALLOW_MULTI: u32 = 1 << 1;

/// One eBPF instruction (`struct bpf_insn`): `regs` holds the destination register in its low
/// nibble and the source register in its high nibble (the bitfields' little-endian layout).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Insn {
    pub code: u8,
    pub regs: u8,
    pub off: i16,
    pub imm: i32,
}

/// The `BPF_PROG_LOAD` variant of `union bpf_attr`, up to `expected_attach_type`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` / `BPF_PROG_DETACH` variant of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// The `BPF_PROG_QUERY` variant of `union bpf_attr`, up to `prog_cnt`.
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    pad: u32,
}

/// The `BPF_PROG_GET_FD_BY_ID` variant of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct GetFdByIdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

/// `bpf(cmd, attr, sizeof *attr)`.
///
/// # Safety
///
/// Every pointer stored in `attr` must be valid for what `cmd` does with it (read or written by
/// the kernel) for the length the attribute gives, for the whole call.
unsafe fn sys_bpf<T>(cmd: libc::c_long, attr: &mut T) -> nix::Result<libc::c_long> {
    let size = libc::c_uint::try_from(std::mem::size_of::<T>()).map_err(|_| Errno::E2BIG)?;
    // SAFETY: `attr` is a live, exclusively borrowed repr(C) struct of `size_of::<T>()` bytes;
    // the pointers inside it are valid per this function's contract.
    let ret = unsafe { libc::syscall(libc::SYS_bpf, cmd, attr as *mut T, size) };
    if ret < 0 {
        Err(Errno::last())
    } else {
        Ok(ret)
    }
}

fn owned_fd(ret: libc::c_long) -> nix::Result<OwnedFd> {
    let fd = RawFd::try_from(ret).map_err(|_| Errno::EBADF)?;
    // SAFETY: the syscall returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn fd_u32(fd: BorrowedFd<'_>) -> nix::Result<u32> {
    u32::try_from(fd.as_raw_fd()).map_err(|_| Errno::EBADF)
}

/// `bpf(BPF_PROG_LOAD)`: verifies and loads `insns` as a program of type `prog_type` under
/// `license`. With `log`, the verifier writes its log there (level 1), which says why a program
/// was refused. Returns the program's descriptor (close-on-exec).
pub fn prog_load(
    prog_type: u32,
    insns: &[Insn],
    license: &CStr,
    log: Option<&mut [u8]>,
) -> nix::Result<OwnedFd> {
    let mut attr = ProgLoadAttr {
        prog_type,
        insn_cnt: u32::try_from(insns.len()).map_err(|_| Errno::E2BIG)?,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        ..ProgLoadAttr::default()
    };
    let name = b"arca_devices";
    attr.prog_name[..name.len()].copy_from_slice(name);
    if let Some(log) = log {
        attr.log_level = 1;
        attr.log_size = u32::try_from(log.len()).map_err(|_| Errno::EINVAL)?;
        attr.log_buf = log.as_mut_ptr() as u64;
    }
    // SAFETY: `insns`, `license` (NUL-terminated) and `log` (for `log_size` bytes, written by
    // the kernel) all outlive the call.
    let ret = unsafe { sys_bpf(CMD_PROG_LOAD, &mut attr) }?;
    owned_fd(ret)
}

/// `bpf(BPF_PROG_ATTACH)`: attaches `prog` to the cgroup directory `cgroup` as `attach_type`.
pub fn prog_attach(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
    flags: u32,
) -> nix::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(cgroup)?,
        attach_bpf_fd: fd_u32(prog)?,
        attach_type,
        attach_flags: flags,
        replace_bpf_fd: 0,
    };
    // SAFETY: the attribute holds no pointers.
    unsafe { sys_bpf(CMD_PROG_ATTACH, &mut attr) }.map(drop)
}

/// `bpf(BPF_PROG_DETACH)`: detaches `prog` (attached as `attach_type`) from `cgroup`.
pub fn prog_detach(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
    attach_type: u32,
) -> nix::Result<()> {
    let mut attr = AttachAttr {
        target_fd: fd_u32(cgroup)?,
        attach_bpf_fd: fd_u32(prog)?,
        attach_type,
        ..AttachAttr::default()
    };
    // SAFETY: the attribute holds no pointers.
    unsafe { sys_bpf(CMD_PROG_DETACH, &mut attr) }.map(drop)
}

/// `bpf(BPF_PROG_QUERY)`: the ids of the programs attached to `cgroup` itself as
/// `attach_type` (not the inherited ones).
pub fn prog_query(cgroup: BorrowedFd<'_>, attach_type: u32) -> nix::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    loop {
        let mut attr = QueryAttr {
            target_fd: fd_u32(cgroup)?,
            attach_type,
            prog_ids: ids.as_mut_ptr() as u64,
            prog_cnt: u32::try_from(ids.len()).map_err(|_| Errno::EINVAL)?,
            ..QueryAttr::default()
        };
        // SAFETY: `ids` is valid for `prog_cnt` u32 writes for the whole call.
        match unsafe { sys_bpf(CMD_PROG_QUERY, &mut attr) } {
            Ok(_) => {
                ids.truncate(attr.prog_cnt as usize);
                return Ok(ids);
            }
            // The kernel put the real count in prog_cnt: retry with room for it.
            Err(Errno::ENOSPC) if attr.prog_cnt as usize > ids.len() => {
                ids = vec![0u32; attr.prog_cnt as usize];
            }
            Err(e) => return Err(e),
        }
    }
}

/// `bpf(BPF_PROG_GET_FD_BY_ID)`: a descriptor (close-on-exec) for the loaded program `id`.
pub fn prog_get_fd_by_id(id: u32) -> nix::Result<OwnedFd> {
    let mut attr = GetFdByIdAttr {
        prog_id: id,
        ..GetFdByIdAttr::default()
    };
    // SAFETY: the attribute holds no pointers.
    let ret = unsafe { sys_bpf(CMD_PROG_GET_FD_BY_ID, &mut attr) }?;
    owned_fd(ret)
}
