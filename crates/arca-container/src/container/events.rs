//! `events`: a container's resource usage and OOM kills as a stream of JSON lines, in the shape
//! runc prints (`{"type":"stats","id":…,"data":{…}}`, `{"type":"oom","id":…}`), which is what
//! containerd's runc shim parses for metrics and OOM events.
//!
//! One thread and one `poll(2)`: the OOM notification fd (eventfd on v1, inotify on v2) is
//! watched with the time left to the next stats tick as the timeout, so an OOM kill is
//! reported as it happens and stats come at the interval asked for.

use std::time::{Duration, Instant};

use arca_cgroups::{Cgroup, Stats};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::state::{self, ContainerState, Status};
use crate::store::Store;

/// How often a stream without OOM notifications checks whether the container is still alive.
const LIVENESS_CHECK: Duration = Duration::from_millis(500);

/// One line of `events` output.
#[derive(Debug, Serialize)]
pub struct Event<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Stats>,
}

/// The container's resource usage now (`events --stats`).
pub fn stats(store: &Store, id: &str) -> Result<Stats> {
    let (_, cgroup) = running_cgroup(store, id)?;
    Ok(cgroup.stats()?)
}

/// Calls `emit` with a stats event every `interval` and an OOM event for each OOM kill, until
/// the container stops (then returns `Ok`) or `emit` fails.
pub fn watch(
    store: &Store,
    id: &str,
    interval: Duration,
    mut emit: impl FnMut(&Event<'_>) -> std::io::Result<()>,
) -> Result<()> {
    let (st, cgroup) = running_cgroup(store, id)?;
    let io = |e: std::io::Error| Error::Usage(format!("events: writing output: {e}"));
    let mut oom = match cgroup.oom_watcher() {
        Ok(w) => Some(w),
        Err(e) => {
            tracing::warn!("events: no OOM notifications for {id}: {e}");
            None
        }
    };
    let mut next_stats = Instant::now();
    loop {
        let now = Instant::now();
        if now >= next_stats {
            if !state::process_alive(st.pid, st.start_time) {
                return Ok(());
            }
            match cgroup.stats() {
                Ok(s) => emit(&Event {
                    kind: "stats",
                    id,
                    data: Some(s),
                })
                .map_err(io)?,
                // The container may have exited between the check and the read.
                Err(e) if !state::process_alive(st.pid, st.start_time) => {
                    tracing::debug!("events: {id} stopped: {e}");
                    return Ok(());
                }
                Err(e) => return Err(e.into()),
            }
            next_stats = now + interval;
        }
        let wait = next_stats
            .saturating_duration_since(Instant::now())
            .min(LIVENESS_CHECK);
        let timeout = PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX);
        let ready = match &oom {
            Some(w) => {
                let mut fds = [PollFd::new(w.fd(), PollFlags::POLLIN)];
                match poll(&mut fds, timeout) {
                    Ok(n) => n > 0,
                    Err(nix::errno::Errno::EINTR) => false,
                    Err(e) => return Err(Error::Usage(format!("events: poll: {e}"))),
                }
            }
            None => {
                std::thread::sleep(wait);
                false
            }
        };
        if let (true, Some(w)) = (ready, oom.as_mut()) {
            for _ in 0..w.read_events()? {
                emit(&Event {
                    kind: "oom",
                    id,
                    data: None,
                })
                .map_err(io)?;
            }
        }
        if !state::process_alive(st.pid, st.start_time) {
            // A last look: the OOM kill that ended the container is reported before leaving.
            if let Some(w) = oom.as_mut() {
                for _ in 0..w.read_events().unwrap_or(0) {
                    emit(&Event {
                        kind: "oom",
                        id,
                        data: None,
                    })
                    .map_err(io)?;
                }
            }
            return Ok(());
        }
    }
}

/// The state and cgroup of a container that is created, running or paused (runc refuses
/// events for a stopped one).
fn running_cgroup(store: &Store, id: &str) -> Result<(ContainerState, Cgroup)> {
    let st = store.load(id)?;
    let status = st.status(&store.dir(id));
    if matches!(status, Status::Stopped | Status::Creating) {
        return Err(Error::BadState {
            id: id.to_owned(),
            action: "events",
            status: status.to_string(),
        });
    }
    if st.no_cgroup {
        return Err(Error::Usage(format!(
            "events: container {id:?} has no cgroup (rootless without cgroup delegation)"
        )));
    }
    let cgroup = Cgroup::open(&st.cgroup_path)?;
    Ok((st, cgroup))
}
