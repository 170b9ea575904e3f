use std::fmt;

use oci_spec::image::{Descriptor, Platform};

/// The platform to choose from an index: os, architecture and (optionally) variant, as Go's
/// GOOS/GOARCH name them, because that is what image indexes use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformSpec {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

impl PlatformSpec {
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> PlatformSpec {
        PlatformSpec {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        }
    }

    /// This host, named as Go would. The variant is left unset for amd64 (where it only states
    /// a microarchitecture level images rarely declare) and set to v8 for arm64, the only
    /// variant arm64 images use.
    pub fn host() -> PlatformSpec {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "x86" => "386",
            "aarch64" => "arm64",
            "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
            "loongarch64" => "loong64",
            other => other,
        };
        let variant = (arch == "arm64").then_some("v8");
        PlatformSpec::new(std::env::consts::OS, arch, variant)
    }

    /// Parses `os/arch[/variant]`, the form of `--platform`.
    pub fn parse(s: &str) -> Option<PlatformSpec> {
        let mut parts = s.split('/');
        let os = parts.next().filter(|p| !p.is_empty())?;
        let arch = parts.next().filter(|p| !p.is_empty())?;
        let variant = parts.next();
        if parts.next().is_some() {
            return None;
        }
        Some(PlatformSpec::new(os, arch, variant))
    }

    /// containerd's matching, simplified: os and architecture must be equal; the variant only
    /// matters when both sides state one (arm64's missing variant counts as v8), and never
    /// for amd64.
    pub fn matches(&self, p: &Platform) -> bool {
        if p.os().to_string() != self.os || p.architecture().to_string() != self.architecture {
            return false;
        }
        if self.architecture == "amd64" {
            return true;
        }
        let norm = |v: Option<&str>| match (self.architecture.as_str(), v) {
            ("arm64", None) => Some("v8".to_owned()),
            (_, v) => v.map(str::to_owned),
        };
        match (norm(self.variant.as_deref()), norm(p.variant().as_deref())) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
    }
}

impl fmt::Display for PlatformSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

/// The first of `entries` (an index's manifests, with their positions for error messages)
/// whose platform `platform` matches. Shared by layouts and registries so that `--platform`
/// chooses the same manifest from the same index wherever the index came from. On no match,
/// the error is the list of platforms that were available, as shown to the user.
pub(crate) fn choose<'a>(
    entries: &[(usize, &'a Descriptor)],
    platform: &PlatformSpec,
) -> Result<(usize, &'a Descriptor), String> {
    entries
        .iter()
        .copied()
        .find(|(_, d)| d.platform().as_ref().is_some_and(|p| platform.matches(p)))
        .ok_or_else(|| {
            let available: Vec<String> = entries
                .iter()
                .filter_map(|(_, d)| d.platform().as_ref().map(describe))
                .collect();
            if available.is_empty() {
                "(none)".to_owned()
            } else {
                available.join(", ")
            }
        })
}

/// How a descriptor's platform is shown in the list of what was available.
pub(super) fn describe(p: &Platform) -> String {
    let mut s = format!("{}/{}", p.os(), p.architecture());
    if let Some(v) = p.variant() {
        s.push('/');
        s.push_str(v);
    }
    s
}
