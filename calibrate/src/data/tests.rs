use super::*;
use std::io::Write;

fn spec(name: &str, dims: &[usize]) -> InputSpec {
    InputSpec {
        name: name.into(),
        dtype: Some(DType::F32),
        dims: Some(dims.iter().map(|&d| Dim::Known(d)).collect()),
    }
}

fn npy(dir: &Path, name: &str, t: &Tensor) {
    mote::npy::write(dir.join(name), t).unwrap();
}

/// Writes an `.npz` whose members are the given tensors, through a scratch `.npy`.
pub(crate) fn npz(dir: &Path, name: &str, members: &[(&str, &Tensor)]) {
    let file = std::fs::File::create(dir.join(name)).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (member, t) in members {
        let scratch = dir.join(".scratch.npy");
        mote::npy::write(&scratch, t).unwrap();
        zip.start_file(format!("{member}.npy"), opts).unwrap();
        zip.write_all(&std::fs::read(&scratch).unwrap()).unwrap();
        std::fs::remove_file(scratch).unwrap();
    }
    zip.finish().unwrap();
}

fn t(shape: &[usize], v: f32) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(shape, vec![v; n]).unwrap()
}

#[test]
fn reads_npy_files_in_sorted_order_and_ignores_other_files() {
    let dir = tempfile::tempdir().unwrap();
    npy(dir.path(), "b.npy", &t(&[1, 2], 2.0));
    npy(dir.path(), "a.npy", &t(&[1, 2], 1.0));
    npy(dir.path(), "c.NPY", &t(&[1, 2], 3.0));
    std::fs::write(dir.path().join("README.txt"), "not a sample").unwrap();
    let data = CalibrationData::open(dir.path(), &[spec("x", &[1, 2])], None).unwrap();
    assert_eq!(data.len(), 3);
    let firsts: Vec<f32> = data
        .samples()
        .map(|s| {
            let s = s.unwrap();
            assert_eq!(s[0].0, "x");
            s[0].1.as_slice::<f32>().unwrap()[0]
        })
        .collect();
    assert_eq!(firsts, vec![1.0, 2.0, 3.0]);
}

#[test]
fn reads_npz_keyed_by_input_name_in_model_order() {
    let dir = tempfile::tempdir().unwrap();
    npz(
        dir.path(),
        "s0.npz",
        &[("b", &t(&[1, 3], 2.0)), ("a", &t(&[1, 2], 1.0))],
    );
    let inputs = [spec("a", &[1, 2]), spec("b", &[1, 3])];
    let data = CalibrationData::open(dir.path(), &inputs, None).unwrap();
    let s = data.sample(0).unwrap();
    assert_eq!(s[0].0, "a");
    assert_eq!(s[0].1.shape(), &[1, 2]);
    assert_eq!(s[1].0, "b");
    assert_eq!(s[1].1.as_slice::<f32>().unwrap(), &[2.0; 3]);
}

#[test]
fn npz_without_an_input_names_what_it_has() {
    let dir = tempfile::tempdir().unwrap();
    npz(dir.path(), "s0.npz", &[("a", &t(&[1, 2], 1.0))]);
    let inputs = [spec("a", &[1, 2]), spec("b", &[1, 3])];
    let data = CalibrationData::open(dir.path(), &inputs, None).unwrap();
    let err = data.sample(0).unwrap_err().to_string();
    assert!(
        err.contains("no array named 'b'") && err.contains("has: a"),
        "{err}"
    );
}

#[test]
fn wrong_shape_and_dtype_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    npy(dir.path(), "a.npy", &t(&[1, 3], 1.0));
    let data = CalibrationData::open(dir.path(), &[spec("x", &[1, 2])], None).unwrap();
    let err = data.sample(0).unwrap_err().to_string();
    assert!(
        err.contains("a.npy") && err.contains("shape [1, 2]"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    npy(
        dir.path(),
        "a.npy",
        &Tensor::from_vec(&[1, 2], vec![1.0f64, 2.0]).unwrap(),
    );
    let data = CalibrationData::open(dir.path(), &[spec("x", &[1, 2])], None).unwrap();
    let err = data.sample(0).unwrap_err().to_string();
    assert!(err.contains("is f32") || err.contains("float32"), "{err}");
}

#[test]
fn symbolic_dims_accept_any_size() {
    let dir = tempfile::tempdir().unwrap();
    npy(dir.path(), "a.npy", &t(&[1, 5], 1.0));
    let input = InputSpec {
        name: "x".into(),
        dtype: Some(DType::F32),
        dims: Some(vec![Dim::Known(1), Dim::Symbol("n".into())]),
    };
    let data = CalibrationData::open(dir.path(), &[input], None).unwrap();
    assert_eq!(data.sample(0).unwrap()[0].1.shape(), &[1, 5]);
}

#[test]
fn empty_dir_missing_dir_and_unreadable_files_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let err = CalibrationData::open(dir.path(), &[spec("x", &[1])], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no sample files"), "{err}");
    assert!(CalibrationData::open(&dir.path().join("nope"), &[spec("x", &[1])], None).is_err());

    std::fs::write(dir.path().join("bad.npy"), b"not numpy").unwrap();
    let data = CalibrationData::open(dir.path(), &[spec("x", &[1])], None).unwrap();
    let err = data.sample(0).unwrap_err().to_string();
    assert!(err.contains("bad.npy"), "{err}");
}

#[test]
fn npy_and_images_need_a_single_input_model() {
    let dir = tempfile::tempdir().unwrap();
    npy(dir.path(), "a.npy", &t(&[1, 2], 1.0));
    let err = CalibrationData::open(dir.path(), &[spec("a", &[1, 2]), spec("b", &[1])], None)
        .unwrap_err()
        .to_string();
    assert!(err.contains(".npz keyed by input name"), "{err}");
}

#[test]
fn png_images_go_through_the_preprocessing_spec() {
    let dir = tempfile::tempdir().unwrap();
    let mut img = image::RgbImage::new(4, 2);
    for (x, y, p) in img.enumerate_pixels_mut() {
        *p = image::Rgb([(x * 10) as u8, (y * 100) as u8, 255]);
    }
    img.save(dir.path().join("img.png")).unwrap();
    let input = spec("x", &[1, 3, 2, 4]);
    let err = CalibrationData::open(dir.path(), std::slice::from_ref(&input), None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("preprocessing spec"), "{err}");

    let p = Preprocess::parse("scale=1").unwrap();
    let data = CalibrationData::open(dir.path(), &[input], Some(&p)).unwrap();
    let s = data.sample(0).unwrap();
    let v = s[0].1.as_slice::<f32>().unwrap();
    assert_eq!(s[0].1.shape(), &[1, 3, 2, 4]);
    assert_eq!(&v[..4], &[0.0, 10.0, 20.0, 30.0]); // red, row 0
    assert_eq!(&v[8..12], &[0.0; 4]); // green, row 0
    assert_eq!(&v[16..20], &[255.0; 4]); // blue, row 0
}

#[test]
fn jpeg_images_are_resized_to_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let img = image::RgbImage::from_pixel(16, 8, image::Rgb([200, 100, 50]));
    img.save(dir.path().join("img.jpg")).unwrap();
    let p = Preprocess::parse("layout=nhwc, channels=gray").unwrap();
    let data = CalibrationData::open(dir.path(), &[spec("x", &[1, 4, 8, 1])], Some(&p)).unwrap();
    let s = data.sample(0).unwrap();
    assert_eq!(s[0].1.shape(), &[1, 4, 8, 1]);
    // A flat colour stays flat through JPEG and resizing; its luma is about 0.45.
    for &v in s[0].1.as_slice::<f32>().unwrap() {
        assert!((v - 0.45).abs() < 0.05, "{v}");
    }
}
