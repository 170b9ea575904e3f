//! arca's networks: CNI configuration lists in `<root>/networks/` (any `.conflist`, `.conf` or
//! `.json` a user drops there is a network too), the default one made on first use, and the
//! IPAM leases of all of them under `<root>/networks/ipam/`.
//!
//! A network arca creates is a Linux bridge with NAT (the `bridge` plugin's `ipMasq`),
//! `host-local` addresses on a subnet no route of this namespace and no other network covers,
//! `portmap` for published ports and `firewall` so forwarded traffic passes a `DROP` policy:
//! Podman's CNI default, from Debian's containernetworking-plugins.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::cni::config::valid_network_name;

/// What `--network` takes as a mode, not a network's name: no network may be called so.
pub const RESERVED_NAMES: &[&str] = &["bridge", "default", "host", "none", "pasta", "slirp4netns"];
use crate::cni::{ConfigList, PluginPath};
use crate::error::NetError;
use crate::subnet::{self, Subnet};

/// The network `--network bridge` (the default) means: Docker's `bridge`, Podman's `podman`.
pub const DEFAULT_NETWORK: &str = "arca";
/// Its bridge; user networks get `arca1`, `arca2`...
const BRIDGE_PREFIX: &str = "arca";

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct NetworkRequest {
    pub name: String,
    pub subnet: Option<Subnet>,
    pub gateway: Option<Ipv4Addr>,
    /// No NAT and no default route: containers reach only each other.
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
}

/// A network as `network ls`/`inspect` show it.
#[derive(Debug, Clone)]
pub struct Network {
    pub list: ConfigList,
    /// The bridge and subnet of a network arca made (None for a user's own config).
    pub bridge: Option<String>,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub internal: bool,
    /// Containers see each other by name (every network but the default, as Docker's user
    /// networks).
    pub dns: bool,
    pub labels: BTreeMap<String, String>,
}

impl Network {
    fn from_list(list: ConfigList) -> Network {
        let meta = list.raw.get("arca");
        let bridge_plugin = list
            .plugins
            .iter()
            .find(|p| p.get("type").and_then(Value::as_str) == Some("bridge"));
        let range = bridge_plugin
            .and_then(|p| p.get("ipam"))
            .and_then(|i| i.pointer("/ranges/0/0"));
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
        Network {
            bridge: text(bridge_plugin.and_then(|p| p.get("bridge"))),
            subnet: text(range.and_then(|r| r.get("subnet"))),
            gateway: text(range.and_then(|r| r.get("gateway"))),
            internal: meta
                .and_then(|m| m.get("internal"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            dns: list.name != DEFAULT_NETWORK,
            labels: meta
                .and_then(|m| m.get("labels"))
                .and_then(|l| serde_json::from_value(l.clone()).ok())
                .unwrap_or_default(),
            list,
        }
    }
}

/// The network configs under one root.
#[derive(Debug, Clone)]
pub struct Networks {
    dir: PathBuf,
    pub plugins: PluginPath,
}

impl Networks {
    pub fn new(dir: &Path, plugins: PluginPath) -> Networks {
        Networks {
            dir: dir.to_owned(),
            plugins,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn conf_path(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.conflist"))
    }

    /// Serialises creation, so two arca processes never make one network twice or give two
    /// networks one subnet or bridge.
    fn lock(&self) -> Result<nix::fcntl::Flock<std::fs::File>, NetError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| NetError::io("create", &self.dir, e))?;
        let path = self.dir.join(".lock");
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| NetError::io("open", &path, e))?;
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| NetError::io("lock", &path, e.into()))
    }

    /// The network `name` (`bridge` is the default network, made if missing).
    pub fn get(&self, name: &str) -> Result<Network, NetError> {
        if name == DEFAULT_NETWORK || name == "bridge" {
            return self.ensure_default();
        }
        // A name becomes a file name in the networks directory: one that is not a network
        // name (`../x`, `a/b`) must not reach a path outside it.
        if !valid_network_name(name) {
            return Err(NetError::NoSuchNetwork(name.to_owned()));
        }
        let path = self.conf_path(name);
        if path.is_file() {
            // Its file is named after it, unless a user's file says otherwise (then the list
            // below finds the network by the name it declares).
            let list = ConfigList::load(&path)?;
            if list.name == name {
                return Ok(Network::from_list(list));
            }
        }
        self.list()?
            .into_iter()
            .find(|n| n.list.name == name)
            .ok_or_else(|| NetError::NoSuchNetwork(name.to_owned()))
    }

    /// The default network, created on first use.
    pub fn ensure_default(&self) -> Result<Network, NetError> {
        let path = self.conf_path(DEFAULT_NETWORK);
        if let Ok(list) = ConfigList::load(&path) {
            return Ok(Network::from_list(list));
        }
        let _lock = self.lock()?;
        if let Ok(list) = ConfigList::load(&path) {
            return Ok(Network::from_list(list));
        }
        self.create_locked(&NetworkRequest {
            name: DEFAULT_NETWORK.into(),
            ..NetworkRequest::default()
        })
    }

    /// `network create`.
    pub fn create(&self, req: &NetworkRequest) -> Result<Network, NetError> {
        if !valid_network_name(&req.name) || RESERVED_NAMES.contains(&req.name.as_str()) {
            return Err(NetError::invalid(
                format!("network name {:?}", req.name),
                format!(
                    "use letters, digits, '.', '_' and '-' (not {})",
                    RESERVED_NAMES.join(", ")
                ),
            ));
        }
        let _lock = self.lock()?;
        self.create_locked(req)
    }

    fn create_locked(&self, req: &NetworkRequest) -> Result<Network, NetError> {
        let existing = self.list()?;
        if existing.iter().any(|n| n.list.name == req.name) {
            return Err(NetError::NetworkExists(req.name.clone()));
        }
        let taken: Vec<Subnet> = existing
            .iter()
            .filter_map(|n| n.subnet.as_deref()?.parse().ok())
            .chain(subnet::routes())
            .collect();
        let subnet = match req.subnet {
            Some(s) => {
                if let Some(t) = taken.iter().find(|t| t.overlaps(&s)) {
                    return Err(NetError::invalid(
                        format!("--subnet {s}"),
                        format!("overlaps {t}, a route or another network's subnet"),
                    ));
                }
                s
            }
            None if req.name == DEFAULT_NETWORK => {
                subnet::pick(subnet::default_candidates(), &taken)
                    .ok_or_else(|| NetError::NoFreeSubnet("10.84-88.0.0/16".into()))?
            }
            None => subnet::pick(subnet::user_candidates(), &taken)
                .ok_or_else(|| NetError::NoFreeSubnet("10.89.0-255.0/24".into()))?,
        };
        let gateway = req.gateway.unwrap_or_else(|| subnet.host(1));
        if !subnet.contains(gateway) {
            return Err(NetError::invalid(
                format!("--gateway {gateway}"),
                format!("not in the subnet {subnet}"),
            ));
        }
        let bridge = self.free_bridge(&existing, req.name == DEFAULT_NETWORK);
        let list = self.conflist(req, subnet, gateway, &bridge);
        let path = self.conf_path(&req.name);
        let parsed = ConfigList::from_value(list, &path)?;
        let text = serde_json::to_vec_pretty(&parsed.raw)
            .map_err(|e| NetError::invalid(&req.name, e.to_string()))?;
        arca_sys::fs::Replace::new()
            .durable()
            .write(&path, &text)
            .map_err(|e| NetError::io("write", &path, e))?;
        Ok(Network::from_list(parsed))
    }

    /// `arca0` for the default network, else the first `arcaN` no network uses and no
    /// interface of this namespace has.
    fn free_bridge(&self, existing: &[Network], default: bool) -> String {
        let used: Vec<&str> = existing
            .iter()
            .filter_map(|n| n.bridge.as_deref())
            .collect();
        let start = u32::from(!default);
        (start..)
            .map(|n| format!("{BRIDGE_PREFIX}{n}"))
            .find(|b| {
                !used.contains(&b.as_str())
                    && (default || nix::net::if_::if_nametoindex(b.as_str()).is_err())
            })
            .unwrap_or_else(|| format!("{BRIDGE_PREFIX}x"))
    }

    fn conflist(
        &self,
        req: &NetworkRequest,
        subnet: Subnet,
        gateway: Ipv4Addr,
        bridge: &str,
    ) -> Value {
        let mut ipam = json!({
            "type": "host-local",
            "ranges": [[{"subnet": subnet.to_string(), "gateway": gateway.to_string()}]],
            "dataDir": self.dir.join("ipam"),
        });
        if !req.internal {
            ipam["routes"] = json!([{"dst": "0.0.0.0/0"}]);
        }
        json!({
            "cniVersion": "1.0.0",
            "name": req.name,
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": bridge,
                    "isGateway": true,
                    "ipMasq": !req.internal,
                    "hairpinMode": true,
                    "ipam": ipam,
                },
                {"type": "portmap", "capabilities": {"portMappings": true}},
                {"type": "firewall", "backend": "iptables"},
            ],
            "arca": {"internal": req.internal, "labels": req.labels},
        })
    }

    /// Every network config in the directory, by name; a broken file is skipped with a
    /// warning naming it (one bad file must not take every network down).
    pub fn list(&self) -> Result<Vec<Network>, NetError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(NetError::io("read", &self.dir, e)),
        };
        let mut out: Vec<Network> = Vec::new();
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                matches!(
                    p.extension().and_then(|e| e.to_str()),
                    Some("conflist" | "conf" | "json")
                )
            })
            .collect();
        paths.sort();
        for p in paths {
            match ConfigList::load(&p) {
                Ok(l) if !out.iter().any(|n| n.list.name == l.name) => {
                    out.push(Network::from_list(l))
                }
                Ok(_) => {
                    tracing::warn!("{}: a network of this name is already defined", p.display())
                }
                Err(e) => tracing::warn!("{e}"),
            }
        }
        out.sort_by(|a, b| a.list.name.cmp(&b.list.name));
        Ok(out)
    }

    /// `network rm` (the caller checked no container uses it).
    pub fn remove(&self, name: &str) -> Result<(), NetError> {
        let _lock = self.lock()?;
        let net = self.get_existing(name)?;
        std::fs::remove_file(&net.list.source)
            .map_err(|e| NetError::io("remove", &net.list.source, e))?;
        let leases = self.dir.join("ipam").join(&net.list.name);
        let _ = std::fs::remove_dir_all(leases);
        Ok(())
    }

    /// Like [`Networks::get`], but never creates the default network.
    pub fn get_existing(&self, name: &str) -> Result<Network, NetError> {
        let name = if name == "bridge" {
            DEFAULT_NETWORK
        } else {
            name
        };
        self.list()?
            .into_iter()
            .find(|n| n.list.name == name)
            .ok_or_else(|| NetError::NoSuchNetwork(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_and_user_networks_get_distinct_subnets_and_bridges() {
        let dir = tempfile::tempdir().unwrap();
        let nets = Networks::new(dir.path(), PluginPath::default());
        let d = nets.get("bridge").unwrap();
        assert_eq!(d.list.name, DEFAULT_NETWORK);
        assert_eq!(d.bridge.as_deref(), Some("arca0"));
        assert!(!d.dns);
        let a = nets
            .create(&NetworkRequest {
                name: "a".into(),
                ..Default::default()
            })
            .unwrap();
        let b = nets
            .create(&NetworkRequest {
                name: "b".into(),
                ..Default::default()
            })
            .unwrap();
        assert!(a.dns);
        assert_ne!(a.subnet, b.subnet);
        assert_ne!(a.bridge, b.bridge);
        assert!(matches!(
            nets.create(&NetworkRequest {
                name: "a".into(),
                ..Default::default()
            }),
            Err(NetError::NetworkExists(_))
        ));
        let clash = NetworkRequest {
            name: "c".into(),
            subnet: a.subnet.as_deref().map(|s| s.parse().unwrap()),
            ..Default::default()
        };
        assert!(nets
            .create(&clash)
            .unwrap_err()
            .to_string()
            .contains("--subnet"));
        assert_eq!(
            nets.list()
                .unwrap()
                .iter()
                .map(|n| n.list.name.as_str())
                .collect::<Vec<_>>(),
            ["a", "arca", "b"]
        );
        nets.remove("a").unwrap();
        assert!(matches!(nets.get("a"), Err(NetError::NoSuchNetwork(_))));
    }
}
