//! Running one CNI plugin, as the spec's "runtime side" says: the operation and the container
//! in `CNI_*` environment variables, the network configuration on stdin, a result (or an error
//! object) on stdout.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::error::NetError;

/// A CNI operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Check,
    Del,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Add => "ADD",
            Op::Check => "CHECK",
            Op::Del => "DEL",
        }
    }
}

/// Who the operation is for: the container and the interface it gets in its namespace.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub container_id: String,
    pub netns: PathBuf,
    pub ifname: String,
    /// `CNI_ARGS` pairs (`K=V;K=V`).
    pub args: Vec<(String, String)>,
}

/// The directories plugins are looked up in (`CNI_PATH`), first match wins.
#[derive(Debug, Clone)]
pub struct PluginPath(pub Vec<PathBuf>);

impl Default for PluginPath {
    /// Debian's containernetworking-plugins, then the upstream default.
    fn default() -> Self {
        PluginPath(vec!["/usr/lib/cni".into(), "/opt/cni/bin".into()])
    }
}

impl PluginPath {
    /// `dirs` as given by the user (colon-separated), or the default.
    pub fn from_list(dirs: Option<&str>) -> PluginPath {
        match dirs {
            Some(d) if !d.is_empty() => PluginPath(
                d.split(':')
                    .filter(|s| !s.is_empty())
                    .map(Into::into)
                    .collect(),
            ),
            _ => PluginPath::default(),
        }
    }

    /// The directories, colon-separated (as `--cni-plugin-dir` takes them).
    pub fn joined(&self) -> String {
        self.0
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(":")
    }

    /// The executable for plugin `kind` (already checked to have no `/`).
    pub fn find(&self, kind: &str) -> Result<PathBuf, NetError> {
        self.0
            .iter()
            .map(|d| d.join(kind))
            .find(|p| p.is_file())
            .ok_or_else(|| NetError::PluginNotFound {
                plugin: kind.to_owned(),
                path: self.joined(),
            })
    }

    /// Runs plugin `kind` for `inv` with `config` on stdin; returns what it printed as JSON
    /// (`None` for an empty stdout, as DEL and CHECK print nothing).
    pub fn exec(
        &self,
        network: &str,
        kind: &str,
        op: Op,
        inv: &Invocation,
        config: &Value,
    ) -> Result<Option<Value>, NetError> {
        let exe = self.find(kind)?;
        let args = inv
            .args
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";");
        let stdin =
            serde_json::to_vec(config).map_err(|e| NetError::invalid(network, e.to_string()))?;
        let mut child = Command::new(&exe)
            .env("CNI_COMMAND", op.as_str())
            .env("CNI_CONTAINERID", &inv.container_id)
            .env("CNI_NETNS", &inv.netns)
            .env("CNI_IFNAME", &inv.ifname)
            .env("CNI_ARGS", args)
            .env("CNI_PATH", self.joined())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| NetError::io("run CNI plugin", &exe, e))?;
        if let Some(mut w) = child.stdin.take() {
            // A plugin that exits without reading gives EPIPE: its exit status tells why.
            let _ = w.write_all(&stdin);
        }
        let out = child
            .wait_with_output()
            .map_err(|e| NetError::io("run CNI plugin", &exe, e))?;
        let parsed: Option<Value> = if out.stdout.iter().all(u8::is_ascii_whitespace) {
            None
        } else {
            serde_json::from_slice(&out.stdout).ok()
        };
        if out.status.success() {
            return match (parsed, out.stdout.iter().all(u8::is_ascii_whitespace)) {
                (Some(v), _) => Ok(Some(v)),
                (None, true) => Ok(None),
                (None, false) => Err(plugin_error(
                    network,
                    &exe,
                    op,
                    None,
                    "printed a result that is not JSON".into(),
                    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned()),
                )),
            };
        }
        // The spec's error object: {"code", "msg", "details"}; else whatever it said.
        let (code, msg, details) = match parsed.as_ref().and_then(Value::as_object) {
            Some(o) if o.contains_key("msg") || o.contains_key("code") => (
                o.get("code").and_then(Value::as_u64),
                o.get("msg")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
                o.get("details")
                    .and_then(Value::as_str)
                    .filter(|d| !d.is_empty())
                    .map(str::to_owned),
            ),
            _ => {
                let text = [&out.stdout[..], &out.stderr[..]]
                    .iter()
                    .map(|b| String::from_utf8_lossy(b).trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ");
                (None, format!("{} ({text})", out.status), None)
            }
        };
        Err(plugin_error(network, &exe, op, code, msg, details))
    }
}

fn plugin_error(
    network: &str,
    exe: &Path,
    op: Op,
    code: Option<u64>,
    msg: String,
    details: Option<String>,
) -> NetError {
    NetError::Plugin(Box::new(crate::error::PluginFailure {
        network: network.to_owned(),
        plugin: exe.display().to_string(),
        command: op.as_str(),
        code,
        msg,
        details,
    }))
}
