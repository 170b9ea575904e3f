//! What a container's monitor knows while it runs, for `ps` and `inspect`: how often it was
//! restarted and how its healthchecks went. A small JSON file in the container's directory,
//! replaced whole, read by anyone; no file reads as the default (no restart, no healthcheck).

use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    #[default]
    Starting,
    Healthy,
    Unhealthy,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    pub restart_count: u32,
    /// `None`: the container has no healthcheck.
    pub health: Option<Health>,
    pub failing_streak: u32,
    /// The last checks' exit codes, newest last (Docker keeps five).
    pub last_checks: Vec<i32>,
}

const FILE: &str = "live.json";

impl Live {
    pub fn load(dir: &Path) -> Live {
        std::fs::read(dir.join(FILE))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    pub fn save(&self, dir: &Path) {
        let file = dir.join(FILE);
        // The first start of a container without a healthcheck: nothing to say, and one file
        // (an inode made and later freed) less per container.
        if *self == Live::default() && !file.exists() {
            return;
        }
        if let Ok(text) = serde_json::to_vec(self) {
            let _ = arca_sys::fs::Replace::new().write(&file, &text);
        }
    }

    /// One check's result.
    pub fn checked(&mut self, code: i32, retries: u32, counts: bool) {
        self.last_checks.push(code);
        if self.last_checks.len() > 5 {
            self.last_checks.remove(0);
        }
        if code == 0 {
            self.failing_streak = 0;
            self.health = Some(Health::Healthy);
        } else if counts {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.health = Some(Health::Unhealthy);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_not_written_until_there_is_a_file_to_correct() {
        let dir = tempfile::tempdir().unwrap();
        Live::default().save(dir.path());
        assert!(!dir.path().join(FILE).exists());
        assert_eq!(Live::load(dir.path()), Live::default());
        let restarted = Live {
            restart_count: 1,
            ..Live::default()
        };
        restarted.save(dir.path());
        assert_eq!(Live::load(dir.path()), restarted);
        // A later default (a container started afresh) replaces what is there.
        Live::default().save(dir.path());
        assert_eq!(Live::load(dir.path()), Live::default());
        assert!(dir.path().join(FILE).exists());
    }
}
