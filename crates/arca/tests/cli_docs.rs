//! Shell completions and man pages come from the clap definitions: every verb and flag is in
//! them, and hidden ones (the monitor) are not.

mod common;

use common::Env;

#[test]
fn completions_know_the_verbs_and_flags() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish"] {
        let script = env.ok(&["completion", shell]);
        for word in ["run", "logs", "detach", "health-cmd", "pull"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    assert!(!env.arca(&["completion", "tcsh"]).status.success());
}

#[test]
fn man_pages_for_each_verb() {
    let env = Env::new();
    let dir = env.path().join("man");
    env.ok(&["man", dir.to_str().unwrap()]);
    let run = std::fs::read_to_string(dir.join("arca-run.1")).unwrap();
    assert!(run.contains(".TH arca-run 1"), "{run}");
    assert!(run.contains("detach") && run.contains("restart"));
    assert!(dir.join("arca.1").is_file() && dir.join("arca-ps.1").is_file());
    assert!(!dir.join("arca-__monitor.1").exists());
}
