//! `arca ps`: the container records as Docker's table, ids, JSON, or a Go-template subset,
//! with Docker's filters. The status comes from the record and what is alive: a container
//! whose monitor was killed shows as such (and `rm -f` cleans it up).

use anyhow::{bail, Result};
use arca_engine::live::{Health, Live};
use arca_engine::{Engine, Record, Status};
use serde_json::json;

use crate::cli::PsArgs;
use crate::units;

pub fn ps(engine: &Engine, a: &PsArgs) -> Result<i32> {
    let filters = a
        .filter
        .iter()
        .map(|f| {
            f.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| anyhow::anyhow!("--filter {f:?}: expected KEY=VALUE"))
        })
        .collect::<Result<Vec<_>>>()?;
    let now = arca_now();
    let mut rows = Vec::new();
    for r in engine.records().list()? {
        let status = engine.status(&r);
        let shown = a.all
            || matches!(
                status,
                Status::Running | Status::MonitorLost { running: true }
            )
            || filters.iter().any(|(k, _)| k == "status");
        if shown && matches_all(&r, status, &filters)? {
            let live = Live::load(&engine.dir(&r.id));
            let paused = status == Status::Running && engine.paused(&r);
            let mut row = Row::new(&r, status, now, a.no_trunc, &live, paused);
            if status == Status::Running {
                row.ports = ports_text(engine, &r);
            }
            rows.push(row);
        }
    }
    if a.quiet {
        for r in &rows {
            println!("{}", r.id);
        }
        return Ok(0);
    }
    match a.format.as_str() {
        "table" => {
            let mut t = vec![[
                "CONTAINER ID".to_owned(),
                "IMAGE".to_owned(),
                "COMMAND".to_owned(),
                "CREATED".to_owned(),
                "STATUS".to_owned(),
                "PORTS".to_owned(),
                "NAMES".to_owned(),
            ]];
            for r in &rows {
                t.push([
                    r.id.clone(),
                    r.image.clone(),
                    r.command.clone(),
                    r.created.clone(),
                    r.status.clone(),
                    r.ports.clone(),
                    r.name.clone(),
                ]);
            }
            units::print_table(&t);
        }
        "json" => {
            let v: Vec<_> = rows.iter().map(Row::json).collect();
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        template => {
            let (header, body) = match template.strip_prefix("table ") {
                Some(b) => (true, b),
                None => (false, template),
            };
            if header {
                println!("{}", render(body, &Row::header()));
            }
            for r in &rows {
                println!("{}", render(body, r));
            }
        }
    }
    Ok(0)
}

fn arca_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Docker's `--filter` keys: every one must match (values of one key: any).
fn matches_all(r: &Record, status: Status, filters: &[(String, String)]) -> Result<bool> {
    let keys: std::collections::BTreeSet<&str> = filters.iter().map(|(k, _)| k.as_str()).collect();
    for key in keys {
        let any = filters
            .iter()
            .filter(|(k, _)| k == key)
            .any(|(_, v)| match key {
                "name" => r.name.contains(v.as_str()),
                "id" => r.id.starts_with(v.as_str()),
                "ancestor" => {
                    r.image == *v
                        || r.image_id
                            .trim_start_matches("sha256:")
                            .starts_with(v.as_str())
                }
                "status" => state_word(status) == v,
                "label" => {
                    let (k, want) = v
                        .split_once('=')
                        .map_or((v.as_str(), None), |(k, w)| (k, Some(w)));
                    r.settings
                        .labels
                        .iter()
                        .any(|(lk, lv)| lk == k && want.is_none_or(|w| w == lv))
                }
                _ => false,
            });
        if !["name", "id", "ancestor", "status", "label"].contains(&key) {
            bail!("--filter {key}: not supported (name, id, ancestor, status, label)");
        }
        if !any {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Docker's state words (`{{.State}}`, `status=` filter).
fn state_word(s: Status) -> &'static str {
    match s {
        Status::Created => "created",
        Status::Running | Status::MonitorLost { running: true } => "running",
        Status::Exited(_) | Status::MonitorLost { running: false } => "exited",
    }
}

struct Row {
    id: String,
    image: String,
    command: String,
    created: String,
    status: String,
    state: String,
    name: String,
    labels: String,
    ports: String,
}

/// Docker's PORTS column: `0.0.0.0:8080->80/tcp, …`.
fn ports_text(engine: &Engine, r: &Record) -> String {
    engine
        .published_ports(r)
        .iter()
        .map(|m| {
            let host = m.host_ip.map_or("0.0.0.0".to_owned(), |i| i.to_string());
            format!(
                "{host}:{}->{}/{}",
                m.host_port,
                m.container_port,
                m.protocol.as_str()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Row {
    fn new(
        r: &Record,
        status: Status,
        now: i64,
        full: bool,
        live: &Live,
        live_paused: bool,
    ) -> Row {
        let ago = |t: i64| {
            format!(
                "{} ago",
                units::human_duration(now.saturating_sub(t).max(0))
            )
        };
        let command = format!("\"{}\"", r.settings.command.join(" "));
        let command = if full || command.chars().count() <= 22 {
            command
        } else {
            format!("{}…\"", command.chars().take(20).collect::<String>())
        };
        let status_text = match status {
            Status::Created => "Created".to_owned(),
            Status::Running => {
                let paused = if live_paused { " (Paused)" } else { "" };
                let health = match live.health {
                    Some(Health::Healthy) => " (healthy)",
                    Some(Health::Unhealthy) => " (unhealthy)",
                    Some(Health::Starting) => " (health: starting)",
                    None => "",
                };
                format!(
                    "Up {}{paused}{health}",
                    units::human_duration(now.saturating_sub(r.started.unwrap_or(now)).max(0))
                )
            }
            Status::Exited(code) => format!(
                "Exited ({}) {}",
                code.map_or_else(|| "unknown".to_owned(), |c| c.to_string()),
                ago(r.finished.unwrap_or(now))
            ),
            Status::MonitorLost { running: true } => "Up (monitor lost)".to_owned(),
            Status::MonitorLost { running: false } => "Exited (unknown, monitor lost)".to_owned(),
        };
        Row {
            id: if full {
                r.id.clone()
            } else {
                r.id.chars().take(12).collect()
            },
            image: r.image.clone(),
            command,
            created: ago(r.created),
            status: status_text,
            state: state_word(status).to_owned(),
            name: r.name.clone(),
            labels: r
                .settings
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(","),
            ports: String::new(),
        }
    }

    fn header() -> Row {
        Row {
            id: "CONTAINER ID".into(),
            image: "IMAGE".into(),
            command: "COMMAND".into(),
            created: "CREATED".into(),
            status: "STATUS".into(),
            state: "STATE".into(),
            name: "NAMES".into(),
            labels: "LABELS".into(),
            ports: "PORTS".into(),
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "ID": self.id, "Image": self.image, "Command": self.command,
            "CreatedAt": self.created, "Status": self.status, "State": self.state,
            "Names": self.name, "Labels": self.labels, "Ports": self.ports,
        })
    }
}

/// `{{.Field}}` placeholders (Docker's names) replaced; `\t` as a tab.
fn render(template: &str, r: &Row) -> String {
    template
        .replace("{{.ID}}", &r.id)
        .replace("{{.Image}}", &r.image)
        .replace("{{.Command}}", &r.command)
        .replace("{{.CreatedAt}}", &r.created)
        .replace("{{.RunningFor}}", &r.created)
        .replace("{{.Status}}", &r.status)
        .replace("{{.State}}", &r.state)
        .replace("{{.Names}}", &r.name)
        .replace("{{.Labels}}", &r.labels)
        .replace("{{.Ports}}", &r.ports)
        .replace("\\t", "\t")
}
