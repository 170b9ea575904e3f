//! The runtime side of the Container Network Interface (spec 1.0): a network configuration
//! list run plugin by plugin, each given the previous one's result, with the runtime's
//! capability arguments (published ports) passed only to the plugins that declare them.
//!
//! - `config`: `.conflist` files (and single `.conf`s), validated.
//! - `plugin`: running one plugin binary with the `CNI_*` environment.
//! - `result`: the parts of a result arca reads (addresses).

pub mod config;
pub mod plugin;
pub mod result;

use serde_json::{Map, Value};

pub use config::ConfigList;
pub use plugin::{Invocation, Op, PluginPath};
pub use result::CniResult;

use crate::error::NetError;

/// The plugin config a plugin gets on stdin: its own object, plus the list's `name` and
/// `cniVersion`, the previous result, and `runtimeConfig` for the capabilities it declares.
fn plugin_config(
    list: &ConfigList,
    plugin: &Map<String, Value>,
    prev: Option<&Value>,
    capability_args: &Map<String, Value>,
) -> Value {
    let mut conf = plugin.clone();
    conf.insert("name".into(), Value::String(list.name.clone()));
    conf.insert("cniVersion".into(), Value::String(list.cni_version.clone()));
    if let Some(p) = prev {
        conf.insert("prevResult".into(), p.clone());
    }
    let declared = plugin.get("capabilities").and_then(Value::as_object);
    let runtime: Map<String, Value> = capability_args
        .iter()
        .filter(|(k, _)| {
            declared
                .and_then(|d| d.get(k.as_str()))
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !runtime.is_empty() {
        conf.insert("runtimeConfig".into(), Value::Object(runtime));
    } else {
        conf.remove("runtimeConfig");
    }
    Value::Object(conf)
}

fn kind(plugin: &Map<String, Value>) -> &str {
    plugin.get("type").and_then(Value::as_str).unwrap_or("")
}

/// ADD: every plugin in order. On failure the list is deleted again (best effort), so a half
/// set-up attachment leaves no interface, lease or rule behind.
pub fn add(
    path: &PluginPath,
    list: &ConfigList,
    inv: &Invocation,
    capability_args: &Map<String, Value>,
) -> Result<Value, NetError> {
    let mut prev: Option<Value> = None;
    for plugin in &list.plugins {
        let conf = plugin_config(list, plugin, prev.as_ref(), capability_args);
        match path.exec(&list.name, kind(plugin), Op::Add, inv, &conf) {
            Ok(Some(result)) => prev = Some(result),
            // A plugin that prints nothing passes the previous result on.
            Ok(None) => {}
            Err(e) => {
                if let Err(d) = del(path, list, inv, capability_args, prev.as_ref()) {
                    tracing::debug!("undoing a failed ADD on network {}: {d}", list.name);
                }
                return Err(e);
            }
        }
    }
    prev.ok_or_else(|| NetError::invalid(format!("network {:?}", list.name), "ADD gave no result"))
}

/// CHECK: every plugin in order, with the cached ADD result (skipped with `disableCheck`).
pub fn check(
    path: &PluginPath,
    list: &ConfigList,
    inv: &Invocation,
    capability_args: &Map<String, Value>,
    result: &Value,
) -> Result<(), NetError> {
    if list.disable_check {
        return Ok(());
    }
    for plugin in &list.plugins {
        let conf = plugin_config(list, plugin, Some(result), capability_args);
        path.exec(&list.name, kind(plugin), Op::Check, inv, &conf)?;
    }
    Ok(())
}

/// DEL: every plugin in reverse order, given the ADD result when there is one. Every plugin
/// runs even when one fails (so the others still release what they hold); the first error is
/// returned.
pub fn del(
    path: &PluginPath,
    list: &ConfigList,
    inv: &Invocation,
    capability_args: &Map<String, Value>,
    result: Option<&Value>,
) -> Result<(), NetError> {
    let mut first = None;
    for plugin in list.plugins.iter().rev() {
        let conf = plugin_config(list, plugin, result, capability_args);
        if let Err(e) = path.exec(&list.name, kind(plugin), Op::Del, inv, &conf) {
            first.get_or_insert(e);
        }
    }
    first.map_or(Ok(()), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn runtime_config_only_for_declared_capabilities() {
        let list = ConfigList::parse(
            br#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"},{"type":"portmap","capabilities":{"portMappings":true}}]}"#,
            Path::new("t"),
        )
        .unwrap();
        let mut caps = Map::new();
        caps.insert(
            "portMappings".into(),
            serde_json::json!([{"hostPort": 8080}]),
        );
        let prev = serde_json::json!({"ips": []});
        let bridge = plugin_config(&list, &list.plugins[0], None, &caps);
        assert!(bridge.get("runtimeConfig").is_none());
        assert_eq!(bridge["name"], "n");
        assert_eq!(bridge["cniVersion"], "1.0.0");
        let portmap = plugin_config(&list, &list.plugins[1], Some(&prev), &caps);
        assert_eq!(
            portmap["runtimeConfig"]["portMappings"][0]["hostPort"],
            8080
        );
        assert_eq!(portmap["prevResult"], prev);
    }
}
