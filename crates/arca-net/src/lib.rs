//! Container networking for arca, on the Container Network Interface: the field's standard
//! (Kubernetes, containerd, rkt and Podman before netavark), whose reference plugins Debian
//! packages, so any CNI plugin a user installs works with arca.
//!
//! One concept per module:
//! - [`cni`]: the runtime side of the CNI spec (config lists, running plugins, results).
//! - [`networks`]: arca's networks (config lists under `<root>/networks/`), the default one.
//! - [`attachment`]: a container on a network: ADD, the cached result, DEL.
//! - [`netns`]: persistent network namespaces, `lo` up.
//! - [`pasta`]: user-mode networking (no bridge, no privilege) through pasta.
//! - [`subnet`]: IPv4 subnets, picking one that collides with nothing.
//! - [`ports`]: `-p`/`-P` and the `portMappings` capability.
//! - [`hosts`]: `/etc/hosts` and `/etc/resolv.conf`.

pub mod attachment;
pub mod cni;
pub mod error;
pub mod hosts;
pub mod netns;
pub mod networks;
pub mod pasta;
pub mod ports;
pub mod subnet;

pub use error::NetError;
pub use networks::{Network, NetworkRequest, Networks, DEFAULT_NETWORK};
