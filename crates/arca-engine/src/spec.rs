//! The OCI runtime spec of a container (being written).
