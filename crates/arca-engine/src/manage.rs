//! The smaller verbs on a container: `pause`/`unpause` (the cgroup freezer, through the
//! runtime library), `rename`, `top` (its processes), `stats` (live cgroup figures), and
//! `container prune`.

use std::time::{Duration, Instant};

use crate::container::Status;
use crate::engine::Engine;
use crate::error::EngineError;
use crate::prune::{freeable_bytes, Pruned};
use crate::records::Record;

/// What `stats` shows of one container at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// CPU time used so far, nanoseconds.
    pub cpu_ns: u64,
    pub mem_usage: u64,
    /// The memory limit (a huge number when there is none, as the kernel reports).
    pub mem_limit: u64,
    pub pids: u64,
    /// When this was read.
    pub at: Instant,
}

impl Engine {
    fn running(&self, rec: &Record, verb: &'static str) -> Result<(), EngineError> {
        if self.status(rec) == Status::Running {
            Ok(())
        } else {
            Err(EngineError::BadState {
                name: rec.name.clone(),
                state: "not running".into(),
                hint: verb,
            })
        }
    }

    pub fn pause(&self, rec: &Record) -> Result<(), EngineError> {
        self.running(rec, "only a running container can be paused")?;
        Ok(arca_container::container::pause(&self.runtime, &rec.id)?)
    }

    pub fn unpause(&self, rec: &Record) -> Result<(), EngineError> {
        self.running(rec, "only a paused (running) container can be unpaused")?;
        Ok(arca_container::container::resume(&self.runtime, &rec.id)?)
    }

    /// Whether the runtime has the container frozen.
    pub fn paused(&self, rec: &Record) -> bool {
        self.runtime.load(&rec.id).is_ok_and(|st| {
            st.status(&self.runtime.dir(&rec.id)) == arca_container::state::Status::Paused
        })
    }

    pub fn rename(&self, rec: &Record, name: &str) -> Result<(), EngineError> {
        if !crate::names::valid_name(name) {
            return Err(EngineError::BadName(name.to_owned()));
        }
        Ok(self.records.rename(&rec.id, name)?)
    }

    /// The host pids of the container's processes.
    pub fn top(&self, rec: &Record) -> Result<Vec<i32>, EngineError> {
        self.running(rec, "top needs a running container")?;
        Ok(arca_container::container::ps(&self.runtime, &rec.id)?)
    }

    pub fn usage(&self, rec: &Record) -> Result<Usage, EngineError> {
        self.running(rec, "stats needs a running container")?;
        let s = arca_container::container::events::stats(&self.runtime, &rec.id)?;
        Ok(Usage {
            cpu_ns: s.cpu.usage.total,
            mem_usage: s.memory.usage.usage,
            mem_limit: s.memory.usage.limit,
            pids: s.pids.current,
            at: Instant::now(),
        })
    }

    /// Removes every exited or created container; returns their ids and the bytes their
    /// writable layers and directories held.
    pub fn prune(&self) -> Result<Pruned, EngineError> {
        let mut out = Pruned::default();
        for rec in self.records.list()? {
            if matches!(
                self.status(&rec),
                Status::Exited(_) | Status::Created | Status::MonitorLost { running: false }
            ) {
                let bytes = freeable_bytes(&self.snapshots.active_path(&rec.id)?)
                    + freeable_bytes(&self.dir(&rec.id));
                self.remove(&rec, false)?;
                out.removed.push(rec.id);
                out.bytes += bytes;
            }
        }
        Ok(out)
    }
}

/// CPU use between two samples, in percent of one CPU (Docker's `CPU %`).
pub fn cpu_percent(a: &Usage, b: &Usage) -> f64 {
    let wall =
        b.at.saturating_duration_since(a.at)
            .max(Duration::from_micros(1));
    #[allow(clippy::cast_precision_loss)]
    let used = b.cpu_ns.saturating_sub(a.cpu_ns) as f64;
    used / wall.as_nanos() as f64 * 100.0
}
