//! Docker's restart policies, applied by a detached container's monitor when the container
//! exits: `no`, `on-failure[:N]`, `always`, `unless-stopped`. A container stopped by the user
//! (`stop`, `kill`, `rm -f`) is not restarted: those leave a marker in its directory first.
//! Restarts wait 100 ms, doubling up to a minute, as Docker's do.

use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "name", content = "max")]
pub enum RestartPolicy {
    #[default]
    No,
    /// Restart after a non-zero exit, at most N times (unlimited without N).
    OnFailure(Option<u32>),
    Always,
    UnlessStopped,
}

impl RestartPolicy {
    /// `--restart` as Docker spells it.
    pub fn parse(s: &str) -> Result<RestartPolicy, String> {
        let (name, max) = s.split_once(':').map_or((s, None), |(n, m)| (n, Some(m)));
        let policy = match (name, max) {
            ("no", None) => RestartPolicy::No,
            ("always", None) => RestartPolicy::Always,
            ("unless-stopped", None) => RestartPolicy::UnlessStopped,
            ("on-failure", None) => RestartPolicy::OnFailure(None),
            ("on-failure", Some(m)) => RestartPolicy::OnFailure(Some(
                m.parse()
                    .map_err(|_| format!("--restart {s:?}: the maximum must be a number"))?,
            )),
            _ => {
                return Err(format!(
                    "--restart {s:?}: expected no, on-failure[:N], always or unless-stopped"
                ))
            }
        };
        Ok(policy)
    }

    /// Whether to start again after an exit with `code`, having restarted `done` times.
    pub fn restarts(self, code: Option<i32>, done: u32) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always | RestartPolicy::UnlessStopped => true,
            RestartPolicy::OnFailure(max) => code != Some(0) && max.is_none_or(|m| done < m),
        }
    }
}

/// How long before restart number `n` (0-based).
pub fn backoff(n: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << n.min(10))).min(Duration::from_secs(60))
}

/// The marker `stop`, `kill` and `rm -f` leave so that the monitor does not restart.
pub(crate) fn stopped_marker(dir: &Path) -> std::path::PathBuf {
    dir.join("stopped-by-user")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies() {
        assert_eq!(RestartPolicy::parse("no").unwrap(), RestartPolicy::No);
        assert_eq!(
            RestartPolicy::parse("on-failure:3").unwrap(),
            RestartPolicy::OnFailure(Some(3))
        );
        assert!(RestartPolicy::parse("sometimes").is_err());
        assert!(RestartPolicy::parse("on-failure:x").is_err());
        let p = RestartPolicy::OnFailure(Some(2));
        assert!(p.restarts(Some(1), 0) && p.restarts(Some(1), 1) && !p.restarts(Some(1), 2));
        assert!(!p.restarts(Some(0), 0));
        assert!(RestartPolicy::Always.restarts(Some(0), 100));
        assert_eq!(backoff(0), Duration::from_millis(100));
        assert_eq!(backoff(20), Duration::from_secs(60));
    }
}
