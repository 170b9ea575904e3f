//! The image's `HEALTHCHECK`: Docker's `config.Healthcheck` (and `config.Shell`, which runs a
//! `CMD-SHELL` test). The OCI image-spec has neither field and oci-spec's types drop them, so
//! they are read from the config blob's JSON.

use serde::Deserialize;
use serde_json::Value;

/// Docker's `Healthcheck` object; durations in nanoseconds, 0 meaning "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Healthcheck {
    /// `["CMD", args…]`, `["CMD-SHELL", command]`, `["NONE"]`, or empty (inherit).
    #[serde(default)]
    pub test: Vec<String>,
    #[serde(default)]
    pub interval: u64,
    #[serde(default)]
    pub timeout: u64,
    #[serde(default)]
    pub start_period: u64,
    #[serde(default)]
    pub retries: u32,
}

/// What an image config says about health.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageHealth {
    pub healthcheck: Option<Healthcheck>,
    /// `SHELL` (default `/bin/sh -c`).
    pub shell: Option<Vec<String>>,
}

impl ImageHealth {
    /// From the image config blob's JSON; an error names the field at fault.
    pub fn from_config(config: &Value) -> Result<ImageHealth, String> {
        let c = &config["config"];
        let field = |name: &str| c.get(name).filter(|v| !v.is_null()).cloned();
        Ok(ImageHealth {
            healthcheck: field("Healthcheck")
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| format!("the image config's Healthcheck: {e}"))?,
            shell: field("Shell")
                .map(serde_json::from_value)
                .transpose()
                .map_err(|e| format!("the image config's Shell: {e}"))?,
        })
    }
}
