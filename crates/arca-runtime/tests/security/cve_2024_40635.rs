//! CVE-2024-40635: uids and gids above 2^31-1 (which wrap to negative, and
//! 4294967295 = (uid_t)-1 means "unchanged" to setresuid) must be refused
//! with an error naming the uid/gid, and must never leave the process
//! running as root.

use std::fs;

use serde_json::{json, Value};

use crate::common::*;
use crate::support::*;

const BIG: [u64; 2] = [4_294_967_295, 2_147_483_648];

/// Lines: uid, gid, groups.
const WHO: &str = "id -u; id -g; id -G";

fn check(out: &Out, what: &str, field: usize) {
    if out.success() {
        let line = out.stdout.lines().nth(field).unwrap_or("");
        assert!(
            line.split_whitespace().all(|id| id != "0") && !line.is_empty(),
            "CVE-2024-40635: {what} ran the process with id 0: {out}"
        );
    }
    // runc 1.1.5 does not refuse all of them; arca must.
    if !is_runc() {
        let err = out.assert_failure();
        assert!(
            contains_any(err, &["uid", "gid"]),
            "{what}: the error does not name the uid/gid: {out}"
        );
    }
}

#[test]
fn config_ids_above_int32_are_refused() {
    for big in BIG {
        let cases: [(&str, Value, usize); 3] = [
            ("uid", json!({"uid": big, "gid": 0}), 0),
            ("gid", json!({"uid": 1000, "gid": big}), 1),
            (
                "additionalGids",
                json!({"uid": 1000, "gid": 1000, "additionalGids": [big]}),
                2,
            ),
        ];
        for (name, user, field) in cases {
            let bundle = Bundle::busybox(&["sh", "-c", WHO]);
            bundle.edit(|c| c["process"]["user"] = user.clone());
            let out = run_once(&bundle);
            check(&out, &format!("process.user.{name} = {big}"), field);
        }
    }
}

#[test]
fn exec_ids_above_int32_are_refused() {
    let bundle = Bundle::busybox(&["sleep", "1000"]);
    let rt = Runtime::new();
    let id = unique_id("bigid-exec");
    rt.run_detached(&bundle, &id);
    let dir = tempfile::Builder::new()
        .prefix("arca-process-")
        .tempdir()
        .unwrap();
    for big in BIG {
        let big_s = big.to_string();
        let user_gid = format!("1000:{big}");
        let cases: [(String, Vec<&str>, usize); 3] = [
            (format!("exec -u {big}"), vec!["-u", &big_s], 0),
            (format!("exec -u 1000:{big}"), vec!["-u", &user_gid], 1),
            (
                format!("exec -u 1000:1000 -g {big}"),
                vec!["-u", "1000:1000", "-g", &big_s],
                2,
            ),
        ];
        for (what, flags, field) in cases {
            let mut args = vec!["exec"];
            args.extend(flags);
            args.extend([id.as_str(), "sh", "-c", WHO]);
            let out = rt.output(&args);
            check(&out, &what, field);
        }
        // exec --process with the uid in the JSON.
        let process = json!({
            "terminal": false,
            "user": {"uid": big, "gid": 0},
            "args": ["sh", "-c", WHO],
            "env": [PATH_ENV],
            "cwd": "/"
        });
        let path = dir.path().join(format!("process-{big}.json"));
        fs::write(&path, process.to_string()).unwrap();
        let out = rt.output(&["exec", "--process", path.to_str().unwrap(), &id]);
        check(&out, &format!("exec --process (uid {big})"), 0);
    }
}
