//! Resource usage of a cgroup in the JSON shape of runc's `events --stats` (runc's
//! `types.Stats`), which containerd's metrics and other runc consumers parse.

use serde::Serialize;

/// Placeholder until the stats collector lands.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Stats {}
