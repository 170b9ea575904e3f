//! The runtime's verbs, one file each, as functions over the [`Store`](crate::store::Store).

pub mod console_proxy;
pub mod create;
pub mod delete;
pub mod events;
pub mod exec;
pub mod kill;
pub mod list;
pub mod pause;
pub mod run;
pub mod start;
pub mod update;
pub mod wait;

pub use create::{create, warm_up, CreateOptions};
pub use delete::delete;
pub use exec::{exec, ExecOptions};
pub use kill::kill;
pub use list::{list, ps, ListEntry};
pub use pause::{pause, resume};
pub use run::run;
pub use start::start;
pub use update::update;
pub use wait::wait_forwarding_signals;
