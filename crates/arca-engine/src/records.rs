//! Container records, in the same SQLite catalog as the images (`<root>/images/catalog.db`,
//! WAL, busy timeout), so many arca processes at once can create, list and remove containers:
//! a name is a `UNIQUE` column, so two `run --name x` racing each other cannot both get it,
//! and every change is one statement or one transaction.
//!
//! What a record holds is what `ps` and `inspect` show and what `start`, `stop` and `rm` need
//! without the container running: the image, the command, the flags that matter after create
//! (`--rm`, the stop signal and timeout), the state the monitor last wrote, and its exit.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// How long a writer waits for another process's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("container records in {path}: {source}")]
    Db {
        path: String,
        source: rusqlite::Error,
    },
    #[error("the container name {0:?} is already in use")]
    NameInUse(String),
    #[error("{0:?} matches more than one container; give more of the id")]
    Ambiguous(String),
    #[error("container {id}: its record is damaged: {reason}")]
    Corrupt { id: String, reason: String },
}

/// Where a container is in its life, as the records know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Made (snapshot, bundle), never started.
    Created,
    /// Its monitor reported it started.
    Running,
    /// It ended; `exit_code` says how.
    Exited,
}

impl State {
    fn as_str(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Exited => "exited",
        }
    }

    fn parse(s: &str) -> Option<State> {
        match s {
            "created" => Some(State::Created),
            "running" => Some(State::Running),
            "exited" => Some(State::Exited),
            _ => None,
        }
    }
}

/// The settings a container keeps from its creation (JSON in the record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// The process as started: entrypoint and command.
    pub command: Vec<String>,
    /// `--rm`.
    pub auto_remove: bool,
    /// Signal `stop` sends first (`--stop-signal`, else the image's, else SIGTERM).
    pub stop_signal: String,
    /// Seconds `stop` waits before SIGKILL (`--stop-timeout`, default 10).
    pub stop_timeout: u64,
    /// `-t`.
    pub tty: bool,
    /// `-i` (Docker's `OpenStdin`): a detached container's stdin is a pipe its monitor keeps
    /// open for `attach`; without it, stdin is /dev/null.
    #[serde(default)]
    pub interactive: bool,
    /// Docker's `StdinOnce` (`-i` without `-d`): the end of an attached client's input
    /// closes the container's stdin.
    #[serde(default)]
    pub stdin_once: bool,
    /// `--label`.
    pub labels: Vec<(String, String)>,
    /// The image chain IDs, base first: the writable snapshot's lowers.
    pub chain: Vec<String>,
    /// `--restart`.
    #[serde(default)]
    pub restart: crate::restart::RestartPolicy,
    /// `--health-*` or the image's HEALTHCHECK.
    #[serde(default)]
    pub health: Option<crate::health::HealthConfig>,
    /// Named volumes it mounts (`volume rm` refuses them while it exists).
    #[serde(default)]
    pub volumes: Vec<String>,
    /// Anonymous volumes made for it (`rm -v` and `--rm` remove them).
    #[serde(default)]
    pub anonymous_volumes: Vec<String>,
    /// `--network`, `-p`, `--dns*`, `--add-host`.
    #[serde(default)]
    pub network: crate::network::NetworkSettings,
    /// `--init`: the command runs under arca's reaper.
    #[serde(default)]
    pub init: bool,
}

/// One container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub id: String,
    pub name: String,
    pub image_id: String,
    /// The image as the user named it.
    pub image: String,
    /// Seconds since the epoch.
    pub created: i64,
    pub state: State,
    /// Host pid of the container's init while running.
    pub pid: Option<i32>,
    /// The monitor's pid while running (detached containers).
    pub monitor_pid: Option<i32>,
    pub started: Option<i64>,
    pub finished: Option<i64>,
    pub exit_code: Option<i32>,
    pub settings: Settings,
}

#[derive(Debug)]
pub struct Records {
    conn: Connection,
    path: String,
}

impl Records {
    /// Opens the records in the image catalog at `catalog` (made by
    /// `arca_image::catalog::Catalog::open`, which sets WAL mode under its setup lock).
    pub fn open(catalog: &Path) -> Result<Records, RecordError> {
        let path = catalog.display().to_string();
        let err = |source| RecordError::Db {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(catalog).map_err(err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
        // In WAL mode NORMAL keeps every commit atomic and the database consistent through a
        // crash; only a power loss can take the last commits back. A container's record is
        // worth less than an fsync on each of the four changes of a `run --rm` (the image
        // catalog, which names content, keeps FULL on its own connection).
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        arca_image::catalog::short_lived_wal(&conn).map_err(err)?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS containers (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL UNIQUE,
                image_id TEXT NOT NULL,
                image TEXT NOT NULL,
                created INTEGER NOT NULL,
                state TEXT NOT NULL,
                pid INTEGER,
                monitor_pid INTEGER,
                started INTEGER,
                finished INTEGER,
                exit_code INTEGER,
                settings TEXT NOT NULL
            );",
        )
        .map_err(err)?;
        Ok(Records { conn, path })
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> RecordError + '_ {
        |source| RecordError::Db {
            path: self.path.clone(),
            source,
        }
    }

    /// Records a new container (state `created`); its name must be free.
    pub fn insert(&self, r: &Record) -> Result<(), RecordError> {
        let settings = serde_json::to_string(&r.settings).unwrap_or_default();
        match self.conn.execute(
            "INSERT INTO containers (id, name, image_id, image, created, state, settings)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                r.id,
                r.name,
                r.image_id,
                r.image,
                r.created,
                r.state.as_str(),
                settings
            ],
        ) {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, Some(msg)))
                if e.code == rusqlite::ErrorCode::ConstraintViolation
                    && msg.contains("containers.name") =>
            {
                Err(RecordError::NameInUse(r.name.clone()))
            }
            Err(e) => Err(self.db()(e)),
        }
    }

    /// The monitor (or a foreground run) started the container.
    pub fn set_running(
        &self,
        id: &str,
        pid: i32,
        monitor_pid: Option<i32>,
        started: i64,
    ) -> Result<(), RecordError> {
        self.conn
            .execute(
                "UPDATE containers SET state = 'running', pid = ?2, monitor_pid = ?3,
                 started = ?4, finished = NULL, exit_code = NULL WHERE id = ?1",
                params![id, pid, monitor_pid, started],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// The container ended with `exit_code` (`None`: nobody saw how, e.g. its monitor died).
    pub fn set_exited(
        &self,
        id: &str,
        exit_code: Option<i32>,
        finished: i64,
    ) -> Result<(), RecordError> {
        self.conn
            .execute(
                "UPDATE containers SET state = 'exited', pid = NULL, monitor_pid = NULL,
                 finished = ?2, exit_code = ?3 WHERE id = ?1",
                params![id, finished, exit_code],
            )
            .map_err(self.db())?;
        Ok(())
    }

    /// Gives the container `id` the name `name` (which must be free).
    pub fn rename(&self, id: &str, name: &str) -> Result<(), RecordError> {
        match self.conn.execute(
            "UPDATE containers SET name = ?2 WHERE id = ?1",
            params![id, name],
        ) {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(RecordError::NameInUse(name.to_owned()))
            }
            Err(e) => Err(self.db()(e)),
        }
    }

    /// Replaces the settings of container `id` (`network connect`/`disconnect`).
    pub fn set_settings(&self, id: &str, settings: &Settings) -> Result<(), RecordError> {
        let text = serde_json::to_string(settings).unwrap_or_default();
        self.conn
            .execute(
                "UPDATE containers SET settings = ?2 WHERE id = ?1",
                params![id, text],
            )
            .map_err(self.db())?;
        Ok(())
    }

    pub fn remove(&self, id: &str) -> Result<bool, RecordError> {
        let n = self
            .conn
            .execute("DELETE FROM containers WHERE id = ?1", params![id])
            .map_err(self.db())?;
        Ok(n > 0)
    }

    /// Every container, newest first.
    pub fn list(&self) -> Result<Vec<Record>, RecordError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{SELECT} ORDER BY created DESC, id"))
            .map_err(self.db())?;
        let rows = stmt
            .query_map([], row)
            .map_err(self.db())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.db())?;
        rows.into_iter().map(finish).collect()
    }

    /// A container by exact id, name, or unique id prefix (at least 3 characters), as Docker
    /// resolves them.
    pub fn resolve(&self, what: &str) -> Result<Option<Record>, RecordError> {
        let exact = self
            .conn
            .query_row(
                &format!("{SELECT} WHERE id = ?1 OR name = ?1"),
                params![what],
                row,
            )
            .optional()
            .map_err(self.db())?;
        if let Some(r) = exact {
            return finish(r).map(Some);
        }
        if what.len() < 3 || !what.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let mut stmt = self
            .conn
            .prepare(&format!("{SELECT} WHERE id LIKE ?1"))
            .map_err(self.db())?;
        let mut rows = stmt
            .query_map(params![format!("{what}%")], row)
            .map_err(self.db())?
            .collect::<Result<Vec<_>, _>>()
            .map_err(self.db())?;
        match rows.len() {
            0 => Ok(None),
            1 => finish(rows.remove(0)).map(Some),
            _ => Err(RecordError::Ambiguous(what.to_owned())),
        }
    }
}

const SELECT: &str = "SELECT id, name, image_id, image, created, state, pid, monitor_pid, \
                      started, finished, exit_code, settings FROM containers";

/// A row before its text columns are parsed.
type Raw = (Record, String, String);

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Raw> {
    Ok((
        Record {
            id: r.get(0)?,
            name: r.get(1)?,
            image_id: r.get(2)?,
            image: r.get(3)?,
            created: r.get(4)?,
            state: State::Created,
            pid: r.get(6)?,
            monitor_pid: r.get(7)?,
            started: r.get(8)?,
            finished: r.get(9)?,
            exit_code: r.get(10)?,
            settings: Settings::default(),
        },
        r.get(5)?,
        r.get(11)?,
    ))
}

fn finish((mut rec, state, settings): Raw) -> Result<Record, RecordError> {
    rec.state = State::parse(&state).ok_or_else(|| RecordError::Corrupt {
        id: rec.id.clone(),
        reason: format!("state {state:?}"),
    })?;
    rec.settings = serde_json::from_str(&settings).map_err(|e| RecordError::Corrupt {
        id: rec.id.clone(),
        reason: format!("settings: {e}"),
    })?;
    Ok(rec)
}
