//! Pulls an image from a registry into a store and builds its root filesystem: what `arca run`
//! will do before starting a container, timed end to end by bench/pull.sh.
//! `cargo run --release -p arca-image --example pull_unpack -- REFERENCE STORE_DIR ROOTFS`.

use std::path::Path;
use std::time::Instant;

use arca_image::reference::Reference;
use arca_image::registry::{pull, PullOptions};
use arca_image::rootfs;
use arca_image::store::Store;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, reference, store_dir, dest] = args.as_slice() else {
        eprintln!("usage: pull_unpack REFERENCE STORE_DIR ROOTFS");
        std::process::exit(2);
    };
    let start = Instant::now();
    let result = (|| -> Result<(), Box<dyn std::error::Error>> {
        let reference = Reference::parse(reference)?;
        let store = Store::open(store_dir)?;
        let image = pull(&reference, &store, &PullOptions::default())?;
        let pulled = start.elapsed();
        let stats = rootfs::build(
            &store,
            &image,
            Path::new(dest),
            rustix::process::geteuid().is_root(),
        )?;
        println!(
            "pulled in {:.3}s, unpacked {} entries in {:.3}s",
            pulled.as_secs_f64(),
            stats.entries,
            (start.elapsed() - pulled).as_secs_f64()
        );
        Ok(())
    })();
    if let Err(e) = result {
        eprintln!("pull_unpack: {e}");
        std::process::exit(1);
    }
}
