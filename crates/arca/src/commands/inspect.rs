//! `arca image inspect`: the catalog record with the config and manifest from the store, in
//! the field names `docker image inspect` uses where they exist.

use std::io::Read;

use anyhow::{anyhow, Context, Result};
use serde_json::{json, Value};

use super::ImageState;

pub fn inspect(state: &ImageState, images: &[String]) -> Result<i32> {
    let mut out = Vec::new();
    for what in images {
        let r = state
            .catalog
            .resolve(what)?
            .ok_or_else(|| anyhow!("inspect: {what}: no such image"))?;
        let config = read_json(state, &r.config_digest.to_string())?;
        let manifest = read_json(state, &r.manifest_digest.to_string())?;
        out.push(json!({
            "Id": r.id.to_string(),
            "RepoTags": r.names,
            "Digest": r.manifest_digest.to_string(),
            "Created": r.created,
            "Size": r.size,
            "Architecture": config["architecture"],
            "Os": config["os"],
            "Config": config["config"],
            "RootFS": config["rootfs"],
            "Manifest": manifest,
        }));
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(0)
}

fn read_json(state: &ImageState, digest: &str) -> Result<Value> {
    let d = arca_image::digest::Digest::parse(digest)?;
    let mut text = String::new();
    state
        .store
        .open_blob(&d)?
        .read_to_string(&mut text)
        .with_context(|| format!("reading blob {digest}"))?;
    serde_json::from_str(&text).with_context(|| format!("blob {digest} is not JSON"))
}
