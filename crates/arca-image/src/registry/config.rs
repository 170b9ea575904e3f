//! Which registry a pull really talks to: containers-registries.conf(5), the TOML file Podman,
//! Buildah and skopeo share (`/etc/containers/registries.conf`), so a host set up for them is
//! set up for arca too. The subset read is what changes where bytes come from:
//!
//! ```toml
//! [[registry]]
//! prefix = "docker.io"          # optional, defaults to `location`
//! location = "docker.io"
//! insecure = false              # plain HTTP allowed
//! blocked = false               # refuse to pull from it at all
//! [[registry.mirror]]
//! location = "mirror.example:5000/hub"
//! insecure = true
//! ```
//!
//! As containers/image does, the system file is followed by the drop-ins in
//! `/etc/containers/registries.conf.d/*.conf` (in name order); a drop-in's table replaces an
//! earlier one with the same prefix. A file named by `$ARCA_REGISTRIES_CONF` or
//! `--registries-conf` is read alone.
//!
//! Everything else (`unqualified-search-registries`, short-name aliases, the v1 format's
//! tables) is ignored: arca names unqualified images on docker.io, as Docker does. Wildcard
//! prefixes (`*.example.com`) are not supported and never match.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::reference::Reference;

/// Podman's system-wide file, read when it exists and `$ARCA_REGISTRIES_CONF` is unset.
pub const SYSTEM_REGISTRIES_CONF: &str = "/etc/containers/registries.conf";
/// Drop-ins read after [`SYSTEM_REGISTRIES_CONF`].
pub const SYSTEM_REGISTRIES_CONF_D: &str = "/etc/containers/registries.conf.d";
/// Names the registries.conf to use instead of [`SYSTEM_REGISTRIES_CONF`].
pub const REGISTRIES_CONF_ENV: &str = "ARCA_REGISTRIES_CONF";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{}: [[registry]] {location:?}: {reason}", path.display())]
    Invalid {
        path: PathBuf,
        location: String,
        reason: String,
    },
}

/// The `[[registry]]` tables of a registries.conf (and its drop-ins).
#[derive(Clone, Debug, Default)]
pub struct RegistriesConf {
    pub registries: Vec<RegistryConf>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub struct RegistryConf {
    /// The names this table applies to (`host[:port][/path]`); default: `location`.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Where images named by `prefix` are really pulled from.
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub blocked: bool,
    /// Tried in order before `location`; the first that serves the image is used.
    #[serde(default, rename = "mirror")]
    pub mirrors: Vec<MirrorConf>,
    /// The file this table came from, for errors that say where a `blocked` was set.
    #[serde(skip)]
    pub file: Option<PathBuf>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct MirrorConf {
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    registry: Vec<RegistryConf>,
}

/// One place a pull may fetch the image from, in the order to try them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Source {
    /// The user's reference, rewritten to this location (same tag and digest).
    pub reference: Reference,
    /// Plain HTTP allowed (`insecure = true`).
    pub insecure: bool,
    pub mirror: bool,
}

/// What the configuration says about one reference.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Plan {
    /// Mirrors first, the primary location last.
    Sources(Vec<Source>),
    /// `blocked = true` for this prefix, in this file.
    Blocked {
        prefix: String,
        file: Option<PathBuf>,
    },
}

impl RegistryConf {
    /// The names this table applies to.
    fn prefix(&self) -> &str {
        self.prefix.as_deref().unwrap_or(&self.location)
    }
}

impl RegistriesConf {
    /// `$ARCA_REGISTRIES_CONF` if set, else [`SYSTEM_REGISTRIES_CONF`] (if it exists) and its
    /// drop-ins, else none (every registry as named, HTTPS only).
    pub fn load_default() -> Result<RegistriesConf, ConfigError> {
        if let Some(path) = std::env::var_os(REGISTRIES_CONF_ENV).filter(|p| !p.is_empty()) {
            return RegistriesConf::load(Path::new(&path));
        }
        let system = Path::new(SYSTEM_REGISTRIES_CONF);
        let mut conf = if system.exists() {
            RegistriesConf::load(system)?
        } else {
            RegistriesConf::default()
        };
        conf.add_drop_ins(Path::new(SYSTEM_REGISTRIES_CONF_D))?;
        Ok(conf)
    }

    /// Adds `dir/*.conf` in name order, each table replacing one with the same prefix. A
    /// missing directory has none.
    pub fn add_drop_ins(&mut self, dir: &Path) -> Result<(), ConfigError> {
        let read_err = |source| ConfigError::Read {
            path: dir.to_owned(),
            source,
        };
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(entries) => entries
                .map(|e| e.map(|e| e.path()).map_err(read_err))
                .collect::<Result<_, _>>()?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(read_err(e)),
        };
        files.retain(|p| p.extension().is_some_and(|x| x == "conf"));
        files.sort();
        for file in files {
            for table in RegistriesConf::load(&file)?.registries {
                let prefix = table.prefix();
                match self.registries.iter_mut().find(|t| t.prefix() == prefix) {
                    Some(t) => *t = table,
                    None => self.registries.push(table),
                }
            }
        }
        Ok(())
    }

    pub fn load(path: &Path) -> Result<RegistriesConf, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        RegistriesConf::parse(&text, path)
    }

    /// Parses registries.conf text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<RegistriesConf, ConfigError> {
        let file: File = toml::from_str(text).map_err(|source| ConfigError::Parse {
            path: path.to_owned(),
            source: Box::new(source),
        })?;
        let invalid = |location: &str, reason: String| ConfigError::Invalid {
            path: path.to_owned(),
            location: location.to_owned(),
            reason,
        };
        for r in &file.registry {
            if r.location.is_empty() && r.prefix.is_none() {
                return Err(invalid("", "neither location nor prefix is set".into()));
            }
            for l in std::iter::once(&r.location)
                .filter(|l| !l.is_empty())
                .chain(r.mirrors.iter().map(|m| &m.location))
            {
                // A location is a reference without tag: `host[:port][/path]`.
                if l.contains(['@', ' ']) || l.ends_with('/') || Reference::parse(l).is_err() {
                    return Err(invalid(l, "not a host[:port][/path] location".into()));
                }
            }
        }
        let registries = file
            .registry
            .into_iter()
            .map(|r| RegistryConf {
                file: Some(path.to_owned()),
                ..r
            })
            .collect();
        Ok(RegistriesConf { registries })
    }

    /// The table whose prefix matches `name` (`registry/repository`) longest, as
    /// containers/image chooses.
    fn find(&self, name: &str) -> Option<(&RegistryConf, &str)> {
        self.registries
            .iter()
            .filter_map(|r| {
                let prefix = r.prefix();
                let matches = !prefix.is_empty()
                    && (name == prefix
                        || name
                            .strip_prefix(prefix)
                            .is_some_and(|rest| rest.starts_with('/')));
                matches.then_some((r, prefix))
            })
            .max_by_key(|(_, prefix)| prefix.len())
    }

    /// Where to pull `reference` from, in order: its mirrors, then its location (the
    /// reference itself when no table matches).
    pub(super) fn plan(&self, reference: &Reference) -> Plan {
        let name = format!("{}/{}", reference.registry(), reference.repository());
        let Some((conf, prefix)) = self.find(&name) else {
            return Plan::Sources(vec![Source {
                reference: reference.clone(),
                insecure: false,
                mirror: false,
            }]);
        };
        if conf.blocked {
            return Plan::Blocked {
                prefix: prefix.to_owned(),
                file: conf.file.clone(),
            };
        }
        let rest = &name[prefix.len()..];
        let rewrite = |location: &str| -> Option<Reference> {
            let mut s = format!("{location}{rest}");
            if let Some(tag) = reference.tag() {
                s = format!("{s}:{tag}");
            }
            if let Some(digest) = reference.digest() {
                s = format!("{s}@{digest}");
            }
            match Reference::parse(&s) {
                Ok(r) => Some(r),
                Err(e) => {
                    tracing::warn!("registries.conf: skipping {location}: {e}");
                    None
                }
            }
        };
        let mut sources: Vec<Source> = conf
            .mirrors
            .iter()
            .filter_map(|m| {
                Some(Source {
                    reference: rewrite(&m.location)?,
                    insecure: m.insecure,
                    mirror: true,
                })
            })
            .collect();
        let location = if conf.location.is_empty() {
            prefix
        } else {
            &conf.location
        };
        sources.push(Source {
            reference: rewrite(location).unwrap_or_else(|| reference.clone()),
            insecure: conf.insecure,
            mirror: false,
        });
        Plan::Sources(sources)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(text: &str) -> RegistriesConf {
        RegistriesConf::parse(text, Path::new("registries.conf")).unwrap()
    }

    fn r(s: &str) -> Reference {
        Reference::parse(s).unwrap()
    }

    fn sources(plan: Plan) -> Vec<(String, bool, bool)> {
        match plan {
            Plan::Sources(s) => s
                .into_iter()
                .map(|s| (s.reference.to_string(), s.insecure, s.mirror))
                .collect(),
            Plan::Blocked { prefix, .. } => panic!("blocked by {prefix}"),
        }
    }

    #[test]
    fn no_table_means_the_reference_itself() {
        let c = conf("unqualified-search-registries = [\"docker.io\"]\n");
        assert_eq!(
            sources(c.plan(&r("busybox"))),
            [("docker.io/library/busybox:latest".into(), false, false)]
        );
    }

    #[test]
    fn mirrors_first_then_location_with_the_rest_of_the_name() {
        let c = conf(
            r#"
            [[registry]]
            location = "docker.io"
            [[registry.mirror]]
            location = "mirror.lan:5000/hub"
            insecure = true
            [[registry.mirror]]
            location = "mirror.gcr.io"

            [[registry]]
            prefix = "example.com/team"
            location = "internal.lan/team-copy"
            insecure = true
            "#,
        );
        assert_eq!(
            sources(c.plan(&r("busybox:1"))),
            [
                ("mirror.lan:5000/hub/library/busybox:1".into(), true, true),
                ("mirror.gcr.io/library/busybox:1".into(), false, true),
                ("docker.io/library/busybox:1".into(), false, false),
            ]
        );
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            sources(c.plan(&r(&format!("example.com/team/app@{d}")))),
            [(format!("internal.lan/team-copy/app@{d}"), true, false)]
        );
        // Prefixes match whole components only.
        assert_eq!(
            sources(c.plan(&r("example.com/teamwork/app"))),
            [("example.com/teamwork/app:latest".into(), false, false)]
        );
    }

    #[test]
    fn longest_prefix_wins_and_blocked_refuses() {
        let c = conf(
            r#"
            [[registry]]
            location = "quay.io"
            [[registry]]
            prefix = "quay.io/bad"
            location = "quay.io/bad"
            blocked = true
            "#,
        );
        assert_eq!(
            c.plan(&r("quay.io/bad/app")),
            Plan::Blocked {
                prefix: "quay.io/bad".into(),
                file: Some("registries.conf".into()),
            }
        );
        assert_eq!(sources(c.plan(&r("quay.io/good/app"))).len(), 1);
    }

    #[test]
    fn drop_ins_replace_tables_by_prefix_in_name_order() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("registries.conf.d");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(
            d.join("20-block.conf"),
            "[[registry]]\nlocation = \"quay.io\"\nblocked = true\n",
        )
        .unwrap();
        std::fs::write(
            d.join("10-mirror.conf"),
            "[[registry]]\nlocation = \"quay.io\"\n[[registry.mirror]]\nlocation = \"m.lan\"\n",
        )
        .unwrap();
        std::fs::write(d.join("ignored.txt"), "not toml [").unwrap();
        let mut c = conf("[[registry]]\nlocation = \"docker.io\"\n");
        c.add_drop_ins(&d).unwrap();
        assert_eq!(c.registries.len(), 2);
        assert_eq!(
            c.plan(&r("quay.io/a/b")),
            Plan::Blocked {
                prefix: "quay.io".into(),
                file: Some(d.join("20-block.conf")),
            }
        );
        c.add_drop_ins(&dir.path().join("missing")).unwrap();
    }

    #[test]
    fn bad_files_are_refused_with_their_path() {
        let e = RegistriesConf::parse("[[registry]\n", Path::new("/x/r.conf")).unwrap_err();
        assert!(e.to_string().starts_with("/x/r.conf: "), "{e}");
        let e = RegistriesConf::parse("[[registry]]\nlocation = \"a b\"\n", Path::new("r.conf"))
            .unwrap_err();
        assert!(matches!(e, ConfigError::Invalid { .. }), "{e}");
    }
}
