//! The image catalog: which images the store holds and by which names, in SQLite (WAL mode,
//! with a busy timeout) so that several arca processes can pull, tag and remove at once, each
//! change one transaction. Blobs live in the [`Store`](crate::store::Store); the catalog only
//! points at them, and it is what garbage collection counts as roots (see [`crate::gc`]).

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};

use crate::digest::Digest;
use crate::layout::Image;

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("image catalog {path}: {source}")]
    Db {
        path: String,
        source: rusqlite::Error,
    },
    #[error("image catalog {path}: image {id}: {reason}")]
    Corrupt {
        path: String,
        id: String,
        reason: String,
    },
    #[error("image catalog: locking {path}: {source}")]
    Setup {
        path: String,
        source: std::io::Error,
    },
    #[error("{0:?} matches more than one image; give more of the id")]
    Ambiguous(String),
}

/// One image as the catalog records it. `id` is the config digest (Docker's image ID).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImageRecord {
    pub id: Digest,
    pub manifest_digest: Digest,
    pub config_digest: Digest,
    /// Every blob of the image: manifest, config, layers (GC roots).
    pub blobs: Vec<Digest>,
    /// Compressed size of the layers, as registries and `docker images` count it.
    pub size: u64,
    /// The config's `created`, if any (RFC 3339).
    pub created: Option<String>,
    pub names: Vec<String>,
    /// The layers' chain IDs, base first: the snapshots the image needs.
    pub chain: Vec<Digest>,
    /// Bytes of file content once unpacked, when every layer's is recorded.
    pub unpacked_size: Option<u64>,
}

#[derive(Debug)]
pub struct Catalog {
    conn: Connection,
    path: String,
}

impl Catalog {
    /// Opens (creating if needed) the catalog database at `path`. Setting WAL mode and creating
    /// the schema take SQLite's exclusive lock without waiting on the busy timeout, so two
    /// processes opening a new catalog at once would see "database is locked": they take turns
    /// on `<path>.lock` for that step.
    pub fn open(path: &Path) -> Result<Catalog, CatalogError> {
        let shown = path.display().to_string();
        let lock_path = path.with_extension("lock");
        let _setup = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .and_then(|f| {
                rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive)?;
                Ok(f)
            })
            .map_err(|e| CatalogError::Setup {
                path: lock_path.display().to_string(),
                source: e,
            })?;
        let err = |source| CatalogError::Db {
            path: shown.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(err)?;
        short_lived_wal(&conn).map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS images (
                id TEXT PRIMARY KEY,
                manifest_digest TEXT NOT NULL,
                blobs TEXT NOT NULL,
                size INTEGER NOT NULL,
                created TEXT
            );
            CREATE TABLE IF NOT EXISTS names (
                name TEXT PRIMARY KEY,
                image_id TEXT NOT NULL REFERENCES images(id)
            );
            CREATE TABLE IF NOT EXISTS layers (
                chain_id TEXT PRIMARY KEY,
                diff_id TEXT NOT NULL,
                size INTEGER NOT NULL
            );",
        )
        .map_err(err)?;
        // Catalogs made before snapshots have no chain column (NULL there: computed then).
        if conn.prepare("SELECT chain FROM images LIMIT 0").is_err() {
            conn.execute_batch("ALTER TABLE images ADD COLUMN chain TEXT")
                .map_err(err)?;
        }
        Ok(Catalog { conn, path: shown })
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> CatalogError + '_ {
        |source| CatalogError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// Records `image` (whose blobs are all in the store) and, if given, points `name` at it,
    /// taking the name from any image that had it. One transaction.
    pub fn record(
        &mut self,
        image: &Image,
        name: Option<&str>,
    ) -> Result<ImageRecord, CatalogError> {
        let mut blobs = vec![image.manifest_digest.clone(), image.config_digest.clone()];
        blobs.extend(image.layers.iter().map(|l| l.digest.clone()));
        let size: u64 = image.layers.iter().map(|l| l.size).sum();
        let blob_list = serde_json::to_string(&blobs).unwrap_or_default();
        let chain = crate::snapshot::chain_ids(image.layers.iter().map(|l| &l.diff_id));
        let chain_list = serde_json::to_string(&chain).unwrap_or_default();
        let created = image.config.created().clone();
        let id = image.config_digest.to_string();
        let path = self.path.clone();
        let err = move |source| CatalogError::Db {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(&err)?;
        tx.execute(
            "INSERT INTO images (id, manifest_digest, blobs, size, created, chain)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT(id) DO UPDATE SET manifest_digest = ?2, blobs = ?3, size = ?4,
                chain = ?6",
            params![
                id,
                image.manifest_digest.to_string(),
                blob_list,
                size,
                created,
                chain_list
            ],
        )
        .map_err(&err)?;
        if let Some(name) = name {
            tx.execute(
                "INSERT INTO names (name, image_id) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET image_id = ?2",
                params![name, id],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        self.get(&image.config_digest)?
            .ok_or_else(|| CatalogError::Corrupt {
                path: self.path.clone(),
                id,
                reason: "not found right after it was recorded".into(),
            })
    }

    /// Every image, newest first by name order of insertion is not kept: sorted by first name.
    pub fn list(&self) -> Result<Vec<ImageRecord>, CatalogError> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM images ORDER BY id")
            .map_err(self.db())?;
        let ids: Vec<String> = stmt
            .query_map([], |r| r.get(0))
            .map_err(self.db())?
            .collect::<Result<_, _>>()
            .map_err(self.db())?;
        let mut out = Vec::new();
        for id in ids {
            let digest = self.parse_digest(&id, &id)?;
            if let Some(rec) = self.get(&digest)? {
                out.push(rec);
            }
        }
        out.sort_by(|a, b| {
            a.names
                .first()
                .cmp(&b.names.first())
                .then(a.id.to_string().cmp(&b.id.to_string()))
        });
        Ok(out)
    }

    /// The image with this id.
    pub fn get(&self, id: &Digest) -> Result<Option<ImageRecord>, CatalogError> {
        let row = self
            .conn
            .query_row(
                "SELECT manifest_digest, blobs, size, created, chain FROM images WHERE id = ?1",
                params![id.to_string()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                },
            )
            .optional()
            .map_err(self.db())?;
        let Some((manifest, blobs, size, created, chain)) = row else {
            return Ok(None);
        };
        let id_s = id.to_string();
        let blobs: Vec<Digest> =
            serde_json::from_str(&blobs).map_err(|e| CatalogError::Corrupt {
                path: self.path.clone(),
                id: id_s.clone(),
                reason: format!("blobs: {e}"),
            })?;
        let chain: Vec<Digest> = match chain {
            Some(c) => serde_json::from_str(&c).map_err(|e| CatalogError::Corrupt {
                path: self.path.clone(),
                id: id_s.clone(),
                reason: format!("chain: {e}"),
            })?,
            None => Vec::new(),
        };
        let mut unpacked_size = Some(0u64);
        for c in &chain {
            unpacked_size = unpacked_size.zip(self.layer_size(c)?).map(|(a, b)| a + b);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT name FROM names WHERE image_id = ?1 ORDER BY name")
            .map_err(self.db())?;
        let names = stmt
            .query_map(params![id_s], |r| r.get(0))
            .map_err(self.db())?
            .collect::<Result<Vec<String>, _>>()
            .map_err(self.db())?;
        Ok(Some(ImageRecord {
            id: id.clone(),
            manifest_digest: self.parse_digest(&id_s, &manifest)?,
            config_digest: id.clone(),
            blobs,
            size: u64::try_from(size).unwrap_or(0),
            created,
            names,
            chain,
            unpacked_size,
        }))
    }

    /// Records that the snapshot `chain_id` (layer `diff_id`) holds `size` bytes of file
    /// content. Kept when already recorded: a layer's content does not change.
    pub fn record_layer(
        &mut self,
        chain_id: &Digest,
        diff_id: &Digest,
        size: u64,
    ) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "INSERT OR IGNORE INTO layers (chain_id, diff_id, size) VALUES (?1, ?2, ?3)",
                params![
                    chain_id.to_string(),
                    diff_id.to_string(),
                    i64::try_from(size).unwrap_or(i64::MAX)
                ],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Forgets layer records whose snapshot was collected.
    pub fn forget_layers(&mut self, chain_ids: &[Digest]) -> Result<(), CatalogError> {
        for c in chain_ids {
            self.conn
                .execute(
                    "DELETE FROM layers WHERE chain_id = ?1",
                    params![c.to_string()],
                )
                .map_err(self.db())?;
        }
        Ok(())
    }

    /// The recorded size of the snapshot `chain_id`.
    pub fn layer_size(&self, chain_id: &Digest) -> Result<Option<u64>, CatalogError> {
        let size: Option<i64> = self
            .conn
            .query_row(
                "SELECT size FROM layers WHERE chain_id = ?1",
                params![chain_id.to_string()],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())?;
        Ok(size.map(|s| u64::try_from(s).unwrap_or(0)))
    }

    fn parse_digest(&self, id: &str, s: &str) -> Result<Digest, CatalogError> {
        Digest::parse(s).map_err(|e| CatalogError::Corrupt {
            path: self.path.clone(),
            id: id.to_owned(),
            reason: e.to_string(),
        })
    }

    /// An image by name (`docker.io/library/busybox:latest`), full id (`sha256:...`), or a
    /// unique prefix of the id's hex (at least 3 characters, as Docker allows short ids).
    pub fn resolve(&self, what: &str) -> Result<Option<ImageRecord>, CatalogError> {
        let by_name: Option<String> = self
            .conn
            .query_row(
                "SELECT image_id FROM names WHERE name = ?1",
                params![what],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.db())?;
        if let Some(id) = by_name {
            let d = self.parse_digest(&id, &id)?;
            return self.get(&d);
        }
        let hex = what.strip_prefix("sha256:").unwrap_or(what);
        if hex.len() < 3 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM images WHERE id LIKE ?1")
            .map_err(self.db())?;
        let ids: Vec<String> = stmt
            .query_map(params![format!("sha256:{hex}%")], |r| r.get(0))
            .map_err(self.db())?
            .collect::<Result<_, _>>()
            .map_err(self.db())?;
        match ids.as_slice() {
            [] => Ok(None),
            [id] => {
                let d = self.parse_digest(id, id)?;
                self.get(&d)
            }
            _ => Err(CatalogError::Ambiguous(what.to_owned())),
        }
    }

    /// Points `name` at the recorded image `id` (taking it from any other image).
    pub fn tag(&mut self, id: &Digest, name: &str) -> Result<(), CatalogError> {
        self.conn
            .execute(
                "INSERT INTO names (name, image_id) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET image_id = ?2",
                params![name, id.to_string()],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Removes `name`; the image itself goes too once it has no name left (returned then).
    pub fn untag(&mut self, name: &str) -> Result<Option<Digest>, CatalogError> {
        let path = self.path.clone();
        let err = move |source| CatalogError::Db {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(&err)?;
        let id: Option<String> = tx
            .query_row(
                "SELECT image_id FROM names WHERE name = ?1",
                params![name],
                |r| r.get(0),
            )
            .optional()
            .map_err(&err)?;
        let Some(id) = id else {
            return Ok(None);
        };
        tx.execute("DELETE FROM names WHERE name = ?1", params![name])
            .map_err(&err)?;
        let left: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM names WHERE image_id = ?1",
                params![id],
                |r| r.get(0),
            )
            .map_err(&err)?;
        let removed = if left == 0 {
            tx.execute("DELETE FROM images WHERE id = ?1", params![id])
                .map_err(&err)?;
            Some(id)
        } else {
            None
        };
        tx.commit().map_err(&err)?;
        removed.map(|id| self.parse_digest(&id, &id)).transpose()
    }

    /// Removes an image and every name pointing at it.
    pub fn remove(&mut self, id: &Digest) -> Result<bool, CatalogError> {
        let path = self.path.clone();
        let err = move |source| CatalogError::Db {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(&err)?;
        tx.execute(
            "DELETE FROM names WHERE image_id = ?1",
            params![id.to_string()],
        )
        .map_err(&err)?;
        let n = tx
            .execute("DELETE FROM images WHERE id = ?1", params![id.to_string()])
            .map_err(&err)?;
        tx.commit().map_err(&err)?;
        Ok(n > 0)
    }
}

/// Pages the WAL may hold before a commit checkpoints it (SQLite's default is 1000).
///
/// Every arca command is a new process, and the first connection of a process to a database
/// nobody holds open rebuilds the WAL index by reading the whole WAL: at 1000 pages that is
/// 4 MiB read and checksummed on each `run --rm`, a cost that grew with every container
/// (2 ms of 10 at 500 pages). A short WAL keeps that read small; the checkpoint it costs
/// (two fsyncs, ~0.4 ms here) comes once per several commands.
const WAL_AUTOCHECKPOINT_PAGES: i64 = 64;

/// Sets a connection up for short-lived processes sharing one database.
///
/// The WAL is left as it is when the process's last connection closes: otherwise every
/// command would checkpoint it (fsyncs), delete it, and the next recreate it (a directory
/// fsync). Commits checkpoint instead once the WAL holds [`WAL_AUTOCHECKPOINT_PAGES`], and a
/// crash at any point is recovered from the WAL.
pub fn short_lived_wal(conn: &Connection) -> rusqlite::Result<()> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
    conn.pragma_update(None, "wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES)
}

#[cfg(test)]
mod wal_tests {
    use rusqlite::Connection;

    /// Many short transactions keep the WAL near WAL_AUTOCHECKPOINT_PAGES, and closing leaves
    /// it (no checkpoint on close); what was committed is all there when reopened.
    #[test]
    fn the_wal_stays_short_and_survives_close() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("t.db");
        let open = || {
            let c = Connection::open(&db).unwrap();
            c.pragma_update(None, "journal_mode", "WAL").unwrap();
            super::short_lived_wal(&c).unwrap();
            c
        };
        let c = open();
        c.execute_batch("CREATE TABLE t (v TEXT)").unwrap();
        for i in 0..500 {
            c.execute("INSERT INTO t VALUES (?1)", [format!("{i:0>1000}")])
                .unwrap();
        }
        drop(c);
        let wal = std::fs::metadata(dir.path().join("t.db-wal")).expect("the WAL is kept");
        // A page is 4096 bytes plus a 24-byte frame header; a commit here writes a few pages.
        let max = 32 + (super::WAL_AUTOCHECKPOINT_PAGES as u64 + 8) * 4120;
        assert!(wal.len() <= max, "WAL of {} bytes (max {max})", wal.len());
        let n: i64 = open()
            .query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 500);
    }
}
