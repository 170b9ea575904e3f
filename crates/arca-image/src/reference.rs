//! Docker-style image references (`busybox`, `user/app:1`, `127.0.0.1:5000/a/b:tag`,
//! `ghcr.io/o/r@sha256:<hex>`), normalised the way Docker's `ParseNormalizedNamed` does, so
//! that a name typed for `docker pull` or `podman pull` names the same image here.
//!
//! The rules, in order:
//! - the first `/`-separated component is a registry if it contains `.` or `:`, is
//!   `localhost`, or has an uppercase letter (a hostname, since repositories are lowercase);
//!   otherwise the registry is `docker.io`;
//! - `index.docker.io` is an old name of `docker.io`;
//! - on `docker.io`, a one-component repository lives under `library/`;
//! - repository components are lowercase `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`;
//! - a tag is `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; with neither tag nor digest, `latest`;
//! - with both a tag and a digest, the digest decides what is pulled (the tag is kept only
//!   for display), as Docker and Podman do.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;

/// Docker Hub's name in references, and the host its API actually answers on.
pub const DOCKER_HUB: &str = "docker.io";
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";
const DEFAULT_TAG: &str = "latest";
/// Docker's limit on the length of a full name (registry + repository).
const MAX_NAME_LEN: usize = 255;
const MAX_TAG_LEN: usize = 128;

/// A parsed, normalised reference. Fields are private so every value went through
/// [`Reference::parse`]'s checks.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a reference was refused; each names the reference as the user typed it.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("invalid reference {input:?}: {reason}")]
    Invalid { input: String, reason: String },
    #[error("invalid reference {input:?}: repository name must be lowercase")]
    Uppercase { input: String },
    #[error(
        "invalid reference {input:?}: a 64-character hex string is an image ID, not a \
         repository name"
    )]
    ImageId { input: String },
    #[error("invalid reference {input:?}: {source}")]
    Digest {
        input: String,
        source: crate::digest::DigestError,
    },
}

impl Reference {
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        let invalid = |reason: &str| ReferenceError::Invalid {
            input: input.to_owned(),
            reason: reason.to_owned(),
        };
        if input.is_empty() {
            return Err(invalid("empty"));
        }
        if input.len() == 64 && input.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ReferenceError::ImageId {
                input: input.to_owned(),
            });
        }
        if input.contains("://") {
            return Err(invalid(
                "a reference has no scheme (write registry/repository[:tag], not a URL)",
            ));
        }

        // The digest goes first: its ':' must not be taken for a tag's.
        let (rest, digest) = match input.split_once('@') {
            Some((rest, d)) => {
                let digest = Digest::parse(d).map_err(|source| ReferenceError::Digest {
                    input: input.to_owned(),
                    source,
                })?;
                (rest, Some(digest))
            }
            None => (input, None),
        };
        // A tag follows the last ':' only if no '/' comes after it (else it was a port).
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            check_tag(tag).map_err(|r| invalid(&r))?;
        }
        if name.is_empty() {
            return Err(invalid("empty repository name"));
        }

        let (registry, repository) = split_registry(name);
        if let Some(registry) = registry {
            check_registry(registry).map_err(|r| invalid(&r))?;
        }
        if repository.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase {
                input: input.to_owned(),
            });
        }
        check_repository(repository).map_err(|r| invalid(&r))?;
        if name.len() > MAX_NAME_LEN {
            return Err(invalid(&format!(
                "the name is longer than {MAX_NAME_LEN} characters"
            )));
        }

        let registry = match registry {
            None | Some("index.docker.io") => DOCKER_HUB,
            Some(r) => r,
        };
        let repository = if registry == DOCKER_HUB && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository.to_owned()
        };
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_owned()),
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (None, Some(_)) => None,
        };
        Ok(Reference {
            registry: registry.to_owned(),
            repository,
            tag,
            digest,
        })
    }

    /// The registry as named in references (`docker.io`, `127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The host (and port) the distribution API is reached on: Docker Hub's API is not on
    /// `docker.io` itself.
    pub fn api_host(&self) -> &str {
        if self.registry == DOCKER_HUB {
            DOCKER_HUB_API
        } else {
            &self.registry
        }
    }

    /// `library/busybox`, `o/r`: the path under `/v2/`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The registry host without its port, for the plain-HTTP decision.
    pub fn host(&self) -> &str {
        host_of(&self.registry)
    }

    /// The short form Docker prints: `busybox:latest`, `user/app:1`.
    pub fn familiar(&self) -> String {
        let name = if self.registry == DOCKER_HUB {
            self.repository
                .strip_prefix("library/")
                .filter(|r| !r.contains('/'))
                .unwrap_or(&self.repository)
                .to_owned()
        } else {
            format!("{}/{}", self.registry, self.repository)
        };
        with_suffix(name, self.tag.as_deref(), self.digest.as_ref())
    }
}

/// The canonical, fully qualified form: `docker.io/library/busybox:latest`,
/// `ghcr.io/o/r@sha256:…`, `name:tag@sha256:…` when both were given.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = format!("{}/{}", self.registry, self.repository);
        f.write_str(&with_suffix(
            name,
            self.tag.as_deref(),
            self.digest.as_ref(),
        ))
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

fn with_suffix(mut name: String, tag: Option<&str>, digest: Option<&Digest>) -> String {
    if let Some(t) = tag {
        name.push(':');
        name.push_str(t);
    }
    if let Some(d) = digest {
        name.push('@');
        name.push_str(&d.to_string());
    }
    name
}

/// Docker's `splitDockerDomain`: the first component is a registry only if it looks like a
/// host (a `.` or `:`, `localhost`, or uppercase, which repositories never have).
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.chars().any(|c| c.is_ascii_uppercase()) =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        // [v6]:port
        return rest.split_once(']').map_or(registry, |(h, _)| h);
    }
    registry.split_once(':').map_or(registry, |(h, _)| h)
}

fn check_tag(tag: &str) -> Result<(), String> {
    let ok_first = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let ok = |c: char| ok_first(c) || c == '.' || c == '-';
    let mut chars = tag.chars();
    match chars.next() {
        None => return Err("empty tag".to_owned()),
        Some(c) if !ok_first(c) => {
            return Err(format!(
                "tag {tag:?} must start with a letter, digit or '_'"
            ))
        }
        _ => {}
    }
    if let Some(c) = chars.find(|&c| !ok(c)) {
        return Err(format!("tag {tag:?} contains {c:?}"));
    }
    if tag.len() > MAX_TAG_LEN {
        return Err(format!(
            "tag {tag:?} is longer than {MAX_TAG_LEN} characters"
        ));
    }
    Ok(())
}

/// `host[:port]`: host is dot-separated `[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?` labels or a
/// bracketed IPv6 address; the port is digits.
fn check_registry(registry: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("registry {registry:?}: {why}"));
    let (host, port) = if let Some(rest) = registry.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return bad("unterminated '['");
        };
        if v6.is_empty() || !v6.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
            return bad("invalid IPv6 address");
        }
        match after {
            "" => (None, None),
            p => match p.strip_prefix(':') {
                Some(p) => (None, Some(p)),
                None => return bad("unexpected characters after ']'"),
            },
        }
    } else {
        match registry.split_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(registry), None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return bad("the port must be digits");
        }
    }
    if let Some(host) = host {
        for label in host.split('.') {
            let inner_ok = label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if label.is_empty() || !inner_ok || label.starts_with('-') || label.ends_with('-') {
                return bad(&format!("{label:?} is not a valid host name component"));
            }
        }
    }
    Ok(())
}

/// Components are `[a-z0-9]+` joined by one separator: `.`, `_`, `__` or any run of `-`.
fn check_repository(repository: &str) -> Result<(), String> {
    for component in repository.split('/') {
        if component.is_empty() {
            return Err(format!(
                "repository {repository:?} has an empty path component"
            ));
        }
        let bytes = component.as_bytes();
        let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let mut i = 0;
        let mut expect_alnum = true;
        while i < bytes.len() {
            let b = bytes[i];
            if alnum(b) {
                expect_alnum = false;
                i += 1;
                continue;
            }
            if expect_alnum {
                return Err(format!(
                    "repository component {component:?} must start and end with [a-z0-9] and \
                     have a single separator between alphanumerics"
                ));
            }
            // One separator: '.', '_', '__' or a run of '-'.
            let sep_len = match b {
                b'.' => 1,
                b'_' => {
                    if bytes.get(i + 1) == Some(&b'_') {
                        2
                    } else {
                        1
                    }
                }
                b'-' => bytes[i..].iter().take_while(|&&c| c == b'-').count(),
                other => {
                    return Err(format!(
                        "repository component {component:?} contains {:?}",
                        char::from(other)
                    ))
                }
            };
            i += sep_len;
            expect_alnum = true;
        }
        if expect_alnum {
            return Err(format!(
                "repository component {component:?} must start and end with [a-z0-9]"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
