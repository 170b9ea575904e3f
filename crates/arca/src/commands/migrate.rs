//! `arca system migrate` (Podman's): for a rootless user, stops every running container, then
//! the pause process that holds the user's namespaces, so nothing of arca keeps running and
//! the next command makes fresh namespaces (with the ids /etc/subuid and /etc/subgid allot by
//! then). Nothing to do for root.

use anyhow::Result;
use arca_engine::{Engine, Status};

pub fn migrate(engine: &Engine) -> Result<i32> {
    if !engine.is_rootless() {
        return Ok(0);
    }
    for rec in engine.records().list()? {
        if engine.status(&rec) == Status::Running {
            engine.stop(&rec, super::run::stop_timeout(&rec, None))?;
        }
    }
    arca_engine::rootless::pause::stop(&arca_engine::rootless::run_dir());
    Ok(0)
}
