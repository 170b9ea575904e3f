//! Unpacks one layer, to time `arca_image::unpack` against `tar -xzf`:
//! `cargo run --release -p arca-image --example unpack -- LAYER.tar[.gz] DEST`.

use std::io::{BufReader, Read};
use std::time::Instant;

use arca_image::unpack::{unpack, UnpackOptions, Whiteouts};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, layer, dest] = args.as_slice() else {
        eprintln!("usage: unpack LAYER.tar[.gz] DEST");
        std::process::exit(2);
    };
    let file = BufReader::with_capacity(1 << 20, std::fs::File::open(layer).expect("open layer"));
    let reader: Box<dyn Read> = if layer.ends_with(".gz") || layer.ends_with(".tgz") {
        Box::new(flate2::read::GzDecoder::new(file))
    } else {
        Box::new(file)
    };
    std::fs::create_dir_all(dest).expect("create dest");
    let start = Instant::now();
    let opts = UnpackOptions {
        whiteouts: Whiteouts::Apply,
        preserve_owner: rustix::process::geteuid().is_root(),
        objects: None,
        lowers: Vec::new(),
    };
    match unpack(reader, std::path::Path::new(dest), &opts) {
        Ok(stats) => println!(
            "{} entries, {} bytes in {:.3}s",
            stats.entries,
            stats.bytes,
            start.elapsed().as_secs_f64()
        ),
        Err(e) => {
            eprintln!("unpack: {e}");
            std::process::exit(1);
        }
    }
}
