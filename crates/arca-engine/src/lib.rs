//! arca's daemonless engine: what `arca run`, `ps`, `logs`, `stop` and `rm` do, with no daemon.
//! Each container is a record in the store's SQLite catalog, a writable snapshot of its image,
//! a bundle (config.json) built from the image config and the user's flags, and, while it
//! runs detached, a small monitor process of its own that holds its stdio, writes its log,
//! records its exit and applies `--rm`. The OCI runtime is `arca-container`, called
//! in-process: no runtime binary is executed.
//!
//! - [`engine`]: the handle on one `--root` and the on-disk layout.
//! - [`container`]: create (record, snapshot, bundle), status, stop, kill, remove.
//! - [`monitor`]: running it, in the foreground or under its monitor process.
//! - [`attach`]: clients on a detached container's stdio, through its monitor's socket.
//! - [`exec`]: another process in a running container (`exec -i -t -d -e -u -w`).
//! - [`restart`]: restart policies, applied by the monitor.
//! - [`rootless`]: the engine run by an ordinary user (its user and mount namespaces).
//! - [`live`]: the monitor's live state (restart count, health) for `ps` and `inspect`.
//! - [`health`]: healthchecks, run by the monitor (no systemd timers needed).
//! - [`manage`]: pause/unpause, rename, top, stats, container prune.
//! - [`prune`]: what the prune verbs share (bytes freed, images in use).
//! - [`records`]: container records in SQLite, shared by concurrent arca processes.
//! - [`command`]: the command looked up in the rootfs first (exit 126 / 127 as Docker).
//! - [`names`]: ids and generated names.
//! - [`network`]: `--network`, `-p`, `--dns`, hosts files, on `arca-net`'s CNI attachments.
//! - [`spec`]: the OCI runtime spec of a container, from its image config and `RunConfig`.
//! - [`volumes`]: named and anonymous volumes (`<root>/volumes/<name>/_data`).
//! - [`logs`]: container logs as JSON lines (Docker's json-file format), written with
//!   rotation and read back with `--follow`, `--tail`, `--since` and timestamps.

pub mod attach;
pub mod command;
mod console;
pub mod container;
pub mod copy;
pub mod engine;
pub mod error;
pub mod exec;
pub mod health;
pub mod live;
pub mod logs;
pub mod manage;
pub mod monitor;
pub mod names;
pub mod network;
pub mod prune;
pub mod records;
pub mod restart;
pub mod rootless;
pub mod spec;
pub mod volumes;

pub use container::{CreateRequest, Status};
pub use engine::Engine;
pub use error::EngineError;
pub use records::{Record, Settings, State};
