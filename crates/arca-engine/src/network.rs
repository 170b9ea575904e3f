//! A container's network, as Docker users know it (`--network bridge|none|host|container:X|
//! NAME`, `-p`, `--dns`, `--add-host`), on top of `arca-net`'s CNI attachments.
//!
//! When it lives:
//! - at create, its `/etc/hosts`, `/etc/resolv.conf` and `/etc/hostname` are written into the
//!   container's directory and bind-mounted over the image's;
//! - before the runtime creates it, a CNI container gets a new network namespace (with `lo` up)
//!   at [`Engine::netns_path`], which its spec joins, and is attached to its networks
//!   (ADD; `eth0` on the first); a restart under the monitor keeps them;
//! - right after the runtime made a `--network none` container, its `lo` is brought up;
//! - when it ends (and on `rm`, for a container whose monitor died), every attachment is torn
//!   down with DEL from its cache and the namespace goes.
//!
//! `--network pasta` is the same namespace given user-mode networking by pasta instead of CNI
//! (see `arca_net::pasta`): what a rootless container gets, usable by root too.
//!
//! On user networks (every CNI network but the default, as on Docker) containers reach each
//! other by name: each one's `/etc/hosts` lists its peers, rewritten in place as they come and
//! go, under `<root>/networks/.hosts.lock`. No DNS server, no daemon.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use arca_net::attachment::{self, Attachment};
use arca_net::hosts::{self, Dns, Hosts};
use arca_net::netns;
use arca_net::pasta::{self, PastaState};
use arca_net::ports::PortMapping;
use oci_spec::runtime::{LinuxNamespaceType, Mount as OciMount, Spec};
use serde::{Deserialize, Serialize};

use crate::engine::Engine;
use crate::error::EngineError;
use crate::records::Record;

/// Which network a container is on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkMode {
    /// Its own namespace with only `lo`.
    #[default]
    None,
    /// The host's namespace.
    Host,
    /// Another container's namespace (by id).
    Container(String),
    /// CNI networks by name (`eth0` on the first). Empty after disconnecting from all.
    Cni(Vec<String>),
    /// User-mode networking by pasta, with these extra pasta options.
    Pasta(Vec<String>),
}

/// The network flags a container keeps (in its record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkSettings {
    pub mode: NetworkMode,
    /// `-p`/`-P`, as asked (host port 0: drawn at each start).
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    #[serde(default)]
    pub dns: Vec<IpAddr>,
    #[serde(default)]
    pub dns_search: Vec<String>,
    #[serde(default)]
    pub dns_options: Vec<String>,
    #[serde(default)]
    pub add_hosts: Vec<(String, IpAddr)>,
}

/// The files arca writes for a container and where they are mounted.
const FILES: [(&str, &str); 3] = [
    ("hosts", "/etc/hosts"),
    ("resolv.conf", "/etc/resolv.conf"),
    ("hostname", "/etc/hostname"),
];

/// A running pasta's pid and ports, in the container's `net/` directory.
const PASTA_STATE: &str = "pasta.json";

/// The interface of the `n`th network.
fn ifname(n: usize) -> String {
    format!("eth{n}")
}

impl Engine {
    /// The directory of a container's CNI attachments.
    fn net_dir(&self, id: &str) -> PathBuf {
        self.dir(id).join("net")
    }

    /// The spec's network namespace for `net` (`id`: the new container's).
    pub fn spec_network(
        &self,
        id: &str,
        net: &NetworkSettings,
    ) -> Result<crate::spec::Network, EngineError> {
        Ok(match &net.mode {
            NetworkMode::None => crate::spec::Network::None,
            NetworkMode::Host => crate::spec::Network::Host,
            NetworkMode::Cni(_) | NetworkMode::Pasta(_) => {
                crate::spec::Network::Join(self.netns_path(id))
            }
            NetworkMode::Container(other) => crate::spec::Network::Join(self.netns_of(other)?),
        })
    }

    /// The network namespace of running container `id`, to share it.
    fn netns_of(&self, id: &str) -> Result<PathBuf, EngineError> {
        let rec = self.find(id)?;
        let ns = self.netns_path(&rec.id);
        if ns.exists() {
            return Ok(ns);
        }
        match (self.status(&rec), rec.pid) {
            (crate::Status::Running, Some(pid)) => Ok(PathBuf::from(format!("/proc/{pid}/ns/net"))),
            _ => Err(EngineError::BadState {
                name: rec.name,
                state: "not running".into(),
                hint: "a container sharing its network (--network container:NAME) needs it running",
            }),
        }
    }

    /// At create: writes the container's hosts, resolv.conf and hostname files and mounts them
    /// into `spec`, except where the user mounted something of their own.
    pub(crate) fn network_files(
        &self,
        id: &str,
        net: &NetworkSettings,
        spec: &mut Spec,
    ) -> Result<(), EngineError> {
        let dir = self.dir(id);
        let hostname = spec.hostname().clone().unwrap_or_default();
        let host_network = net.mode == NetworkMode::Host;
        let hosts_text = if host_network {
            let mut t = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
            for (name, ip) in &net.add_hosts {
                t.push_str(&format!("{ip}\t{name}\n"));
            }
            t
        } else {
            Hosts {
                names: vec![hostname.clone()],
                extra: net.add_hosts.clone(),
                ..Hosts::default()
            }
            .render()
        };
        let resolv = hosts::resolv_conf(
            &std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default(),
            &Dns {
                servers: net.dns.clone(),
                search: net.dns_search.clone(),
                options: net.dns_options.clone(),
            },
            host_network,
        );
        let contents = [hosts_text, resolv, format!("{hostname}\n")];
        let mut mounts = spec.mounts().clone().unwrap_or_default();
        for ((file, dest), text) in FILES.iter().zip(contents) {
            let path = dir.join(file);
            hosts::write_in_place(&path, &text)?;
            if mounts.iter().any(|m| m.destination() == Path::new(dest)) {
                continue;
            }
            let mut m = OciMount::default();
            m.set_destination(PathBuf::from(dest));
            m.set_typ(Some("bind".into()));
            m.set_source(Some(path));
            m.set_options(Some(vec!["rbind".into(), "rprivate".into()]));
            mounts.push(m);
        }
        spec.set_mounts(Some(mounts));
        Ok(())
    }

    /// Before the runtime creates container `rec`: its namespace and attachments (kept from
    /// an earlier run of this start, as across restarts), or the namespace it shares.
    pub(crate) fn network_up(&self, rec: &Record) -> Result<(), EngineError> {
        match &rec.settings.network.mode {
            NetworkMode::None | NetworkMode::Host => Ok(()),
            NetworkMode::Container(other) => self.share_network(rec, other),
            NetworkMode::Pasta(options) => self.pasta_up(rec, options),
            NetworkMode::Cni(names) => {
                let ns = self.netns_path(&rec.id);
                let state = self.net_dir(&rec.id);
                if ns.exists() && names.iter().all(|n| attachment::load(&state, n).is_some()) {
                    // Kept from the previous run (a restart): CHECK says whether it still
                    // works; if not, it is made again.
                    match self.check_attachments(&rec.id) {
                        Ok(()) => return Ok(()),
                        Err(e) => tracing::warn!("container {}: network set up again: {e}", rec.id),
                    }
                }
                // What a dead monitor left: torn down before starting afresh.
                self.network_down(&rec.id);
                netns::create(&ns)?;
                let attached = names.iter().enumerate().try_for_each(|(i, name)| {
                    self.attach_one(rec, name, &ifname(i), i == 0).map(drop)
                });
                if let Err(e) = attached {
                    self.network_down(&rec.id);
                    return Err(e);
                }
                self.refresh_network_hosts(&rec.id);
                Ok(())
            }
        }
    }

    /// `--network pasta`: a namespace of its own, given the host's addresses by pasta (kept
    /// across restarts while pasta runs).
    fn pasta_up(&self, rec: &Record, options: &[String]) -> Result<(), EngineError> {
        let ns = self.netns_path(&rec.id);
        let state = self.net_dir(&rec.id);
        if ns.exists()
            && self
                .pasta_state(&rec.id)
                .is_some_and(|p| crate::container::alive(p.pid))
        {
            return Ok(());
        }
        self.network_down(&rec.id);
        netns::create(&ns)?;
        let started = std::fs::create_dir_all(&state)
            .map_err(|e| EngineError::io("create", &state, e))
            .and_then(|()| {
                Ok(pasta::start(
                    &ns,
                    &rec.settings.network.ports,
                    options,
                    &state.join("pasta.pid"),
                )?)
            })
            .and_then(|p| {
                let file = state.join(PASTA_STATE);
                let text = serde_json::to_vec(&p).map_err(|e| EngineError::Spec(e.to_string()))?;
                std::fs::write(&file, text).map_err(|e| EngineError::io("write", &file, e))
            });
        if let Err(e) = started {
            self.network_down(&rec.id);
            return Err(e);
        }
        Ok(())
    }

    fn pasta_state(&self, id: &str) -> Option<PastaState> {
        let bytes = std::fs::read(self.net_dir(id).join(PASTA_STATE)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// CHECK of each of container `id`'s attachments.
    fn check_attachments(&self, id: &str) -> Result<(), EngineError> {
        for a in self.attachments(id) {
            attachment::check(&self.networks.plugins, &a)?;
        }
        Ok(())
    }

    /// Attaches `rec` (whose namespace exists) to network `name` as `ifname`; published ports
    /// go with the first network only (two `portmap`s cannot both own a host port).
    fn attach_one(
        &self,
        rec: &Record,
        name: &str,
        ifname: &str,
        with_ports: bool,
    ) -> Result<Attachment, EngineError> {
        let net = self.networks.get(name)?;
        let ns = self.netns_path(&rec.id);
        Ok(attachment::attach(
            &self.networks.plugins,
            &self.net_dir(&rec.id),
            attachment::Request {
                list: &net.list,
                container_id: &rec.id,
                netns: &ns,
                ifname: ifname.to_owned(),
                ports: if with_ports {
                    rec.settings.network.ports.clone()
                } else {
                    Vec::new()
                },
                names: vec![rec.name.clone(), rec.id.chars().take(12).collect()],
                dns: net.dns,
            },
        )?)
    }

    /// `--network container:X`: the spec joins X's namespace as it is now, and the container
    /// sees X's hosts and resolv.conf.
    fn share_network(&self, rec: &Record, other: &str) -> Result<(), EngineError> {
        let ns = self.netns_of(other)?;
        let other_dir = self.dir(other);
        for (file, _) in &FILES[..2] {
            if let Ok(text) = std::fs::read_to_string(other_dir.join(file)) {
                hosts::write_in_place(&self.dir(&rec.id).join(file), &text)?;
            }
        }
        let config = self.dir(&rec.id).join("config.json");
        let mut spec = Spec::load(&config)
            .map_err(|e| EngineError::Spec(format!("{}: {e}", config.display())))?;
        if let Some(linux) = spec.linux_mut() {
            if let Some(nss) = linux.namespaces_mut() {
                for n in nss
                    .iter_mut()
                    .filter(|n| n.typ() == LinuxNamespaceType::Network)
                {
                    n.set_path(Some(ns.clone()));
                }
            }
        }
        crate::container::write_spec(&self.dir(&rec.id), &spec, true)
    }

    /// Tears down whatever network container `id` holds: DEL for each attachment (last
    /// first), then its namespace. Idempotent; failures are logged (an attachment whose DEL
    /// failed stays recorded for the next try).
    pub(crate) fn network_down(&self, id: &str) {
        let state = self.net_dir(id);
        // --network none/host/container: nothing was set up (two stats, not four failing calls).
        if !state.exists() && !self.netns_path(id).exists() {
            return;
        }
        let attached = attachment::load_all(&state);
        let mut dns_networks = Vec::new();
        for a in attached.iter().rev() {
            if let Err(e) = attachment::detach(&self.networks.plugins, &state, a) {
                tracing::warn!("container {id}: {e}");
            }
            if a.dns {
                dns_networks.push(a.network.clone());
            }
        }
        if let Some(p) = self.pasta_state(id) {
            pasta::stop(p.pid);
            let _ = std::fs::remove_file(state.join(PASTA_STATE));
        }
        if let Err(e) = netns::remove(&self.netns_path(id)) {
            tracing::warn!("container {id}: {e}");
        }
        if !dns_networks.is_empty() {
            self.refresh_peers(id, &dns_networks);
        }
    }

    /// The container's attachments (for `inspect`, `port`).
    pub fn attachments(&self, id: &str) -> Vec<Attachment> {
        attachment::load_all(&self.net_dir(id))
    }

    /// The ports published now (host ports drawn), else as asked.
    pub fn published_ports(&self, rec: &Record) -> Vec<PortMapping> {
        if let Some(p) = self.pasta_state(&rec.id) {
            return p.ports;
        }
        self.attachments(&rec.id)
            .into_iter()
            .find(|a| !a.ports.is_empty())
            .map_or_else(|| rec.settings.network.ports.clone(), |a| a.ports)
    }

    /// `network connect NET CONTAINER`: recorded for later starts, and attached now if it
    /// runs.
    pub fn network_connect(&self, rec: &Record, network: &str) -> Result<(), EngineError> {
        let net = self.networks.get(network)?;
        let mut settings = rec.settings.clone();
        let NetworkMode::Cni(names) = &mut settings.network.mode else {
            return Err(EngineError::Spec(format!(
                "container {} is not on a CNI network (--network none, host or container:): it cannot be connected to {network}",
                rec.name
            )));
        };
        if names.contains(&net.list.name) {
            return Err(EngineError::Spec(format!(
                "container {} is already connected to network {}",
                rec.name, net.list.name
            )));
        }
        names.push(net.list.name.clone());
        let running = self.netns_path(&rec.id).exists();
        if running {
            let used: Vec<String> = self
                .attachments(&rec.id)
                .into_iter()
                .map(|a| a.ifname)
                .collect();
            let free = (0..)
                .map(ifname)
                .find(|i| !used.contains(i))
                .unwrap_or_default();
            let a = self.attach_one(rec, &net.list.name, &free, false)?;
            if let Err(e) = self.records.set_settings(&rec.id, &settings) {
                let _ = attachment::detach(&self.networks.plugins, &self.net_dir(&rec.id), &a);
                return Err(e.into());
            }
            self.refresh_network_hosts(&rec.id);
        } else {
            self.records.set_settings(&rec.id, &settings)?;
        }
        Ok(())
    }

    /// `network disconnect NET CONTAINER`.
    pub fn network_disconnect(&self, rec: &Record, network: &str) -> Result<(), EngineError> {
        let name = if network == "bridge" {
            arca_net::DEFAULT_NETWORK
        } else {
            network
        };
        let mut settings = rec.settings.clone();
        let NetworkMode::Cni(names) = &mut settings.network.mode else {
            return Err(EngineError::Spec(format!(
                "container {} is not connected to network {name}",
                rec.name
            )));
        };
        let Some(pos) = names.iter().position(|n| n == name) else {
            return Err(EngineError::Spec(format!(
                "container {} is not connected to network {name}",
                rec.name
            )));
        };
        names.remove(pos);
        let state = self.net_dir(&rec.id);
        if let Some(a) = attachment::load(&state, name) {
            attachment::detach(&self.networks.plugins, &state, &a)?;
            if a.dns {
                self.refresh_peers(&rec.id, std::slice::from_ref(&a.network));
            }
        }
        self.records.set_settings(&rec.id, &settings)?;
        self.refresh_hosts(&rec.id);
        Ok(())
    }

    /// The names of the containers on network `name` (by their records), for `network rm`.
    pub fn network_users(&self, name: &str) -> Result<Vec<String>, EngineError> {
        let name = if name == "bridge" {
            arca_net::DEFAULT_NETWORK
        } else {
            name
        };
        Ok(self
            .records
            .list()?
            .into_iter()
            .filter(|r| matches!(&r.settings.network.mode, NetworkMode::Cni(n) if n.iter().any(|n| n == name)))
            .map(|r| r.name)
            .collect())
    }

    /// `network prune`: every network no container is on, but the default; their names.
    pub fn network_prune(&self) -> Result<Vec<String>, EngineError> {
        let mut removed = Vec::new();
        for n in self.networks.list()? {
            if n.list.name != arca_net::DEFAULT_NETWORK
                && self.network_users(&n.list.name)?.is_empty()
            {
                self.networks.remove(&n.list.name)?;
                removed.push(n.list.name);
            }
        }
        Ok(removed)
    }

    pub fn networks(&self) -> &arca_net::Networks {
        &self.networks
    }

    /// Rewrites the hosts of `id` and of its peers on every user network it is on.
    fn refresh_network_hosts(&self, id: &str) {
        let dns: Vec<String> = self
            .attachments(id)
            .into_iter()
            .filter(|a| a.dns)
            .map(|a| a.network)
            .collect();
        let _lock = (!dns.is_empty()).then(|| self.hosts_lock());
        self.refresh_hosts(id);
        self.refresh_peers_locked(id, &dns);
    }

    /// Rewrites the hosts of every other container attached to one of `networks`.
    fn refresh_peers(&self, id: &str, networks: &[String]) {
        let _lock = self.hosts_lock();
        self.refresh_peers_locked(id, networks);
    }

    fn refresh_peers_locked(&self, id: &str, networks: &[String]) {
        if networks.is_empty() {
            return;
        }
        for peer in self.containers_on(networks) {
            if peer != id {
                self.refresh_hosts(&peer);
            }
        }
    }

    /// Containers with an attachment to one of `networks` (by their `net/` directories).
    fn containers_on(&self, networks: &[String]) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.root().join("containers")) else {
            return Vec::new();
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|c| {
                let dir = self.net_dir(c);
                networks
                    .iter()
                    .any(|n| dir.join(format!("{n}.json")).exists())
            })
            .collect()
    }

    /// Rewrites the hosts file of container `id`: itself, `--add-host`, and its peers.
    fn refresh_hosts(&self, id: &str) {
        let Ok(rec) = self.find(id) else {
            return;
        };
        let NetworkMode::Cni(_) = rec.settings.network.mode else {
            return;
        };
        let dir = self.dir(id);
        let hostname = std::fs::read_to_string(dir.join("hostname")).unwrap_or_default();
        let mine = self.attachments(id);
        let mut peers = Vec::new();
        let dns: Vec<String> = mine
            .iter()
            .filter(|a| a.dns)
            .map(|a| a.network.clone())
            .collect();
        for peer in self.containers_on(&dns) {
            if peer == id {
                continue;
            }
            for a in self
                .attachments(&peer)
                .into_iter()
                .filter(|a| dns.contains(&a.network))
            {
                if let Some(p) = a.primary() {
                    peers.push((p.ip, a.names.clone()));
                }
            }
        }
        let text = Hosts {
            names: vec![hostname.trim().to_owned()],
            own: mine
                .iter()
                .filter_map(|a| a.primary().map(|p| p.ip))
                .collect(),
            extra: rec.settings.network.add_hosts.clone(),
            peers,
        }
        .render();
        if let Err(e) = hosts::write_in_place(&dir.join("hosts"), &text) {
            tracing::warn!("container {id}: {e}");
        }
    }

    /// Serialises hosts rewrites, so two containers joining at once both end up in each
    /// other's file.
    fn hosts_lock(&self) -> Option<nix::fcntl::Flock<std::fs::File>> {
        let dir = self.networks.dir();
        std::fs::create_dir_all(dir).ok()?;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".hosts.lock"))
            .ok()?;
        nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).ok()
    }
}
