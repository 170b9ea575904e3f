//! What `pull` shows while blobs download and layers unpack: a bar per blob with bytes, speed and ETA when stderr
//! is a terminal (indicatif), else one line per blob when it starts and when it is done, so
//! logs stay readable. `-q` shows neither.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::{Arc, Mutex};

use arca_image::digest::Digest;
use arca_image::registry::Progress;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

/// What the bytes reported are.
#[derive(Clone, Copy)]
enum Stage {
    Download,
    Extract,
}

/// A progress callback for `PullOptions::progress`, or `None` when quiet.
pub fn reporter(quiet: bool) -> Option<Progress> {
    stage(quiet, Stage::Download)
}

/// A progress callback for layers unpacked from the store (compressed bytes read), or `None`.
pub fn extraction(quiet: bool) -> Option<Progress> {
    stage(quiet, Stage::Extract)
}

fn stage(quiet: bool, stage: Stage) -> Option<Progress> {
    let (verb, done_verb) = match stage {
        Stage::Download => ("copying blob", "done blob"),
        Stage::Extract => ("extracting layer", "extracted layer"),
    };
    if quiet {
        return None;
    }
    if std::io::stderr().is_terminal() {
        let multi = MultiProgress::new();
        let bars: Mutex<HashMap<String, ProgressBar>> = Mutex::new(HashMap::new());
        let style = ProgressStyle::with_template(
            "{prefix:.bold} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
        )
        .map(|s| s.progress_chars("=> "))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
        Some(Arc::new(move |digest: &Digest, done: u64, total: u64| {
            let mut bars = bars
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let bar = bars.entry(digest.to_string()).or_insert_with(|| {
                let b = multi.add(ProgressBar::new(total));
                b.set_style(style.clone());
                let id = crate::units::short_id(&digest.to_string());
                b.set_prefix(match stage {
                    Stage::Download => id,
                    Stage::Extract => format!("{id} extract"),
                });
                b
            });
            bar.set_position(done);
            if done >= total {
                bar.finish();
            }
        }))
    } else {
        let started: Mutex<HashMap<String, bool>> = Mutex::new(HashMap::new());
        Some(Arc::new(move |digest: &Digest, done: u64, total: u64| {
            let mut started = started
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let key = digest.to_string();
            let seen = started.contains_key(&key);
            if !seen {
                started.insert(key.clone(), false);
                line(
                    stage,
                    format_args!("{verb} {key} ({})", crate::units::size(total)),
                );
            }
            if done >= total && started.get(&key) == Some(&false) {
                started.insert(key.clone(), true);
                line(stage, format_args!("{done_verb} {key}"));
            }
        }))
    }
}

/// Download lines go to stdout, as `pull` always printed them; extraction lines to stderr
/// (as Podman prints its progress), so `load` keeps stdout to Docker's "Loaded image" lines.
fn line(stage: Stage, text: std::fmt::Arguments<'_>) {
    match stage {
        Stage::Download => println!("{text}"),
        Stage::Extract => eprintln!("{text}"),
    }
}
