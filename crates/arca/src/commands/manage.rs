//! `arca pause`, `unpause`, `rename`, `top`, `stats`, `container prune`, `version`, `info`.

use std::time::Duration;

use anyhow::Result;
use arca_engine::manage::cpu_percent;
use arca_engine::Engine;

use super::stop::each;
use crate::units;

pub fn pause(engine: &Engine, containers: &[String]) -> Result<i32> {
    each(containers, |what| Ok(engine.pause(&engine.find(what)?)?))
}

pub fn unpause(engine: &Engine, containers: &[String]) -> Result<i32> {
    each(containers, |what| Ok(engine.unpause(&engine.find(what)?)?))
}

pub fn rename(engine: &Engine, container: &str, name: &str) -> Result<i32> {
    engine.rename(&engine.find(container)?, name)?;
    Ok(0)
}

/// The container's processes as `ps -o pid,user,time,args` would show them, read from /proc
/// (nothing from the container is run on the host).
pub fn top(engine: &Engine, container: &str) -> Result<i32> {
    let pids = engine.top(&engine.find(container)?)?;
    let mut rows = vec![["PID".to_owned(), "UID".to_owned(), "CMD".to_owned()]];
    for pid in pids {
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmd: Vec<String> = cmd
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let uid = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Uid:"))
                    .and_then(|u| u.split_whitespace().nth(1).map(str::to_owned))
            })
            .unwrap_or_default();
        rows.push([pid.to_string(), uid, cmd.join(" ")]);
    }
    units::print_table(&rows);
    Ok(0)
}

/// One sample per container (two reads 500 ms apart for the CPU figure), as
/// `docker stats --no-stream`; a live display repeats it every second.
pub fn stats(engine: &Engine, containers: &[String], no_stream: bool) -> Result<i32> {
    let recs = if containers.is_empty() {
        engine
            .records()
            .list()?
            .into_iter()
            .filter(|r| engine.status(r) == arca_engine::Status::Running)
            .collect()
    } else {
        containers
            .iter()
            .map(|c| engine.find(c))
            .collect::<Result<Vec<_>, _>>()?
    };
    loop {
        let first: Vec<_> = recs
            .iter()
            .map(|r| engine.usage(r))
            .collect::<Result<_, _>>()?;
        std::thread::sleep(Duration::from_millis(500));
        let mut rows = vec![[
            "CONTAINER ID".to_owned(),
            "NAME".to_owned(),
            "CPU %".to_owned(),
            "MEM USAGE / LIMIT".to_owned(),
            "PIDS".to_owned(),
        ]];
        for (r, a) in recs.iter().zip(&first) {
            let b = engine.usage(r)?;
            let limit = if b.mem_limit >= 1 << 60 {
                "unlimited".to_owned()
            } else {
                units::size(b.mem_limit)
            };
            rows.push([
                r.id.chars().take(12).collect(),
                r.name.clone(),
                format!("{:.2}%", cpu_percent(a, &b)),
                format!("{} / {limit}", units::size(b.mem_usage)),
                b.pids.to_string(),
            ]);
        }
        units::print_table(&rows);
        if no_stream {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

pub fn prune(engine: &Engine) -> Result<i32> {
    let removed = engine.prune()?.removed;
    if !removed.is_empty() {
        println!("Deleted Containers:");
        for id in &removed {
            println!("{id}");
        }
    }
    println!("Total reclaimed containers: {}", removed.len());
    Ok(0)
}

pub fn version() -> Result<i32> {
    println!("arca version {}", env!("CARGO_PKG_VERSION"));
    println!(
        "OCI runtime spec {} (in-process)",
        arca_container::OCI_VERSION
    );
    Ok(0)
}

pub fn info(engine: &Engine, driver: &str) -> Result<i32> {
    let recs = engine.records().list()?;
    let running = recs
        .iter()
        .filter(|r| engine.status(r) == arca_engine::Status::Running)
        .count();
    println!("Containers: {}", recs.len());
    println!(" Running: {running}");
    println!(" Stopped: {}", recs.len() - running);
    println!("Storage Driver: {driver} (file-level dedup)");
    println!("Logging Driver: json-file");
    println!("Cgroup: {:?}", arca_cgroups_version());
    println!("Root Dir: {}", engine.root().display());
    println!(
        "Kernel Version: {}",
        rustix::system::uname().release().to_string_lossy()
    );
    Ok(0)
}

/// v1, hybrid or v2, from the mounts.
fn arca_cgroups_version() -> String {
    let unified = std::fs::metadata("/sys/fs/cgroup/cgroup.controllers").is_ok();
    let hybrid = std::fs::metadata("/sys/fs/cgroup/unified").is_ok();
    match (unified, hybrid) {
        (true, _) => "v2".into(),
        (false, true) => "hybrid (v1 + cgroup2 at /sys/fs/cgroup/unified)".into(),
        _ => "v1".into(),
    }
}
