//! `arca logs`: a container's log (JSON lines, rotated) as it was written, stdout to stdout
//! and stderr to stderr; `-f` follows until the container stops.

use std::time::SystemTime;

use anyhow::{Context, Result};
use arca_engine::logs::{self, ReadOptions};
use arca_engine::{Engine, Status};

use crate::cli::LogsArgs;

pub fn logs(engine: &Engine, a: &LogsArgs) -> Result<i32> {
    let rec = engine.find(&a.container)?;
    let now = SystemTime::now();
    let tail = match a.tail.as_str() {
        "all" | "-1" => None,
        n => Some(
            n.parse::<usize>()
                .with_context(|| format!("--tail {n:?}"))?,
        ),
    };
    let opts = ReadOptions {
        follow: a.follow,
        tail,
        since: a
            .since
            .as_deref()
            .map(|s| logs::parse_since(s, now))
            .transpose()?,
        until: a
            .until
            .as_deref()
            .map(|s| logs::parse_since(s, now))
            .transpose()?,
        timestamps: a.timestamps,
    };
    let id = rec.id.clone();
    let done = || {
        engine
            .records()
            .resolve(&id)
            .ok()
            .flatten()
            .is_none_or(|r| !matches!(engine.status(&r), Status::Running | Status::Created))
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let path = engine.log_path(&rec.id);
    if !path.exists() {
        return Ok(0);
    }
    logs::read(&path, &opts, &mut out, &mut err, &done)?;
    Ok(0)
}
