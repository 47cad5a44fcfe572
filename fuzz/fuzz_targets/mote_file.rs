//! `.mote` files. Random bytes would only ever exercise the checksums, so an input that does
//! not start with the magic is taken as the *metadata section* of a file whose header, section
//! table and checksums are made valid around it (with a fixed 4 KiB blob section): the postcard
//! decoder, the constant range checks and the graph checks get the fuzzer's attention. Loading
//! (and, when it loads, planning and running with zero inputs) must return errors, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const BLOBS: usize = 4096;

fn align64(n: usize) -> usize {
    n.div_ceil(64) * 64
}

/// A version-1 file around `meta` (layout: runtime/src/format/header.rs).
fn file_around(meta: &[u8]) -> Vec<u8> {
    let meta_off = 128;
    let blob_off = align64(meta_off + meta.len());
    let mut f = vec![0u8; blob_off + BLOBS];
    f[meta_off..meta_off + meta.len()].copy_from_slice(meta);
    for (i, b) in f[blob_off..].iter_mut().enumerate() {
        *b = (i * 31 % 251) as u8;
    }
    f[..8].copy_from_slice(&mote::format::MAGIC);
    f[8..12].copy_from_slice(&mote::format::FORMAT_VERSION.to_le_bytes());
    f[16..20].copy_from_slice(&2u32.to_le_bytes());
    for (i, (kind, off, len)) in [(1u32, meta_off, meta.len()), (2, blob_off, BLOBS)]
        .into_iter()
        .enumerate()
    {
        let e = 32 + 32 * i;
        let crc = crc32fast::hash(&f[off..off + len]);
        f[e..e + 4].copy_from_slice(&kind.to_le_bytes());
        f[e + 8..e + 16].copy_from_slice(&(off as u64).to_le_bytes());
        f[e + 16..e + 24].copy_from_slice(&(len as u64).to_le_bytes());
        f[e + 24..e + 28].copy_from_slice(&crc.to_le_bytes());
    }
    let crc = crc32fast::hash(&f[..96]);
    f[20..24].copy_from_slice(&crc.to_le_bytes());
    f
}

fuzz_target!(|data: &[u8]| {
    let file = if mote::format::is_mote(data) {
        data.to_vec()
    } else {
        file_around(data)
    };
    let Ok(model) = mote::Model::from_mote_bytes(&file) else {
        return;
    };
    let Ok(mut session) = model.session(mote::SessionOptions::default()) else {
        return;
    };
    let mut inputs = Vec::new();
    for info in model.inputs() {
        let (Some(dtype), Some(shape)) = (info.dtype, info.concrete_shape()) else {
            return;
        };
        if shape.iter().product::<usize>() > 1 << 16 {
            return;
        }
        let Ok(t) = mote::Tensor::zeros(dtype, &shape) else {
            return;
        };
        inputs.push(t);
    }
    let refs: Vec<&mote::Tensor> = inputs.iter().collect();
    let _ = session.run_ordered(&refs);
});
