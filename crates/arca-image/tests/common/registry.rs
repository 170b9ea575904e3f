//! A real registry for the pull tests: Debian's `docker-registry` (the CNCF distribution
//! registry) on 127.0.0.1, a free port and a private storage directory, killed on drop (also
//! when the test panics). Images get into it with `skopeo copy`, as any user would push them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Registry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
}

/// The tools are required, never skipped: scripts/test.sh installs them.
fn tool(name: &str, package: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(found, "{name} is needed (apt-get install {package})");
    Command::new(name)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Any HTTP answer to `GET /v2/` (401 included, with auth on) means the registry is serving.
fn answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 ")
}

impl Registry {
    /// `htpasswd`: `(user, password)` to require basic auth (bcrypt file from `htpasswd -Bbn`).
    pub fn start(htpasswd: Option<(&str, &str)>) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let auth = match htpasswd {
            Some((user, password)) => {
                let out = tool("htpasswd", "apache2-utils")
                    .args(["-Bbn", user, password])
                    .output()
                    .unwrap();
                assert!(out.status.success(), "htpasswd failed");
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, &out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: arca-test\n    path: {}\n",
                    file.display()
                )
            }
            None => String::new(),
        };
        for _attempt in 0..5 {
            let port = free_port();
            let config = dir.path().join("config.yml");
            std::fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    \
                     rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
                    dir.path().join("storage").display()
                ),
            )
            .unwrap();
            let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
            let child = tool("docker-registry", "docker-registry")
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut child = child;
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if answers(port) {
                    return Registry { child, port, dir };
                }
                if child.try_wait().unwrap().is_some() {
                    break; // lost the port race: try another
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let log = std::fs::read_to_string(dir.path().join("registry.log")).unwrap_or_default();
        panic!("docker-registry did not start: {log}");
    }

    /// `127.0.0.1:PORT`
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Copies `oci:LAYOUT:TAG` to `docker://HOST/REPO_TAG` with skopeo.
    pub fn push(&self, layout: &Path, tag: &str, repo_tag: &str, creds: Option<&str>) {
        self.push_args(layout, tag, repo_tag, creds, &[]);
    }

    pub fn push_args(
        &self,
        layout: &Path,
        tag: &str,
        repo_tag: &str,
        creds: Option<&str>,
        extra: &[&str],
    ) {
        let mut cmd = tool("skopeo", "skopeo");
        cmd.args(["--insecure-policy", "copy", "--dest-tls-verify=false"])
            .args(extra);
        if let Some(c) = creds {
            cmd.arg(format!("--dest-creds={c}"));
        }
        let out = cmd
            .arg(format!("oci:{}:{tag}", layout.display()))
            .arg(format!("docker://{}/{repo_tag}", self.host()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "skopeo copy: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Where the registry keeps a blob's bytes.
    pub fn blob_data(&self, hex: &str) -> PathBuf {
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// How many times the blob was fetched (`GET .../blobs/sha256:HEX`), from the access log.
    pub fn blob_gets(&self, hex: &str) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap();
        let needle = format!("/blobs/sha256:{hex} HTTP");
        log.lines()
            .filter(|l| l.contains("\"GET ") && l.contains(&needle))
            .count()
    }

    /// How many blob uploads were committed (`PUT .../blobs/uploads/...?digest=`), from the
    /// access log: one per blob a client actually sent.
    pub fn blob_uploads(&self) -> usize {
        self.access_lines("\"PUT ", &["/blobs/uploads/", "digest="])
    }

    /// How many cross-repository mounts were asked for (`POST .../blobs/uploads/?mount=`).
    pub fn blob_mounts(&self) -> usize {
        self.access_lines("\"POST ", &["/blobs/uploads/", "mount="])
    }

    fn access_lines(&self, method: &str, needles: &[&str]) -> usize {
        let log = std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap();
        log.lines()
            .filter(|l| l.contains(method) && needles.iter().all(|n| l.contains(n)))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
