//! Handing the notify fd to the seccomp agent at `listenerPath`, with the runtime spec's
//! "seccomp state" as payload.

use super::*;

/// Connects to the seccomp agent's socket at `listener_path` (SOCK_STREAM). Separate from
/// [`send_over`] so a caller can connect while the host's paths are still reachable and send
/// later, from inside the container.
pub fn connect_listener(listener_path: &Path) -> Result<UnixStream, SeccompError> {
    UnixStream::connect(listener_path).map_err(|e| SeccompError::Listener {
        path: listener_path.to_owned(),
        op: "connecting",
        source: e,
    })
}

/// Sends the notification fd to the agent at `listener_path`: one message carrying the fd
/// (SCM_RIGHTS) and the runtime spec's seccomp state JSON (`ociVersion`, `fds:
/// ["seccompFd"]`, `pid`, `metadata`, `state`). `state` is the container's OCI state; its
/// `pid` is the `pid` of the message.
pub fn send_listener_fd(
    listener_path: &Path,
    fd: &OwnedFd,
    state: Value,
    metadata: Option<&str>,
) -> Result<(), SeccompError> {
    let stream = connect_listener(listener_path)?;
    send_over(&stream, listener_path, fd, state, metadata)
}

/// [`send_listener_fd`] over a stream already connected with [`connect_listener`];
/// `listener_path` only names it in errors.
pub fn send_over(
    stream: &UnixStream,
    listener_path: &Path,
    fd: &OwnedFd,
    state: Value,
    metadata: Option<&str>,
) -> Result<(), SeccompError> {
    let payload = seccomp_state(state, metadata);
    let err = |op, source| SeccompError::Listener {
        path: listener_path.to_owned(),
        op,
        source,
    };
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let sent = loop {
        match sendmsg::<()>(
            stream.as_raw_fd(),
            &[IoSlice::new(&payload)],
            &cmsg,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(n) => break n,
            Err(nix::Error::EINTR) => continue,
            Err(e) => return Err(err("sending the notify fd", e.into())),
        }
    };
    // A stream socket may take less than the whole payload; the fd went with the first part.
    let mut rest = payload.get(sent..).unwrap_or_default();
    let mut w = stream;
    while !rest.is_empty() {
        match w.write(rest) {
            Ok(0) => {
                return Err(err(
                    "sending the seccomp state",
                    std::io::ErrorKind::WriteZero.into(),
                ))
            }
            Ok(n) => rest = rest.get(n..).unwrap_or_default(),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(err("sending the seccomp state", e)),
        }
    }
    Ok(())
}

/// The "seccomp state" of the runtime spec, serialised.
pub(super) fn seccomp_state(state: Value, metadata: Option<&str>) -> Vec<u8> {
    let mut msg = json!({
        "ociVersion": crate::OCI_VERSION,
        "fds": ["seccompFd"],
        "pid": state.get("pid").cloned().unwrap_or(Value::Null),
        "state": state,
    });
    if let Some(m) = metadata {
        msg["metadata"] = Value::from(m);
    }
    serde_json::to_vec(&msg).unwrap_or_default()
}
