//! A container's attachment to one network: set up with CNI ADD, remembered on disk with the
//! exact configuration and result (the spec asks the runtime to give DEL what ADD returned, and
//! a network edited or removed since must still be torn down as it was made), torn down with
//! DEL. One JSON file per network in the container's `net/` directory, written by rename.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::cni::{self, CniResult, ConfigList, Invocation, PluginPath};
use crate::error::NetError;
use crate::ports::{self, PortMapping};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attachment {
    pub network: String,
    pub container_id: String,
    pub netns: PathBuf,
    pub ifname: String,
    /// The configuration list as ADD used it.
    pub config: Value,
    /// What ADD returned.
    pub result: Value,
    /// Published ports, host ports drawn.
    #[serde(default)]
    pub ports: Vec<PortMapping>,
    /// Peers on this network see the container by these names.
    #[serde(default)]
    pub names: Vec<String>,
    /// Whether peers resolve each other by name here (user networks).
    #[serde(default)]
    pub dns: bool,
}

impl Attachment {
    fn invocation(&self) -> Invocation {
        Invocation {
            container_id: self.container_id.clone(),
            netns: self.netns.clone(),
            ifname: self.ifname.clone(),
            args: Vec::new(),
        }
    }

    fn capability_args(&self) -> Map<String, Value> {
        let mut m = Map::new();
        if !self.ports.is_empty() {
            m.insert("portMappings".into(), ports::capability_arg(&self.ports));
        }
        m
    }

    pub fn addresses(&self) -> Vec<IpAddr> {
        CniResult::from_value(&self.result)
            .addresses
            .into_iter()
            .map(|a| a.ip)
            .collect()
    }

    pub fn primary(&self) -> Option<cni::result::Address> {
        CniResult::from_value(&self.result).primary().cloned()
    }
}

/// What to attach, and as whom.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub list: &'a ConfigList,
    pub container_id: &'a str,
    pub netns: &'a Path,
    pub ifname: String,
    pub ports: Vec<PortMapping>,
    pub names: Vec<String>,
    pub dns: bool,
}

/// ADD, then the attachment saved in `state_dir` (undone with DEL if it cannot be saved).
pub fn attach(
    path: &PluginPath,
    state_dir: &Path,
    req: Request<'_>,
) -> Result<Attachment, NetError> {
    let mut a = Attachment {
        network: req.list.name.clone(),
        container_id: req.container_id.to_owned(),
        netns: req.netns.to_owned(),
        ifname: req.ifname,
        config: req.list.raw.clone(),
        result: Value::Null,
        ports: req.ports,
        names: req.names,
        dns: req.dns,
    };
    ports::assign_free(&mut a.ports)?;
    a.result = cni::add(path, req.list, &a.invocation(), &a.capability_args())?;
    if let Err(e) = save(state_dir, &a) {
        let _ = cni::del(
            path,
            req.list,
            &a.invocation(),
            &a.capability_args(),
            Some(&a.result),
        );
        return Err(e);
    }
    Ok(a)
}

/// CHECK against the cached result.
pub fn check(path: &PluginPath, a: &Attachment) -> Result<(), NetError> {
    let list = ConfigList::from_value(a.config.clone(), Path::new(&a.network))?;
    cni::check(
        path,
        &list,
        &a.invocation(),
        &a.capability_args(),
        &a.result,
    )
}

/// DEL with the cached configuration and result, then the record goes. Kept when DEL fails,
/// so a later `rm` can try again.
pub fn detach(path: &PluginPath, state_dir: &Path, a: &Attachment) -> Result<(), NetError> {
    let list = ConfigList::from_value(a.config.clone(), Path::new(&a.network))?;
    cni::del(
        path,
        &list,
        &a.invocation(),
        &a.capability_args(),
        Some(&a.result),
    )?;
    let file = file_of(state_dir, &a.network);
    match std::fs::remove_file(&file) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetError::io("remove", file, e)),
    }
}

fn file_of(state_dir: &Path, network: &str) -> PathBuf {
    state_dir.join(format!("{network}.json"))
}

fn save(state_dir: &Path, a: &Attachment) -> Result<(), NetError> {
    std::fs::create_dir_all(state_dir).map_err(|e| NetError::io("create", state_dir, e))?;
    let file = file_of(state_dir, &a.network);
    let text = serde_json::to_vec(a).map_err(|e| NetError::invalid(&a.network, e.to_string()))?;
    arca_sys::fs::Replace::new()
        .write(&file, &text)
        .map_err(|e| NetError::io("write", &file, e))
}

/// The attachment to `network` saved in `state_dir`, if any.
pub fn load(state_dir: &Path, network: &str) -> Option<Attachment> {
    let bytes = std::fs::read(file_of(state_dir, network)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Every attachment saved in `state_dir`, in interface order (`eth0` first).
pub fn load_all(state_dir: &Path) -> Vec<Attachment> {
    let Ok(entries) = std::fs::read_dir(state_dir) else {
        return Vec::new();
    };
    let mut all: Vec<Attachment> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let network = name.strip_suffix(".json").filter(|n| !n.starts_with('.'))?;
            let a: Attachment = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            // The file names its network: `detach` removes the file the record names, so a
            // record naming another (or no valid) network is not ours.
            (a.network == network && crate::cni::config::valid_network_name(network)).then_some(a)
        })
        .collect();
    all.sort_by_key(|a: &Attachment| {
        a.ifname
            .trim_start_matches(|c: char| !c.is_ascii_digit())
            .parse::<u32>()
            .unwrap_or(u32::MAX)
    });
    all
}
