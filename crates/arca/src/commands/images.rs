//! `arca images`: the catalog as Docker's table, ids only, or JSON.

use anyhow::Result;
use serde_json::json;

use super::ImageState;
use crate::cli::{Format, ImagesArgs};
use crate::units;

pub fn list(state: &ImageState, a: &ImagesArgs) -> Result<i32> {
    let records = state.catalog.list()?;
    let id = |d: &str| {
        if a.no_trunc {
            d.to_owned()
        } else {
            units::short_id(d)
        }
    };
    if a.quiet {
        for r in &records {
            println!("{}", id(&r.id.to_string()));
        }
        return Ok(0);
    }
    if a.format == Format::Json {
        let out: Vec<_> = records
            .iter()
            .map(|r| {
                json!({
                    "Id": r.id.to_string(),
                    "Names": r.names,
                    "Digest": r.manifest_digest.to_string(),
                    "Size": r.unpacked_size.unwrap_or(r.size),
                    "CompressedSize": r.size,
                    "Created": r.created,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(0);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let mut rows = vec![[
        "REPOSITORY".to_owned(),
        "TAG".to_owned(),
        "IMAGE ID".to_owned(),
        "CREATED".to_owned(),
        "SIZE".to_owned(),
    ]];
    for r in &records {
        let names = if r.names.is_empty() {
            vec!["<none>:<none>".to_owned()]
        } else {
            r.names.clone()
        };
        for n in names {
            let (repo, tag) = n.rsplit_once(':').unwrap_or((&n, "<none>"));
            rows.push([
                repo.to_owned(),
                tag.to_owned(),
                id(&r.id.to_string()),
                r.created
                    .as_deref()
                    .map_or_else(|| "<unknown>".into(), |c| units::ago(c, now)),
                units::size(r.unpacked_size.unwrap_or(r.size)),
            ]);
        }
    }
    crate::units::print_table(&rows);
    Ok(0)
}
