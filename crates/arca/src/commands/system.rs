//! `arca system df`: where the image store's disk space goes, in Docker's table. Unpacked
//! content is counted the way it is stored: each distinct file once, however many layers and
//! images hold it (file-level dedup). The compressed blobs, kept to push and save images, are
//! their own row, as Docker's users know them from `docker system df`'s build cache row.

use std::collections::{HashMap, HashSet};

use anyhow::Result;
use serde_json::json;

use super::ImageState;
use crate::cli::{DfArgs, Format};
use crate::units;

pub fn df(state: &ImageState, a: &DfArgs) -> Result<i32> {
    let images = state.catalog.list()?;
    let objects = state.snapshots.objects().usage()?;
    let referenced: HashSet<_> = images.iter().flat_map(|r| r.blobs.iter()).collect();
    let (mut blob_bytes, mut blob_unused) = (0u64, 0u64);
    let blobs = state.store.list()?;
    for b in &blobs {
        let len = std::fs::metadata(state.store.path(b)).map_or(0, |m| m.len());
        blob_bytes += len;
        if !referenced.contains(b) {
            blob_unused += len;
        }
    }
    // What the layers hold, counting a layer once however many images share it, before dedup.
    let mut layer_bytes = 0u64;
    let mut seen = HashSet::new();
    for c in images.iter().flat_map(|r| r.chain.iter()) {
        if seen.insert(c) {
            layer_bytes += state.catalog.layer_size(c)?.unwrap_or(0);
        }
    }
    // No containers exist yet to keep an image in use: all of it is reclaimable by `rmi`.
    let unused_objects = objects.unreferenced;
    if a.format == Format::Json {
        let out = json!({
            "Images": {
                "Total": images.len(),
                "Active": 0,
                "Size": objects.bytes,
                "Reclaimable": objects.bytes,
                "LayerContent": layer_bytes,
                "Objects": objects.objects,
                "UnreferencedObjects": unused_objects,
            },
            "Blobs": {
                "Total": blobs.len(),
                "Size": blob_bytes,
                "Reclaimable": blob_unused,
            },
            "Driver": state.snapshots.driver().name(),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(0);
    }
    let pct = |part: u64, whole: u64| (part * 100).checked_div(whole).unwrap_or(0);
    let rows = [
        [
            "TYPE".to_owned(),
            "TOTAL".to_owned(),
            "ACTIVE".to_owned(),
            "SIZE".to_owned(),
            "RECLAIMABLE".to_owned(),
        ],
        [
            "Images".to_owned(),
            images.len().to_string(),
            "0".to_owned(),
            units::size(objects.bytes),
            format!("{} (100%)", units::size(objects.bytes)),
        ],
        [
            "Image blobs".to_owned(),
            blobs.len().to_string(),
            (blobs.len() - blobs.iter().filter(|b| !referenced.contains(b)).count()).to_string(),
            units::size(blob_bytes),
            format!(
                "{} ({}%)",
                units::size(blob_unused),
                pct(blob_unused, blob_bytes)
            ),
        ],
    ];
    crate::units::print_table(&rows);
    if layer_bytes > 0 {
        println!(
            "\nLayers hold {} of files, stored as {} ({} distinct files, {} driver)",
            units::size(layer_bytes),
            units::size(objects.bytes),
            objects.objects,
            state.snapshots.driver().name()
        );
    }
    if a.verbose {
        let mut users: HashMap<_, usize> = HashMap::new();
        for c in images.iter().flat_map(|r| r.chain.iter()) {
            *users.entry(c).or_default() += 1;
        }
        println!();
        let mut rows = vec![[
            "IMAGE".to_owned(),
            "IMAGE ID".to_owned(),
            "SIZE".to_owned(),
            "SHARED SIZE".to_owned(),
        ]];
        for r in &images {
            let mut shared = 0;
            for c in &r.chain {
                if users.get(c).copied().unwrap_or(0) > 1 {
                    shared += state.catalog.layer_size(c)?.unwrap_or(0);
                }
            }
            rows.push([
                r.names.first().cloned().unwrap_or_else(|| "<none>".into()),
                units::short_id(&r.id.to_string()),
                units::size(r.unpacked_size.unwrap_or(0)),
                units::size(shared),
            ]);
        }
        crate::units::print_table(&rows);
    }
    Ok(0)
}
