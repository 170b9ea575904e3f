//! OOM-kill notifications for a cgroup: v1 through an eventfd registered on
//! `memory.oom_control`, v2 through inotify on `memory.events`.

/// Placeholder until the watcher lands.
#[derive(Debug)]
pub struct OomWatcher {}
