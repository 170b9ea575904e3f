//! Healthchecks, Docker's `--health-cmd` and friends or the image's `HEALTHCHECK`, run by the
//! container's monitor (so they need no daemon and no systemd timer, which is how Podman's
//! users go without them): every `interval` the command runs in the container as an `exec`,
//! `timeout` bounds it, and after `retries` failures in a row the container is unhealthy; one
//! success makes it healthy again. Failures during `start_period` do not count. The status is
//! in the container's live state ([`crate::live`]), shown by `ps` and `inspect`.
//!
//! [`HealthConfig::resolve`] merges the flags with the image's check as Docker does: the flags
//! given replace the image's fields one by one, `--no-healthcheck` disables any check.

mod image;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use image::{Healthcheck, ImageHealth};

/// Docker's defaults for what neither the flags nor the image set.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_RETRIES: u32 = 3;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthConfig {
    /// The command, as the runtime runs it (`--health-cmd` is run by `/bin/sh -c`).
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub retries: u32,
    pub start_period: Duration,
}

/// `run`'s `--health-*` flags and `--no-healthcheck`, as given.
#[derive(Debug, Clone, Copy, Default)]
pub struct HealthFlags<'a> {
    pub cmd: Option<&'a str>,
    pub interval: Option<&'a str>,
    pub timeout: Option<&'a str>,
    pub retries: Option<u32>,
    pub start_period: Option<&'a str>,
    pub disabled: bool,
}

impl HealthConfig {
    /// The container's check from the flags and the image's (`None`: no check). Errors name
    /// the flag or image field at fault.
    pub fn resolve(
        flags: &HealthFlags<'_>,
        image: &ImageHealth,
    ) -> Result<Option<HealthConfig>, String> {
        if flags.disabled {
            let any = flags.cmd.is_some()
                || flags.interval.is_some()
                || flags.timeout.is_some()
                || flags.retries.is_some()
                || flags.start_period.is_some();
            if any {
                return Err("--no-healthcheck conflicts with --health-* options".to_owned());
            }
            return Ok(None);
        }
        let mut hc = image.healthcheck.clone().unwrap_or_default();
        if let Some(cmd) = flags.cmd {
            hc.test = vec!["CMD-SHELL".to_owned(), cmd.to_owned()];
        }
        // A flag of 0 inherits the image's value, as Docker's merge does.
        let nanos = |flag: &str, v: Option<&str>, image: u64| -> Result<u64, String> {
            let Some(v) = v else { return Ok(image) };
            let d = arca_image::duration::parse(v).ok_or_else(|| {
                format!("--{flag} {v:?}: expected a duration like 30s, 1m30s, 500ms")
            })?;
            Ok(match u64::try_from(d.as_nanos()).unwrap_or(u64::MAX) {
                0 => image,
                n => n,
            })
        };
        hc.interval = nanos("health-interval", flags.interval, hc.interval)?;
        hc.timeout = nanos("health-timeout", flags.timeout, hc.timeout)?;
        hc.start_period = nanos("health-start-period", flags.start_period, hc.start_period)?;
        hc.retries = flags.retries.filter(|r| *r > 0).unwrap_or(hc.retries);
        let test = match hc.test.split_first() {
            None => return Ok(None),
            Some((kind, _)) if kind == "NONE" => return Ok(None),
            Some((kind, args)) if kind == "CMD" && !args.is_empty() => args.to_vec(),
            Some((kind, [cmd])) if kind == "CMD-SHELL" => {
                let shell = image
                    .shell
                    .clone()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| vec!["/bin/sh".to_owned(), "-c".to_owned()]);
                shell.into_iter().chain([cmd.clone()]).collect()
            }
            Some(_) => {
                return Err(format!(
                    "the image's Healthcheck Test {:?}: expected [\"CMD\", args…], \
                     [\"CMD-SHELL\", command] or [\"NONE\"]",
                    hc.test
                ))
            }
        };
        let or = |nanos: u64, default: Duration| match nanos {
            0 => default,
            n => Duration::from_nanos(n),
        };
        Ok(Some(HealthConfig {
            test,
            interval: or(hc.interval, DEFAULT_INTERVAL),
            timeout: or(hc.timeout, DEFAULT_TIMEOUT),
            retries: match hc.retries {
                0 => DEFAULT_RETRIES,
                n => n,
            },
            start_period: or(hc.start_period, Duration::ZERO),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image(config: serde_json::Value) -> ImageHealth {
        ImageHealth::from_config(&json!({ "config": config })).unwrap()
    }

    #[test]
    fn flags_alone() {
        let flags = HealthFlags {
            cmd: Some("true"),
            interval: Some("1s"),
            retries: Some(2),
            ..HealthFlags::default()
        };
        let h = HealthConfig::resolve(&flags, &ImageHealth::default())
            .unwrap()
            .unwrap();
        assert_eq!(h.test, ["/bin/sh", "-c", "true"]);
        assert_eq!(
            (h.interval, h.timeout, h.retries, h.start_period),
            (Duration::from_secs(1), DEFAULT_TIMEOUT, 2, Duration::ZERO)
        );
        let bad = HealthFlags {
            cmd: Some("true"),
            interval: Some("soon"),
            ..HealthFlags::default()
        };
        let err = HealthConfig::resolve(&bad, &ImageHealth::default()).unwrap_err();
        assert!(err.contains("--health-interval \"soon\""), "{err}");
        assert_eq!(
            HealthConfig::resolve(&HealthFlags::default(), &ImageHealth::default()),
            Ok(None)
        );
    }

    #[test]
    fn the_image_check_and_flags_over_it() {
        let img = image(json!({
            "Healthcheck": {"Test": ["CMD-SHELL", "test -f /ready"], "Interval": 200_000_000u64,
                            "Retries": 2, "StartPeriod": 0},
            "Shell": ["/bin/ash", "-c"],
        }));
        let h = HealthConfig::resolve(&HealthFlags::default(), &img)
            .unwrap()
            .unwrap();
        assert_eq!(h.test, ["/bin/ash", "-c", "test -f /ready"]);
        assert_eq!(
            (h.interval, h.timeout, h.retries),
            (Duration::from_millis(200), DEFAULT_TIMEOUT, 2)
        );
        // One flag replaces one field; the image's test stays.
        let flags = HealthFlags {
            interval: Some("5s"),
            retries: Some(0),
            ..HealthFlags::default()
        };
        let h = HealthConfig::resolve(&flags, &img).unwrap().unwrap();
        assert_eq!((h.interval, h.retries), (Duration::from_secs(5), 2));
        assert_eq!(h.test[2], "test -f /ready");
        // Exec form, and NONE.
        let exec = image(json!({"Healthcheck": {"Test": ["CMD", "/bin/check", "-q"]}}));
        let h = HealthConfig::resolve(&HealthFlags::default(), &exec)
            .unwrap()
            .unwrap();
        assert_eq!(h.test, ["/bin/check", "-q"]);
        assert_eq!(h.interval, DEFAULT_INTERVAL);
        let none = image(json!({"Healthcheck": {"Test": ["NONE"]}}));
        assert_eq!(
            HealthConfig::resolve(&HealthFlags::default(), &none),
            Ok(None)
        );
        let odd = image(json!({"Healthcheck": {"Test": ["RUN", "x"]}}));
        assert!(HealthConfig::resolve(&HealthFlags::default(), &odd)
            .unwrap_err()
            .contains("\"RUN\""));
        assert!(
            ImageHealth::from_config(&json!({"config": {"Healthcheck": {"Retries": -1}}}))
                .unwrap_err()
                .contains("Healthcheck")
        );
    }

    #[test]
    fn no_healthcheck_disables_and_conflicts() {
        let img = image(json!({"Healthcheck": {"Test": ["CMD", "true"]}}));
        let off = HealthFlags {
            disabled: true,
            ..HealthFlags::default()
        };
        assert_eq!(HealthConfig::resolve(&off, &img), Ok(None));
        let both = HealthFlags {
            disabled: true,
            cmd: Some("true"),
            ..HealthFlags::default()
        };
        assert!(HealthConfig::resolve(&both, &img)
            .unwrap_err()
            .contains("--no-healthcheck"));
    }
}
