//! `arca inspect` of containers: the record in the field names `docker inspect` uses for the
//! common ones.

use anyhow::Result;
use arca_engine::network::NetworkMode;
use arca_engine::{Engine, Record, Status};
use serde_json::{json, Value};

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
        // Docker's State: a frozen container is still Running, with Status "paused".
        let paused = running && engine.paused(&r);
        let state = if paused { "paused" } else { state };
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
                "Paused": paused,
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
                "Init": r.settings.init,
                "RestartPolicy": r.settings.restart,
                "NetworkMode": network_mode(&r.settings.network.mode),
                "Dns": r.settings.network.dns,
                "DnsSearch": r.settings.network.dns_search,
                "DnsOptions": r.settings.network.dns_options,
                "ExtraHosts": r.settings.network.add_hosts.iter().map(|(n, ip)| format!("{n}:{ip}")).collect::<Vec<_>>(),
            },
            "NetworkSettings": network_settings(engine, &r),
            "LogPath": engine.log_path(&r.id),
            "Rootfs": engine.rootfs(&r.id),
        }));
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}

fn network_mode(mode: &NetworkMode) -> String {
    match mode {
        NetworkMode::None => "none".into(),
        NetworkMode::Host => "host".into(),
        NetworkMode::Container(id) => format!("container:{id}"),
        NetworkMode::Cni(names) => names.first().cloned().unwrap_or_else(|| "none".into()),
        NetworkMode::Pasta(_) => "pasta".into(),
    }
}

/// Docker's `NetworkSettings`: the first network's address at the top, each network's below,
/// and the published ports as `{"80/tcp": [{"HostIp", "HostPort"}]}`.
fn network_settings(engine: &Engine, r: &Record) -> Value {
    let attachments = engine.attachments(&r.id);
    let mut networks = serde_json::Map::new();
    for a in &attachments {
        let p = a.primary();
        networks.insert(
            a.network.clone(),
            json!({
                "IPAddress": p.as_ref().map(|p| p.ip.to_string()).unwrap_or_default(),
                "IPPrefixLen": p.as_ref().map_or(0, |p| p.prefix),
                "Gateway": p.as_ref().and_then(|p| p.gateway).map(|g| g.to_string()).unwrap_or_default(),
                "Interface": a.ifname,
            }),
        );
    }
    let mut ports = serde_json::Map::new();
    for m in engine.published_ports(r) {
        let key = format!("{}/{}", m.container_port, m.protocol.as_str());
        let binding = json!({
            "HostIp": m.host_ip.map_or("0.0.0.0".to_owned(), |i| i.to_string()),
            "HostPort": m.host_port.to_string(),
        });
        match ports.get_mut(&key).and_then(Value::as_array_mut) {
            Some(list) => list.push(binding),
            None => {
                ports.insert(key, json!([binding]));
            }
        }
    }
    let first = attachments.first().and_then(|a| a.primary());
    json!({
        "IPAddress": first.as_ref().map(|p| p.ip.to_string()).unwrap_or_default(),
        "IPPrefixLen": first.as_ref().map_or(0, |p| p.prefix),
        "Gateway": first.as_ref().and_then(|p| p.gateway).map(|g| g.to_string()).unwrap_or_default(),
        "SandboxKey": attachments.first().map(|a| a.netns.clone()),
        "Ports": ports,
        "Networks": networks,
    })
}

/// Seconds since the epoch as RFC 3339 UTC, as Docker shows times.
fn rfc3339(secs: i64) -> String {
    let t =
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::try_from(secs).unwrap_or(0));
    arca_engine::logs::format_rfc3339_nano(t)
}
