//! arca's OCI runtime library: everything `arca-runtime` (and later the engine, in-process) does
//! to a container, one module per concept.
//!
//! Process model (crun's): `create` clones the runtime once with the namespace flags; the child
//! ([`init`]) sets the container up and waits on the exec fifo; `start` writes to the fifo and the
//! child execs the user's process. Parent and child talk over one typed channel ([`channel`]).

pub mod capabilities;
pub mod channel;
pub mod cloned_binary;
pub mod container;
pub mod error;
pub mod features;
pub mod hooks;
pub mod init;
pub mod lsm;
pub mod namespaces;
pub mod paths;
pub mod rootless;
pub mod seccomp;
pub mod signal;
pub mod spec;
pub mod state;
pub mod store;

pub use error::{Error, Result};

/// The OCI runtime-spec version this runtime implements.
pub const OCI_VERSION: &str = "1.2.0";
