//! Pulls an image from a registry into a store and builds its root filesystem, download and
//! unpack overlapped (`registry::pull_unpack`): what `arca run` will do before starting a
//! container, timed end to end by bench/pull.sh. With `--two-step`, the older path (pull, then
//! `rootfs::build`) for comparison.
//! `cargo run --release -p arca-image --example pull_unpack -- [--two-step] REFERENCE STORE_DIR ROOTFS`.

use std::path::Path;
use std::time::Instant;

use arca_image::reference::Reference;
use arca_image::registry::{pull, pull_unpack, PullOptions};
use arca_image::rootfs;
use arca_image::store::Store;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let two_step = args.first().is_some_and(|a| a == "--two-step");
    if two_step {
        args.remove(0);
    }
    let [reference, store_dir, dest] = args.as_slice() else {
        eprintln!("usage: pull_unpack [--two-step] REFERENCE STORE_DIR ROOTFS");
        std::process::exit(2);
    };
    let start = Instant::now();
    let result = (|| -> Result<(), Box<dyn std::error::Error>> {
        let reference = Reference::parse(reference)?;
        let store = Store::open(store_dir)?;
        let root = rustix::process::geteuid().is_root();
        let opts = PullOptions::default();
        if two_step {
            let image = pull(&reference, &store, &opts)?;
            let pulled = start.elapsed();
            let stats = rootfs::build(&store, &image, Path::new(dest), root)?;
            println!(
                "pulled in {:.3}s, unpacked {} entries in {:.3}s",
                pulled.as_secs_f64(),
                stats.entries,
                (start.elapsed() - pulled).as_secs_f64()
            );
        } else {
            let (image, stats) = pull_unpack(&reference, &store, Path::new(dest), &opts, root)?;
            println!(
                "pulled and unpacked {} layers ({} entries) in {:.3}s",
                image.layers.len(),
                stats.entries,
                start.elapsed().as_secs_f64()
            );
        }
        Ok(())
    })();
    if let Err(e) = result {
        eprintln!("pull_unpack: {e}");
        std::process::exit(1);
    }
}
