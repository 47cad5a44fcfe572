//! A corrupt, truncated or foreign `.mote` file is a clear error, never a panic: truncation at
//! every length, every single-byte change (caught by the checksums), a future format version,
//! and random mutations of the metadata with the checksums recomputed, so the decoder and the
//! graph checks behind them are exercised too.

mod common;

use mote::{ErrorKind, Model, SessionOptions, Tensor};
use proptest::prelude::*;
use std::sync::OnceLock;

/// The demo model as `.mote` bytes (converted once per test process).
fn demo_mote() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let path = common::repo_root().join("assets/models/digits_mlp.onnx");
        Model::load(path).unwrap().to_mote_bytes().unwrap()
    })
}

fn demo_input() -> &'static Tensor {
    static X: OnceLock<Tensor> = OnceLock::new();
    X.get_or_init(|| {
        let x =
            mote::npy::read(common::repo_root().join("assets/models/digits_test_x.npy")).unwrap();
        let row = x.shape()[1];
        Tensor::from_bytes(x.dtype(), &[2, row], &x.bytes()[..2 * row * 4]).unwrap()
    })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> usize {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap()) as usize
}

/// (offset, length) of each section, from the table of a well-formed file.
fn sections(file: &[u8]) -> Vec<(usize, usize)> {
    (0..u32_at(file, 16) as usize)
        .map(|i| {
            (
                u64_at(file, 32 + 32 * i + 8),
                u64_at(file, 32 + 32 * i + 16),
            )
        })
        .collect()
}

/// Rewrites every checksum of `file` (laid out as `layout`, the original's sections) so that
/// only the content checks can reject it.
fn fix_checksums(file: &mut [u8], layout: &[(usize, usize)]) {
    for (i, &(offset, len)) in layout.iter().enumerate() {
        let end = (offset + len).min(file.len());
        let crc = crc32fast::hash(&file[offset.min(end)..end]);
        file[32 + 32 * i + 24..32 + 32 * i + 28].copy_from_slice(&crc.to_le_bytes());
    }
    let table_end = 32 + 32 * layout.len();
    file[20..24].fill(0);
    let crc = crc32fast::hash(&file[..table_end]);
    file[20..24].copy_from_slice(&crc.to_le_bytes());
}

/// Loading must return; when it succeeds, running must return too (an error is fine).
fn load_and_maybe_run(bytes: &[u8]) -> Result<(), mote::Error> {
    let model = Model::from_mote_bytes(bytes)?;
    let mut session = model.session(SessionOptions::default())?;
    let name = model
        .inputs()
        .first()
        .map(|i| i.name.clone())
        .unwrap_or_default();
    session.run(&[(name.as_str(), demo_input())])?;
    Ok(())
}

/// Silero VAD as `.mote` with its case inputs: a graph with `If` bodies, LSTM and more op
/// kinds than the demo. `None` (skipped) when the real-model data is missing.
fn silero() -> Option<&'static (Vec<u8>, Vec<(String, Tensor)>)> {
    type Case = (Vec<u8>, Vec<(String, Tensor)>);
    static CASE: OnceLock<Option<Case>> = OnceLock::new();
    CASE.get_or_init(|| {
        let root = common::generated_data(".cache/real-models", "scripts/fetch_real_models.py")?;
        let dir = root.join("silero_vad");
        let case = common::real_case::read_case(&dir);
        let inputs = case
            .inputs
            .iter()
            .map(|(n, f)| (n.clone(), mote::npy::read(dir.join(f)).unwrap()))
            .collect();
        let model = Model::load(dir.join("model.onnx")).unwrap();
        Some((model.to_mote_bytes().unwrap(), inputs))
    })
    .as_ref()
}

fn load_and_maybe_run_with(bytes: &[u8], inputs: &[(String, Tensor)]) -> Result<(), mote::Error> {
    let model = Model::from_mote_bytes(bytes)?;
    let refs: Vec<(&str, &Tensor)> = inputs.iter().map(|(n, t)| (n.as_str(), t)).collect();
    model.session(SessionOptions::default())?.run(&refs)?;
    Ok(())
}

#[test]
fn intact_file_loads_and_runs() {
    load_and_maybe_run(demo_mote()).unwrap();
}

#[test]
fn every_truncation_is_a_corrupt_file_error() {
    let file = demo_mote();
    for len in 0..file.len() {
        match Model::from_mote_bytes(&file[..len]) {
            Err(e) => assert_eq!(*e.kind(), ErrorKind::CorruptFile, "len {len}: {e}"),
            Ok(_) => panic!("a file truncated to {len} of {} bytes loaded", file.len()),
        }
    }
}

#[test]
fn every_single_byte_change_is_an_error() {
    let file = demo_mote();
    let layout = sections(file);
    assert_eq!(layout.len(), 2, "metadata and blobs");
    let mut bad = file.to_vec();
    for at in 0..file.len() {
        // Padding between sections is not covered by a checksum and not read.
        let in_padding =
            at >= 32 + 32 * layout.len() && !layout.iter().any(|&(o, l)| (o..o + l).contains(&at));
        bad[at] ^= 0x5a;
        let result = Model::from_mote_bytes(&bad);
        bad[at] ^= 0x5a;
        match result {
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::CorruptFile | ErrorKind::InvalidModel),
                "byte {at}: {e}"
            ),
            Ok(_) => assert!(in_padding, "byte {at} changed and the file still loaded"),
        }
    }
}

#[test]
fn future_format_version_is_a_clear_error() {
    let mut file = demo_mote().to_vec();
    file[8..12].copy_from_slice(&(mote::format::FORMAT_VERSION + 1).to_le_bytes());
    fix_checksums(&mut file, &sections(demo_mote()));
    let e = Model::from_mote_bytes(&file).unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::InvalidModel, "{e}");
    assert!(e.to_string().contains("format version"), "{e}");
}

#[test]
fn onnx_bytes_are_still_sniffed_as_onnx() {
    let onnx = std::fs::read(common::repo_root().join("assets/models/digits_mlp.onnx")).unwrap();
    assert!(!mote::format::is_mote(&onnx));
    Model::from_bytes(&onnx).unwrap();
    let e = Model::from_mote_bytes(&onnx).unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::CorruptFile, "{e}");
}

/// A blob range that points outside the blob section (checksums valid): an error.
#[test]
fn blob_section_shorter_than_its_constants_is_an_error() {
    let file = demo_mote();
    let layout = sections(file);
    let (blob_off, blob_len) = layout[1];
    assert_eq!(blob_off + blob_len, file.len(), "blobs are last");
    let mut short = file[..file.len() - 64].to_vec();
    let mut new_layout = layout.clone();
    new_layout[1].1 -= 64;
    short[32 + 32 + 16..32 + 32 + 24].copy_from_slice(&(new_layout[1].1 as u64).to_le_bytes());
    fix_checksums(&mut short, &new_layout);
    let e = Model::from_mote_bytes(&short).unwrap_err();
    assert_eq!(*e.kind(), ErrorKind::CorruptFile, "{e}");
    assert!(e.to_string().contains("blob section"), "{e}");
}

/// Every metadata byte set to a few telling values (varint edges, small tags), checksums
/// fixed: errors or working models, never a panic; prints how many still loaded.
#[test]
fn every_metadata_byte_rewritten_never_panics() {
    let file = demo_mote();
    let (meta_off, meta_len) = sections(file)[0];
    let (mut loaded, mut rejected) = (0, 0);
    for at in 0..meta_len {
        let orig = file[meta_off + at];
        for v in [0u8, 1, 2, 0x7f, 0x80, 0xff, orig ^ 1] {
            if v == orig {
                continue;
            }
            let mut meta = file[meta_off..meta_off + meta_len].to_vec();
            meta[at] = v;
            match load_and_maybe_run(&with_metadata(file, &meta)) {
                Ok(()) => loaded += 1,
                Err(_) => rejected += 1,
            }
        }
    }
    println!("{meta_len} metadata bytes: {loaded} rewrites ran, {rejected} were rejected");
    assert!(rejected > 0);
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
}

fn apply(meta: &mut Vec<u8>, m: &Mutation) {
    let n = meta.len().max(1);
    match *m {
        Mutation::Set(at, v) => {
            if let Some(b) = meta.get_mut(at % n) {
                *b = v;
            }
        }
        Mutation::Insert(at, v) => meta.insert(at % (meta.len() + 1), v),
        Mutation::Remove(at) => {
            if !meta.is_empty() {
                meta.remove(at % n);
            }
        }
    }
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<usize>(), any::<u8>()).prop_map(|(a, v)| Mutation::Set(a, v)),
        // Small values hit varint lengths, enum tags and value ids hardest.
        3 => (any::<usize>(), 0u8..8).prop_map(|(a, v)| Mutation::Set(a, v)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(a, v)| Mutation::Insert(a, v)),
        1 => any::<usize>().prop_map(Mutation::Remove),
    ]
}

/// Rebuilds the file with the mutated metadata, section offsets and checksums made consistent.
fn with_metadata(file: &[u8], meta: &[u8]) -> Vec<u8> {
    let layout = sections(file);
    let (meta_off, _) = layout[0];
    let (blob_off, blob_len) = layout[1];
    let new_blob_off = (meta_off + meta.len()).div_ceil(64) * 64;
    let mut out = file[..meta_off].to_vec();
    out.extend_from_slice(meta);
    out.resize(new_blob_off, 0);
    out.extend_from_slice(&file[blob_off..blob_off + blob_len]);
    out[32 + 16..32 + 24].copy_from_slice(&(meta.len() as u64).to_le_bytes());
    out[64 + 8..64 + 16].copy_from_slice(&(new_blob_off as u64).to_le_bytes());
    let new_layout = [(meta_off, meta.len()), (new_blob_off, blob_len)];
    fix_checksums(&mut out, &new_layout);
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Metadata mutated behind valid checksums: the decoder, the constant checks and the graph
    /// invariant must turn it into an error or a model that loads and runs without a panic.
    #[test]
    fn mutated_metadata_never_panics(mutations in prop::collection::vec(mutation(), 1..6)) {
        let file = demo_mote();
        let (meta_off, meta_len) = sections(file)[0];
        let mut meta = file[meta_off..meta_off + meta_len].to_vec();
        for m in &mutations {
            apply(&mut meta, m);
        }
        let _ = load_and_maybe_run(&with_metadata(file, &meta));
    }

    /// The same on a graph with control-flow bodies.
    #[test]
    fn mutated_silero_metadata_never_panics(mutations in prop::collection::vec(mutation(), 1..6)) {
        if let Some((file, inputs)) = silero() {
            let (meta_off, meta_len) = sections(file)[0];
            let mut meta = file[meta_off..meta_off + meta_len].to_vec();
            for m in &mutations {
                apply(&mut meta, m);
            }
            let _ = load_and_maybe_run_with(&with_metadata(file, &meta), inputs);
        }
    }

    /// Raw random byte changes anywhere (checksums not fixed): always an error.
    #[test]
    fn random_corruption_is_an_error(
        changes in prop::collection::vec((any::<usize>(), 1u8..=255), 1..8)
    ) {
        let original = demo_mote();
        let mut file = original.to_vec();
        let n = file.len();
        let layout = sections(original);
        let checked = |at: usize| {
            at < 32 + 32 * layout.len() || layout.iter().any(|&(o, l)| (o..o + l).contains(&at))
        };
        for &(at, x) in &changes {
            file[at % n] ^= x;
        }
        // Two changes may cancel out on one byte; only a changed checked byte must fail.
        let changed = (0..n).any(|at| checked(at) && file[at] != original[at]);
        let result = Model::from_mote_bytes(&file);
        if changed {
            prop_assert!(result.is_err());
        }
    }
}
