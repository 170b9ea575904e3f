//! Container networking on CNI, from the user's side, with Debian's containernetworking-plugins:
//! real containers from the busybox image, each test's arca in a network namespace the test
//! made (never the host's interfaces or firewall). Every test ends by checking that nothing of
//! arca's is left in that namespace: no veth, no IPAM lease, no firewall rule naming a
//! container, no namespace file.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::engine::{code, stdout, Engine, IMAGE};
use common::Netns;

fn netns(e: &Engine) -> &Netns {
    e.env.netns.as_ref().unwrap()
}

/// What arca's networking leaves in the test's namespace and root: veths, IPAM leases, rules
/// naming a container (the CNI plugins comment theirs with `id: "<container>"`), namespace
/// files of `ids`.
fn leftovers(e: &Engine, ids: &[String]) -> Vec<String> {
    let ns = netns(e);
    let mut left: Vec<String> = ns
        .run("ip", &["-o", "link", "show", "type", "veth"])
        .lines()
        .map(|l| format!("veth: {l}"))
        .collect();
    let ipam = e.root().join("networks/ipam");
    for net in std::fs::read_dir(&ipam).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(net.path()).unwrap().flatten() {
            let name = f.file_name().to_string_lossy().into_owned();
            if name.parse::<std::net::IpAddr>().is_ok() {
                left.push(format!("lease: {}", f.path().display()));
            }
        }
    }
    left.extend(
        ns.run("iptables-save", &[])
            .lines()
            .filter(|l| l.contains("id: \""))
            .map(|l| format!("rule: {l}")),
    );
    for id in ids {
        let f = Path::new("/run/arca/netns").join(id);
        if f.exists() {
            left.push(format!("netns: {}", f.display()));
        }
    }
    left
}

/// Removes every container, then asserts nothing is left.
fn remove_all_and_check(e: &Engine) {
    let ids: Vec<String> = e
        .ok(&["ps", "-aq", "--no-trunc"])
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    for id in &ids {
        e.ok(&["rm", "-f", id]);
    }
    let left = leftovers(e, &ids);
    assert!(left.is_empty(), "left behind: {left:#?}");
}

/// Polls `f` until it gives `Some`, for up to 10 s.
fn until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A busybox httpd serving `body` on port 80.
fn httpd(body: &str) -> String {
    format!("mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -p 80 -h /www")
}

/// `curl URL` from the test's namespace (the "host" side); its body once it answers.
fn curl(e: &Engine, url: &str) -> String {
    until(&format!("{url} to answer"), || {
        let o = netns(e)
            .command("curl")
            .args(["-sf", "-m", "2", url])
            .output()
            .unwrap();
        o.status
            .success()
            .then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    })
}

#[test]
fn a_published_port_reaches_httpd_and_rm_leaves_nothing() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        "18080:80",
        "-p",
        "127.0.0.1::80",
        IMAGE,
        "sh",
        "-c",
        &httpd("hello-from-arca"),
    ]);
    let insp = e.inspect("web");
    let ip = insp["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_owned();
    let gw = insp["NetworkSettings"]["Gateway"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(ip.starts_with("10."), "{insp:#}");
    assert_eq!(insp["HostConfig"]["NetworkMode"], "arca");
    // Through the fixed port, on the host's loopback and on the bridge's address.
    assert_eq!(curl(&e, "http://127.0.0.1:18080/"), "hello-from-arca");
    assert_eq!(curl(&e, &format!("http://{gw}:18080/")), "hello-from-arca");
    // Through the port drawn at start, as `port` reports it.
    let drawn = e.ok(&["port", "web", "80"]);
    let drawn: Vec<&str> = drawn.lines().collect();
    assert_eq!(drawn.len(), 2, "{drawn:?}");
    assert!(drawn.contains(&"0.0.0.0:18080"), "{drawn:?}");
    let local = drawn.iter().find(|d| d.starts_with("127.0.0.1:")).unwrap();
    assert_ne!(*local, "127.0.0.1:0");
    assert_eq!(curl(&e, &format!("http://{local}/")), "hello-from-arca");
    // The container's own view: its address on eth0 and the route out through the bridge.
    let inside = e.ok(&["exec", "web", "sh", "-c", "ip -4 addr show eth0; ip route"]);
    assert!(inside.contains(&format!("inet {ip}/")), "{inside}");
    assert!(inside.contains(&format!("default via {gw}")), "{inside}");
    remove_all_and_check(&e);
}

#[test]
fn containers_on_a_user_network_reach_each_other_by_name() {
    let e = Engine::new();
    e.ok(&["network", "create", "app"]);
    e.ok(&[
        "run",
        "-d",
        "--name",
        "db",
        "--network",
        "app",
        IMAGE,
        "sh",
        "-c",
        &httpd("from-db"),
    ]);
    let got = until("db to answer its peer", || {
        let o = e.arca(&[
            "run",
            "--rm",
            "--network",
            "app",
            IMAGE,
            "timeout",
            "3",
            "wget",
            "-qO-",
            "http://db/",
        ]);
        (code(&o) == 0).then(|| stdout(&o))
    });
    assert_eq!(got.trim(), "from-db");
    // db's /etc/hosts gains a newcomer while it runs, and loses it when it goes.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "client",
        "--network",
        "app",
        IMAGE,
        "sleep",
        "60",
    ]);
    let hosts = e.ok(&["exec", "db", "cat", "/etc/hosts"]);
    let client = e.inspect("client")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(hosts.contains(&format!("{client}\tclient ")), "{hosts}");
    e.ok(&["rm", "-f", "client"]);
    let hosts = e.ok(&["exec", "db", "cat", "/etc/hosts"]);
    assert!(!hosts.contains("client"), "{hosts}");
    // On the default network names do not resolve (Docker's default bridge neither).
    let o = e.arca(&["run", "--rm", IMAGE, "ping", "-c1", "-W1", "db"]);
    assert_ne!(code(&o), 0, "db resolved from the default network");
    let insp: serde_json::Value =
        serde_json::from_str(&e.ok(&["network", "inspect", "app"])).unwrap();
    let containers = insp[0]["Containers"].as_object().unwrap();
    assert_eq!(containers.len(), 1, "{insp:#}");
    assert!(e
        .env
        .fails(&["network", "rm", "app"])
        .contains("in use by container(s) db"));
    remove_all_and_check(&e);
    e.ok(&["network", "rm", "app"]);
    assert!(!e.ok(&["network", "ls", "-q"]).lines().any(|l| l == "app"));
}

#[test]
fn none_has_only_loopback_and_host_sees_the_namespace() {
    let e = Engine::new();
    let ns = netns(&e);
    ns.run(
        "ip",
        &[
            "link",
            "add",
            "arcatest0",
            "type",
            "veth",
            "peer",
            "name",
            "arcatest1",
        ],
    );
    let interfaces = |net: &str| -> Vec<String> {
        e.ok(&[
            "run",
            "--rm",
            "--network",
            net,
            IMAGE,
            "cat",
            "/proc/net/dev",
        ])
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_owned())
        .collect()
    };
    assert_eq!(interfaces("none"), ["lo"]);
    let lo = e.ok(&[
        "run",
        "--rm",
        "--network",
        "none",
        IMAGE,
        "ip",
        "link",
        "show",
        "lo",
    ]);
    assert!(lo.contains(",UP"), "lo is down with --network none: {lo}");
    let host = interfaces("host");
    assert!(host.contains(&"arcatest0".to_owned()), "{host:?}");
    ns.run("ip", &["link", "del", "arcatest0"]);
    remove_all_and_check(&e);
}

#[test]
fn connect_and_disconnect_a_running_container() {
    let e = Engine::new();
    e.ok(&["network", "create", "side"]);
    e.ok(&["run", "-d", "--name", "c", IMAGE, "sleep", "60"]);
    e.ok(&[
        "run",
        "-d",
        "--name",
        "peer",
        "--network",
        "side",
        IMAGE,
        "sleep",
        "60",
    ]);
    let links = || e.ok(&["exec", "c", "cat", "/proc/net/dev"]);
    assert!(!links().contains("eth1:"));
    e.ok(&["network", "connect", "side", "c"]);
    assert!(links().contains("eth1:"), "{}", links());
    let side = e.inspect("c")["NetworkSettings"]["Networks"]["side"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!side.is_empty());
    // Its peer on that network finds it by name at once, and reaches it.
    let ping = e.ok(&["exec", "peer", "ping", "-c1", "-W2", "c"]);
    assert!(ping.contains(&format!("({side})")), "{ping}");
    assert!(e
        .env
        .fails(&["network", "connect", "side", "c"])
        .contains("already connected"));
    e.ok(&["network", "disconnect", "side", "c"]);
    assert!(!links().contains("eth1:"), "{}", links());
    let o = e.arca(&["exec", "peer", "ping", "-c1", "-W1", "c"]);
    assert_ne!(code(&o), 0, "c still resolves on side after disconnect");
    remove_all_and_check(&e);
}

#[test]
fn twenty_containers_started_at_once_get_twenty_addresses() {
    let e = Engine::new();
    let ids = e.env.parallel(20, &["run", "-d", IMAGE, "sleep", "60"]);
    let addresses: HashSet<String> = ids
        .iter()
        .map(|id| {
            // What the container itself has on eth0.
            let shown = e.ok(&["exec", id, "ip", "-4", "-o", "addr", "show", "eth0"]);
            let addr = shown
                .split_whitespace()
                .skip_while(|w| *w != "inet")
                .nth(1)
                .unwrap_or_else(|| panic!("no address: {shown}"))
                .to_owned();
            assert_eq!(
                addr.split('/').next().unwrap(),
                e.inspect(id)["NetworkSettings"]["IPAddress"]
            );
            addr
        })
        .collect();
    assert_eq!(addresses.len(), 20, "{addresses:?}");
    remove_all_and_check(&e);
}

#[test]
fn dns_add_host_and_hostname_are_written_for_the_container() {
    let e = Engine::new();
    let out = e.ok(&[
        "run",
        "--rm",
        "--hostname",
        "box",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.test",
        "--dns-option",
        "ndots:2",
        "--add-host",
        "db.local:192.0.2.9",
        IMAGE,
        "sh",
        "-c",
        "cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; cat /etc/hostname; hostname",
    ]);
    let parts: Vec<&str> = out.split("---\n").collect();
    assert_eq!(
        parts[0],
        "search example.test\nnameserver 192.0.2.53\noptions ndots:2\n"
    );
    assert!(parts[1].contains("192.0.2.9\tdb.local\n"), "{}", parts[1]);
    assert!(
        parts[1].starts_with("127.0.0.1\tlocalhost\n"),
        "{}",
        parts[1]
    );
    let own = parts[1]
        .lines()
        .find(|l| l.ends_with("\tbox"))
        .unwrap_or_else(|| panic!("no line for the hostname: {}", parts[1]));
    assert!(own.starts_with("10."), "{own}");
    assert_eq!(parts[2], "box\nbox\n");
    // Without --dns: the host's resolvers, minus loopback ones (unreachable from the
    // container's namespace).
    let resolv = e.ok(&["run", "--rm", IMAGE, "cat", "/etc/resolv.conf"]);
    assert!(resolv.contains("nameserver "), "{resolv}");
    assert!(!resolv.contains("nameserver 127."), "{resolv}");
    remove_all_and_check(&e);
}

#[test]
fn a_container_can_share_another_containers_network() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "owner",
        IMAGE,
        "sh",
        "-c",
        &httpd("shared"),
    ]);
    let ip = e.inspect("owner")["NetworkSettings"]["IPAddress"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = e.ok(&[
        "run",
        "--rm",
        "--network",
        "container:owner",
        IMAGE,
        "sh",
        "-c",
        "ip -4 -o addr show eth0; wget -qO- http://127.0.0.1/",
    ]);
    assert!(out.contains(&format!("inet {ip}/")), "{out}");
    assert!(out.contains("shared"), "{out}");
    remove_all_and_check(&e);
}

#[test]
fn a_missing_plugin_is_named_and_nothing_is_left() {
    let e = Engine::new();
    let o = e.arca(&[
        "--cni-plugin-dir",
        "/nonexistent",
        "run",
        "--rm",
        IMAGE,
        "true",
    ]);
    assert_eq!(code(&o), 125);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("\"bridge\" not found in /nonexistent"),
        "{err}"
    );
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    // Detached too: the monitor, which sets the network up, uses the plugins named.
    let o = e.arca(&[
        "--cni-plugin-dir",
        "/nonexistent",
        "run",
        "-d",
        IMAGE,
        "sleep",
        "30",
    ]);
    assert_eq!(code(&o), 125);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("\"bridge\" not found in /nonexistent"),
        "{err}"
    );
    for id in e.ok(&["ps", "-aq"]).lines() {
        e.ok(&["rm", "-f", id]);
    }
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    // Bad flags are named, and no container is made.
    std::fs::write(e.env.path().join("outside.conflist"), "{}").unwrap();
    for (flags, says) in [
        (
            &["--network", "../outside"][..],
            "--network ../outside: no network named",
        ),
        (&["-p", "0:80"][..], "-p 0:80"),
        (&["-p", "80/icmp"][..], "-p 80/icmp"),
        (&["--add-host", "db"][..], "--add-host db"),
        (&["--dns", "resolver"][..], "--dns resolver"),
        (
            &["--network", "none", "-p", "80"][..],
            "publishing ports needs a network",
        ),
        (
            &["--network", "none", "--network", "app"][..],
            "cannot be combined",
        ),
    ] {
        // With an anonymous volume too: the flags are checked before it is made.
        let o = e.arca(&[&["run", "--rm", "-v", "/data"][..], flags, &[IMAGE, "true"]].concat());
        assert_eq!(code(&o), 125, "{flags:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{flags:?}: {err}");
    }
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    assert_eq!(e.ok(&["volume", "ls", "-q"]), "");
    // `network create`: bad names and reserved ones are refused, and no config is written.
    for (args, says) in [
        (&["../x"][..], "network name \"../x\""),
        (&["pasta"][..], "network name \"pasta\""),
        (&["default"][..], "network name \"default\""),
    ] {
        let o = e.arca(&[&["network", "create"][..], args].concat());
        assert_ne!(code(&o), 0, "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let made: Vec<_> = std::fs::read_dir(e.root().join("networks"))
        .unwrap()
        .flatten()
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".conflist") || f.ends_with(".tmp"))
        .collect();
    assert!(made.iter().all(|f| f == "arca.conflist"), "{made:?}");
    // A bad network config is named with its problem.
    std::fs::write(
        e.root().join("networks/broken.conflist"),
        "{\"name\": \"broken\"}",
    )
    .unwrap();
    let o = e.arca(&["run", "--rm", "--network", "broken", IMAGE, "true"]);
    assert_eq!(code(&o), 125);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("broken.conflist") && err.contains("\"cniVersion\" is missing"),
        "{err}"
    );
    // A plugin's own error reaches the user with its message, and the half-made attachment
    // is undone.
    std::fs::write(
        e.root().join("networks/badrange.conflist"),
        r#"{"cniVersion": "1.0.0", "name": "badrange", "plugins": [{"type": "bridge",
            "bridge": "arcabad0", "ipam": {"type": "host-local",
            "ranges": [[{"subnet": "10.300.0.0/24"}]]}}]}"#,
    )
    .unwrap();
    let o = e.arca(&["run", "--rm", "--network", "badrange", IMAGE, "true"]);
    assert_eq!(code(&o), 125);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("network \"badrange\": CNI plugin") && err.contains("10.300.0.0/24"),
        "{err}"
    );
    assert_eq!(e.ok(&["ps", "-aq"]), "");
    remove_all_and_check(&e);
}

#[test]
fn rm_tears_down_the_network_of_a_container_whose_monitor_died() {
    let e = Engine::new();
    e.ok(&[
        "run", "-d", "--name", "orphan", "-p", "18081:80", IMAGE, "sleep", "60",
    ]);
    let state = e.inspect("orphan")["State"].clone();
    for pid in [&state["MonitorPid"], &state["Pid"]] {
        std::process::Command::new("kill")
            .args(["-9", &pid.as_i64().unwrap().to_string()])
            .status()
            .unwrap();
    }
    e.eventually("ps to notice", || {
        e.ok(&["ps", "-a"]).contains("monitor lost")
    });
    remove_all_and_check(&e);
}

#[test]
fn pasta_gives_user_mode_networking_and_forwards_ports() {
    let e = Engine::new();
    let ns = netns(&e);
    // pasta copies the host's address and routes into the container: the test's namespace
    // gets an interface with an address and a default route to copy.
    ns.run(
        "ip",
        &[
            "link", "add", "ext0", "type", "veth", "peer", "name", "ext1",
        ],
    );
    ns.run("ip", &["addr", "add", "192.0.2.1/24", "dev", "ext0"]);
    ns.run("ip", &["link", "set", "ext0", "up"]);
    ns.run("ip", &["link", "set", "ext1", "up"]);
    ns.run("ip", &["route", "add", "default", "via", "192.0.2.254"]);
    let id = e
        .ok(&[
            "run",
            "-d",
            "--name",
            "p",
            "--network",
            "pasta",
            "-p",
            "18095:80",
            IMAGE,
            "sh",
            "-c",
            &httpd("via-pasta"),
        ])
        .trim()
        .to_owned();
    assert_eq!(curl(&e, "http://127.0.0.1:18095/"), "via-pasta");
    assert_eq!(curl(&e, "http://192.0.2.1:18095/"), "via-pasta");
    let inside = e.ok(&["exec", "p", "ip", "-4", "-o", "addr"]);
    assert!(inside.contains("inet 192.0.2.1/24"), "{inside}");
    assert_eq!(e.ok(&["port", "p"]), "80/tcp -> 0.0.0.0:18095\n");
    assert!(
        e.ok(&["ps"]).contains("0.0.0.0:18095->80/tcp"),
        "{}",
        e.ok(&["ps"])
    );
    assert_eq!(e.inspect("p")["HostConfig"]["NetworkMode"], "pasta");
    let pid = std::fs::read_to_string(e.root().join(format!("containers/{id}/net/pasta.pid")))
        .unwrap()
        .trim()
        .to_owned();
    e.ok(&["rm", "-f", "p"]);
    e.eventually("pasta to exit", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |s| s.split_whitespace().nth(2) == Some("Z"))
    });
    ns.run("ip", &["link", "del", "ext0"]);
    remove_all_and_check(&e);
}

#[test]
fn publish_all_maps_the_images_exposed_ports() {
    let e = Engine::new();
    e.image_with_changes("exposed:1", &["EXPOSE 80"]);
    e.ok(&[
        "run",
        "-d",
        "--name",
        "web",
        "-P",
        "exposed:1",
        "sh",
        "-c",
        &httpd("exposed"),
    ]);
    let port = e.ok(&["port", "web", "80/tcp"]);
    let port = port.trim();
    assert!(
        port.starts_with("0.0.0.0:") && !port.ends_with(":0"),
        "{port}"
    );
    let host_port = port.rsplit(':').next().unwrap();
    assert_eq!(
        curl(&e, &format!("http://127.0.0.1:{host_port}/")),
        "exposed"
    );
    let bindings = e.inspect("web")["NetworkSettings"]["Ports"]["80/tcp"].clone();
    assert_eq!(bindings[0]["HostPort"], host_port, "{bindings}");
    remove_all_and_check(&e);
}

#[test]
fn a_restarted_container_keeps_its_network_and_it_goes_when_it_ends() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "r",
        "--restart",
        "on-failure:2",
        IMAGE,
        "sh",
        "-c",
        "ip -4 -o addr show eth0; exit 3",
    ]);
    e.eventually("the third run to end", || {
        let s = e.inspect("r");
        s["State"]["Status"] == "exited" && s["RestartCount"] == 2
    });
    let logs = e.ok(&["logs", "r"]);
    let addrs: Vec<&str> = logs
        .lines()
        .filter_map(|l| l.split_whitespace().skip_while(|w| *w != "inet").nth(1))
        .collect();
    assert_eq!(addrs.len(), 3, "{logs}");
    assert!(addrs.iter().all(|a| *a == addrs[0]), "{logs}");
    // Exited for good: its network is already torn down, before any rm.
    let id = e.inspect("r")["Id"].as_str().unwrap().to_owned();
    let left = leftovers(&e, &[id]);
    assert!(left.is_empty(), "{left:#?}");
    remove_all_and_check(&e);
}

#[test]
fn a_restart_checks_the_network_and_mends_a_broken_one() {
    let e = Engine::new();
    e.ok(&[
        "run",
        "-d",
        "--name",
        "m",
        "--restart",
        "always",
        IMAGE,
        "sh",
        "-c",
        "ip -4 -o addr show eth0 || echo no-eth0; exec sleep 60",
    ]);
    let pid = e.inspect("m")["State"]["Pid"].as_i64().unwrap();
    // Break it from the host side: the bridge's end of the veth goes, and eth0 with it.
    let veths = netns(&e).run("ip", &["-o", "link", "show", "type", "veth"]);
    let host_end = veths
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches(':')
        .split('@')
        .next()
        .unwrap()
        .to_owned();
    netns(&e).run("ip", &["link", "del", &host_end]);
    std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    e.eventually("the restart", || e.inspect("m")["RestartCount"] == 1);
    // CHECK found eth0 gone, so the network was torn down and set up again for the new run.
    let logs = until("the second run's address", || {
        let l = e.ok(&["logs", "m"]);
        (l.lines().filter(|l| l.contains(" inet ")).count() == 2).then_some(l)
    });
    assert!(!logs.contains("no-eth0"), "{logs}");
    let inside = e.ok(&["exec", "m", "ip", "-4", "-o", "addr", "show", "eth0"]);
    assert!(inside.contains(" inet "), "{inside}");
    remove_all_and_check(&e);
}
