//! `include/mote.h` must be what cbindgen generates from the current sources.
//! `MOTE_BLESS=1 cargo test -p mote-ffi --test header_in_sync` rewrites it.

use std::path::PathBuf;

#[test]
fn header_matches_sources() {
    let crate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config =
        cbindgen::Config::from_file(crate_dir.join("cbindgen.toml")).expect("cbindgen.toml parses");
    let mut generated = Vec::new();
    cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header")
        .write(&mut generated);
    let header = crate_dir.join("../include/mote.h");
    if std::env::var_os("MOTE_BLESS").is_some() {
        std::fs::write(&header, &generated).expect("write include/mote.h");
        return;
    }
    let checked_in = std::fs::read(&header).unwrap_or_default();
    assert!(
        checked_in == generated,
        "include/mote.h is out of date: run `MOTE_BLESS=1 cargo test -p mote-ffi --test header_in_sync` and commit it"
    );
}
