//! Whether this process runs in a user namespace (a rootless engine's), which changes how
//! overlayfs keeps its metadata: `trusted.*` xattrs need CAP_SYS_ADMIN in the host's
//! namespace, so there overlay is mounted with `userxattr` and reads opaque directories from
//! `user.overlay.opaque`, which the unpack then writes instead of `trusted.overlay.opaque`.
//! Decided once per process: a store is used by one user, always from the same kind of
//! namespace.

use std::sync::OnceLock;

/// Not the initial user namespace (whose uid map is the full identity).
pub fn in_user_namespace() -> bool {
    static IN: OnceLock<bool> = OnceLock::new();
    *IN.get_or_init(|| {
        std::fs::read_to_string("/proc/self/uid_map")
            .is_ok_and(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
    })
}

/// The xattr overlayfs reads to know a directory hides the layers below.
pub fn opaque_xattr() -> &'static str {
    if in_user_namespace() {
        "user.overlay.opaque"
    } else {
        "trusted.overlay.opaque"
    }
}
