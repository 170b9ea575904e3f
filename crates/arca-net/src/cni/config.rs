//! Network configuration lists (`.conflist`), and single network configs (`.conf`, `.json`)
//! read as a list of one, as libcni does. Validated on load so that a bad file is named with its
//! problem before any plugin runs.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::error::NetError;

/// A network configuration list: the plugins run in order on ADD, in reverse on DEL.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigList {
    pub name: String,
    pub cni_version: String,
    pub disable_check: bool,
    /// Each plugin's configuration object (it has at least a string `type`).
    pub plugins: Vec<Map<String, Value>>,
    /// The file it came from, for errors.
    pub source: PathBuf,
    /// The list as read, kept so a cached attachment can be torn down with exactly the
    /// configuration it was set up with, even after the file changed or went.
    pub raw: Value,
}

impl ConfigList {
    pub fn load(path: &Path) -> Result<ConfigList, NetError> {
        let bytes = std::fs::read(path).map_err(|e| NetError::io("read", path, e))?;
        Self::parse(&bytes, path)
    }

    /// Parses a list, or a single plugin's config (no `plugins` key) as a list of one.
    pub fn parse(bytes: &[u8], source: &Path) -> Result<ConfigList, NetError> {
        let bad = |reason: String| NetError::BadConfig {
            path: source.to_owned(),
            reason,
        };
        let raw: Value = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
        Self::from_value(raw, source)
    }

    pub fn from_value(raw: Value, source: &Path) -> Result<ConfigList, NetError> {
        let bad = |reason: String| NetError::BadConfig {
            path: source.to_owned(),
            reason,
        };
        let obj = raw
            .as_object()
            .ok_or_else(|| bad("not a JSON object".into()))?;
        let name = obj
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("\"name\" is missing or not a string".into()))?
            .to_owned();
        if !valid_network_name(&name) {
            return Err(bad(format!(
                "\"name\" {name:?}: use letters, digits, '.', '_' and '-', starting with a letter or digit"
            )));
        }
        let cni_version = obj
            .get("cniVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("\"cniVersion\" is missing or not a string".into()))?
            .to_owned();
        let disable_check = obj
            .get("disableCheck")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let plugins: Vec<Map<String, Value>> = match obj.get("plugins") {
            None => vec![obj.clone()],
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    p.as_object()
                        .cloned()
                        .ok_or_else(|| bad(format!("plugins[{i}] is not an object")))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(bad("\"plugins\" is not an array".into())),
        };
        if plugins.is_empty() {
            return Err(bad("\"plugins\" is empty".into()));
        }
        for (i, p) in plugins.iter().enumerate() {
            match p.get("type").and_then(Value::as_str) {
                Some(t) if valid_plugin_type(t) => {}
                Some(t) => {
                    return Err(bad(format!(
                        "plugins[{i}].type {t:?} is not a plugin name (no '/', not empty)"
                    )))
                }
                None => return Err(bad(format!("plugins[{i}].type is missing"))),
            }
        }
        Ok(ConfigList {
            name,
            cni_version,
            disable_check,
            plugins,
            source: source.to_owned(),
            raw,
        })
    }

    /// The plugin types, in order (`bridge`, `portmap`...).
    pub fn plugin_types(&self) -> impl Iterator<Item = &str> {
        self.plugins
            .iter()
            .filter_map(|p| p.get("type").and_then(Value::as_str))
    }
}

/// Docker's rule for network names (and a safe file name).
pub fn valid_network_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && name.len() <= 128
}

/// A plugin type is looked up as a file in the plugin path: it must not walk out of it.
fn valid_plugin_type(t: &str) -> bool {
    !t.is_empty() && t != "." && t != ".." && !t.contains('/') && !t.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ConfigList, NetError> {
        ConfigList::parse(text.as_bytes(), Path::new("t.conflist"))
    }

    #[test]
    fn list_and_single_config() {
        let l = parse(
            r#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"bridge"},{"type":"portmap"}]}"#,
        )
        .unwrap();
        assert_eq!(l.plugin_types().collect::<Vec<_>>(), ["bridge", "portmap"]);
        let s = parse(r#"{"cniVersion":"0.4.0","name":"n","type":"ptp"}"#).unwrap();
        assert_eq!(s.plugin_types().collect::<Vec<_>>(), ["ptp"]);
    }

    #[test]
    fn errors_name_the_field() {
        let e = parse(r#"{"cniVersion":"1.0.0","plugins":[]}"#).unwrap_err();
        assert!(e.to_string().contains("\"name\" is missing"), "{e}");
        let e = parse(r#"{"cniVersion":"1.0.0","name":"n","plugins":[]}"#).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
        let e = parse(r#"{"cniVersion":"1.0.0","name":"n","plugins":[{"type":"../../bin/sh"}]}"#)
            .unwrap_err();
        assert!(e.to_string().contains("plugins[0].type"), "{e}");
        let e = parse(r#"{"cniVersion":"1.0.0","name":"a/b","type":"x"}"#).unwrap_err();
        assert!(e.to_string().contains("t.conflist"), "{e}");
    }
}
