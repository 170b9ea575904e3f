//! The one place in arca where `unsafe` is allowed.
//!
//! Everything here is a thin, typed wrapper around a syscall that neither `nix` nor `rustix`
//! offers (or offers in a form that does not fit the runtime's single-clone process model).
//! Each wrapper returns `nix::Result` so callers can map errno to their own typed errors.
//! Also here, being needed by every layer: [`fs::Replace`], the one way arca replaces a file.
#![allow(unsafe_code)]

pub mod bpf;
pub mod clone;
pub mod fd;
pub mod fs;
pub mod mount;
pub mod net;
pub mod process;
pub mod seccomp;
pub mod signal;
pub mod tty;

pub use nix::Error as Errno;
