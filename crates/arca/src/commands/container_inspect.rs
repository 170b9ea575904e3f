//! `arca inspect` of containers: the record in the field names `docker inspect` uses for the
//! common ones.

use anyhow::Result;
use arca_engine::{Engine, Status};
use serde_json::json;

pub fn inspect(engine: &Engine, containers: &[String]) -> Result<i32> {
    let mut out = Vec::new();
    for what in containers {
        let r = engine.find(what)?;
        let status = engine.status(&r);
        let (state, running) = match status {
            Status::Created => ("created", false),
            Status::Running | Status::MonitorLost { running: true } => ("running", true),
            Status::Exited(_) | Status::MonitorLost { running: false } => ("exited", false),
        };
        let time = |t: Option<i64>| t.map(rfc3339);
        let live = arca_engine::live::Live::load(&engine.dir(&r.id));
        let health = live.health.map(|h| {
            json!({
                "Status": h,
                "FailingStreak": live.failing_streak,
                "Log": live.last_checks.iter().map(|c| json!({"ExitCode": c})).collect::<Vec<_>>(),
            })
        });
        out.push(json!({
            "Id": r.id,
            "Name": format!("/{}", r.name),
            "Created": rfc3339(r.created),
            "Image": r.image_id,
            "Path": r.settings.command.first(),
            "Args": r.settings.command.get(1..).unwrap_or_default(),
            "State": {
                "Status": state,
                "Running": running,
                "Pid": r.pid.unwrap_or(0),
                "MonitorPid": r.monitor_pid.unwrap_or(0),
                "ExitCode": r.exit_code.unwrap_or(0),
                "StartedAt": time(r.started),
                "FinishedAt": time(r.finished),
                "MonitorLost": matches!(status, Status::MonitorLost { .. }),
                "Health": health,
            },
            "RestartCount": live.restart_count,
            "Config": {
                "Image": r.image,
                "Cmd": r.settings.command,
                "Tty": r.settings.tty,
                "OpenStdin": r.settings.interactive,
                "StdinOnce": r.settings.stdin_once,
                "StopSignal": r.settings.stop_signal,
                "StopTimeout": r.settings.stop_timeout,
                "Labels": r.settings.labels.iter().cloned().collect::<std::collections::BTreeMap<_, _>>(),
            },
            "HostConfig": {
                "AutoRemove": r.settings.auto_remove,
                "RestartPolicy": r.settings.restart,
            },
            "LogPath": engine.log_path(&r.id),
            "Rootfs": engine.rootfs(&r.id),
        }));
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}

/// Seconds since the epoch as RFC 3339 UTC, as Docker shows times.
fn rfc3339(secs: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    arca_engine::logs::format_rfc3339_nano(t)
}
