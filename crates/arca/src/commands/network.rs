//! `arca network create|ls|rm|inspect|connect|disconnect|prune`, `arca port`, and the network
//! flags of `run`/`create` (`--network`, `-p`, `-P`, `--dns*`, `--add-host`) turned into a
//! container's [`NetworkSettings`].

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Result};
use arca_engine::network::{NetworkMode, NetworkSettings};
use arca_engine::Engine;
use arca_net::ports::{self, PortMapping};
use arca_net::{hosts, Network, NetworkRequest, DEFAULT_NETWORK};
use oci_spec::image::ImageConfiguration;
use serde_json::{json, Value};

use super::volume::each;
use crate::cli::{Format, NetworkCommand, RunArgs};

/// The network settings of a new container from its flags and image.
pub fn settings(
    engine: &Engine,
    a: &RunArgs,
    config: &ImageConfiguration,
) -> Result<NetworkSettings> {
    let mode = mode(engine, &a.network)?;
    let mut ports = Vec::new();
    for p in &a.publish {
        ports.extend(ports::parse_publish(p)?);
    }
    if a.publish_all {
        let exposed = config
            .config()
            .as_ref()
            .and_then(|c| c.exposed_ports().clone())
            .unwrap_or_default();
        let asked: Vec<(u16, ports::Protocol)> = ports
            .iter()
            .map(|m| (m.container_port, m.protocol))
            .collect();
        ports.extend(
            ports::parse_exposed(&exposed)
                .into_iter()
                .filter(|m| !asked.contains(&(m.container_port, m.protocol))),
        );
    }
    if !ports.is_empty() {
        match mode {
            NetworkMode::Cni(_) | NetworkMode::Pasta(_) => {}
            NetworkMode::Host => {
                eprintln!("arca: warning: published ports are discarded with --network host");
                ports.clear();
            }
            _ => {
                bail!("-p/-P: publishing ports needs a network (not --network none or container:)")
            }
        }
    }
    let dns = a
        .dns
        .iter()
        .map(|d| {
            d.parse()
                .map_err(|_| anyhow!("--dns {d}: not an IP address"))
        })
        .collect::<Result<_>>()?;
    let add_hosts = a
        .add_host
        .iter()
        .map(|h| hosts::parse_add_host(h))
        .collect::<Result<_, _>>()?;
    Ok(NetworkSettings {
        mode,
        ports,
        dns,
        dns_search: a.dns_search.clone(),
        dns_options: a.dns_option.clone(),
        add_hosts,
    })
}

/// Why a rootless user cannot have a CNI network.
const ROOTLESS_CNI: &str = "CNI networks need root (a bridge, veths and firewall rules on the \
     host); rootless containers use --network pasta (the default), none, host or container:NAME";

/// `--network`: none of them means the default network.
fn mode(engine: &Engine, flags: &[String]) -> Result<NetworkMode> {
    let special = |f: &str| {
        f == "none"
            || f == "host"
            || f.starts_with("container:")
            || f.split(':').next() == Some("pasta")
    };
    if flags.len() > 1 && flags.iter().any(|f| special(f)) {
        bail!("--network: none, host and container: cannot be combined with other networks");
    }
    let rootless = engine.is_rootless();
    Ok(match flags.first().map(String::as_str) {
        // A rootless user's default is pasta, as Podman 5's.
        None if rootless => NetworkMode::Pasta(Vec::new()),
        Some(f) if rootless && !special(f) && f != "slirp4netns" => {
            bail!("--network {f}: {ROOTLESS_CNI}")
        }
        None | Some("bridge" | "default") if flags.len() <= 1 => {
            NetworkMode::Cni(vec![DEFAULT_NETWORK.into()])
        }
        Some("none") => NetworkMode::None,
        Some("host") => NetworkMode::Host,
        Some(p) if p.split(':').next() == Some("pasta") => NetworkMode::Pasta(
            p.split_once(':')
                .map(|(_, o)| {
                    o.split(',')
                        .filter(|o| !o.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        ),
        Some("slirp4netns") => bail!(
            "--network slirp4netns: not supported; use --network pasta (user-mode networking)"
        ),
        Some(c) if c.starts_with("container:") => {
            let other = engine.find(&c["container:".len()..])?;
            NetworkMode::Container(other.id)
        }
        _ => {
            let mut names = Vec::new();
            for f in flags {
                let net = engine
                    .networks()
                    .get(f)
                    .map_err(|e| anyhow!("--network {f}: {e}"))?;
                if !names.contains(&net.list.name) {
                    names.push(net.list.name);
                }
            }
            NetworkMode::Cni(names)
        }
    })
}

pub fn network(engine: &Engine, cmd: &NetworkCommand) -> Result<i32> {
    let nets = engine.networks();
    match cmd {
        NetworkCommand::Create {
            name,
            subnet,
            gateway,
            internal,
            driver: _,
            label,
        } => {
            if engine.is_rootless() {
                bail!("network create {name}: {ROOTLESS_CNI}");
            }
            let req = NetworkRequest {
                name: name.clone(),
                subnet: subnet
                    .as_deref()
                    .map(|s| s.parse().map_err(|e| anyhow!("--subnet {e}")))
                    .transpose()?,
                gateway: gateway
                    .as_deref()
                    .map(|g| {
                        g.parse()
                            .map_err(|_| anyhow!("--gateway {g}: not an IPv4 address"))
                    })
                    .transpose()?,
                internal: *internal,
                labels: label
                    .iter()
                    .map(|l| {
                        let (k, v) = l.split_once('=').unwrap_or((l, ""));
                        (k.to_owned(), v.to_owned())
                    })
                    .collect::<BTreeMap<_, _>>(),
            };
            let n = nets.create(&req)?;
            println!("{}", n.list.name);
            Ok(0)
        }
        NetworkCommand::Ls { quiet, format } => {
            // The default network is listed from the first use of arca on, as Docker's is.
            nets.ensure_default()?;
            let all = nets.list()?;
            if *quiet {
                all.iter().for_each(|n| println!("{}", n.list.name));
            } else if *format == Format::Json {
                for n in &all {
                    println!("{}", summary(n));
                }
            } else {
                println!("{:<20}{:<10}{:<18}BRIDGE", "NAME", "DRIVER", "SUBNET");
                for n in &all {
                    println!(
                        "{:<20}{:<10}{:<18}{}",
                        n.list.name,
                        driver(n),
                        n.subnet.as_deref().unwrap_or("-"),
                        n.bridge.as_deref().unwrap_or("-")
                    );
                }
            }
            Ok(0)
        }
        NetworkCommand::Rm { force, networks } => each(networks, |name| {
            let n = match nets.get_existing(name) {
                Err(arca_net::NetError::NoSuchNetwork(_)) if *force => return Ok(()),
                r => r?,
            };
            let users = engine.network_users(&n.list.name)?;
            if !users.is_empty() {
                bail!(
                    "network {} is in use by container(s) {}",
                    n.list.name,
                    users.join(", ")
                );
            }
            nets.remove(&n.list.name)?;
            println!("{name}");
            Ok(())
        }),
        NetworkCommand::Inspect { networks } => {
            let mut out = Vec::new();
            let code = each(networks, |name| {
                let n = nets.get_existing(name)?;
                out.push(inspect(engine, &n)?);
                Ok(())
            })?;
            println!("{}", serde_json::to_string_pretty(&Value::Array(out))?);
            Ok(code)
        }
        NetworkCommand::Connect { network, container } => {
            if engine.is_rootless() {
                bail!("network connect {network}: {ROOTLESS_CNI}");
            }
            let rec = engine.find(container)?;
            engine.network_connect(&rec, network)?;
            Ok(0)
        }
        NetworkCommand::Disconnect {
            network, container, ..
        } => {
            let rec = engine.find(container)?;
            engine.network_disconnect(&rec, network)?;
            Ok(0)
        }
        NetworkCommand::Prune { .. } => {
            let removed = engine.network_prune()?;
            if !removed.is_empty() {
                println!("Deleted Networks:");
                removed.iter().for_each(|n| println!("{n}"));
            }
            Ok(0)
        }
    }
}

fn driver(n: &Network) -> &str {
    n.list.plugin_types().next().unwrap_or("-")
}

fn summary(n: &Network) -> Value {
    json!({
        "Name": n.list.name,
        "Driver": driver(n),
        "Subnet": n.subnet,
        "Gateway": n.gateway,
        "Bridge": n.bridge,
        "Internal": n.internal,
        "DNSEnabled": n.dns,
        "Labels": n.labels,
    })
}

/// Docker's `network inspect` fields that apply, the containers on it now, and the CNI list.
fn inspect(engine: &Engine, n: &Network) -> Result<Value> {
    let mut containers = serde_json::Map::new();
    for rec in engine.records().list()? {
        for a in engine.attachments(&rec.id) {
            if a.network == n.list.name {
                let ip = a.primary().map(|p| format!("{}/{}", p.ip, p.prefix));
                containers.insert(
                    rec.id.clone(),
                    json!({"Name": rec.name, "IPv4Address": ip, "Interface": a.ifname}),
                );
            }
        }
    }
    let mut v = summary(n);
    v["IPAM"] =
        json!({"Driver": "host-local", "Config": [{"Subnet": n.subnet, "Gateway": n.gateway}]});
    v["Containers"] = Value::Object(containers);
    v["ConfigFile"] = json!(n.list.source);
    v["Plugins"] = n.list.raw["plugins"].clone();
    Ok(v)
}

/// `port CONTAINER [PORT[/PROTO]]`.
pub fn port(engine: &Engine, container: &str, which: Option<&str>) -> Result<i32> {
    let rec = engine.find(container)?;
    let all = engine.published_ports(&rec);
    let Some(which) = which else {
        all.iter().for_each(|m| println!("{}", ports::describe(m)));
        return Ok(0);
    };
    let (p, proto) = which.split_once('/').unwrap_or((which, "tcp"));
    let wanted: Vec<&PortMapping> = all
        .iter()
        .filter(|m| m.container_port.to_string() == p && m.protocol.as_str() == proto)
        .collect();
    if wanted.is_empty() {
        bail!("no public port '{p}/{proto}' published for {container}");
    }
    for m in wanted {
        let d = ports::describe(m);
        println!("{}", d.split_once(" -> ").map_or(d.as_str(), |(_, h)| h));
    }
    Ok(0)
}
