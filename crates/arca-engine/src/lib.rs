//! arca's daemonless engine: what `arca run`, `ps`, `logs`, `stop` and `rm` do, with no daemon.
//! Each container is a record in the store's SQLite catalog, a writable snapshot of its image,
//! a bundle (config.json) built from the image config and the user's flags, and, while it
//! runs, a small monitor process of its own that holds its stdio, writes its log, records its
//! exit and applies `--rm`. The OCI runtime is `arca-container`, called in-process.
//!
//! - [`spec`]: the OCI runtime spec of a container, from its image config and `RunConfig`.
//! - [`logs`]: container logs as JSON lines (Docker's json-file format), written with
//!   rotation and read back with `--follow`, `--tail`, `--since` and timestamps.

pub mod logs;
pub mod spec;
