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
            );",
        )
        .map_err(err)?;
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
        let created = image.config.created().clone();
        let id = image.config_digest.to_string();
        let path = self.path.clone();
        let err = move |source| CatalogError::Db {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(&err)?;
        tx.execute(
            "INSERT INTO images (id, manifest_digest, blobs, size, created)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(id) DO UPDATE SET manifest_digest = ?2, blobs = ?3, size = ?4",
            params![
                id,
                image.manifest_digest.to_string(),
                blob_list,
                size,
                created
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
                "SELECT manifest_digest, blobs, size, created FROM images WHERE id = ?1",
                params![id.to_string()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, Option<String>>(3)?,
                    ))
                },
            )
            .optional()
            .map_err(self.db())?;
        let Some((manifest, blobs, size, created)) = row else {
            return Ok(None);
        };
        let id_s = id.to_string();
        let blobs: Vec<Digest> =
            serde_json::from_str(&blobs).map_err(|e| CatalogError::Corrupt {
                path: self.path.clone(),
                id: id_s.clone(),
                reason: format!("blobs: {e}"),
            })?;
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
        }))
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
