//! How a calibration image becomes an input tensor: resize, scale, per-channel mean/std,
//! channel order and layout.
//!
//! Written as `key=value` pairs, separated by commas on the command line or one per line in a
//! file (`#` starts a comment):
//!
//! ```text
//! resize=224x224, scale=0.00392156862745098, mean=0.485/0.456/0.406, std=0.229/0.224/0.225,
//! layout=nchw, channels=rgb
//! ```
//!
//! A pixel `p` (0..=255) of channel `c` becomes `(p * scale - mean[c]) / std[c]`.

use crate::{Error, Result};
use image::imageops::FilterType;
use image::DynamicImage;
use mote::Tensor;
use std::path::Path;

/// Where channels go in the tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `[1, C, H, W]`.
    Nchw,
    /// `[1, H, W, C]`.
    Nhwc,
}

/// Which channels, in which order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channels {
    Rgb,
    Bgr,
    /// One luma channel.
    Gray,
}

impl Channels {
    pub fn count(self) -> usize {
        match self {
            Channels::Rgb | Channels::Bgr => 3,
            Channels::Gray => 1,
        }
    }
}

/// An image preprocessing spec.
#[derive(Clone, Debug, PartialEq)]
pub struct Preprocess {
    /// Target `(height, width)`; `None` takes it from the model input's shape.
    pub resize: Option<(usize, usize)>,
    /// Multiplies the 0..=255 pixel first.
    pub scale: f32,
    /// Subtracted after scaling, one per channel (or one for all).
    pub mean: Vec<f32>,
    /// Divides after subtracting the mean, one per channel (or one for all).
    pub std: Vec<f32>,
    pub layout: Layout,
    pub channels: Channels,
}

impl Default for Preprocess {
    /// Pixels scaled to 0..1, RGB, NCHW, the model's input size.
    fn default() -> Self {
        Preprocess {
            resize: None,
            scale: 1.0 / 255.0,
            mean: vec![0.0],
            std: vec![1.0],
            layout: Layout::Nchw,
            channels: Channels::Rgb,
        }
    }
}

fn bad(msg: impl std::fmt::Display) -> Error {
    Error::Usage(format!("preprocessing spec: {msg}"))
}

fn parse_f32(key: &str, v: &str) -> Result<f32> {
    v.trim()
        .parse::<f32>()
        .ok()
        .filter(|x| x.is_finite())
        .ok_or_else(|| bad(format!("{key}: '{v}' is not a finite number")))
}

fn parse_list(key: &str, v: &str) -> Result<Vec<f32>> {
    v.split('/').map(|x| parse_f32(key, x)).collect()
}

impl Preprocess {
    /// Parses `key=value` pairs separated by commas or new lines (`#` comments allowed).
    pub fn parse(text: &str) -> Result<Preprocess> {
        let mut p = Preprocess::default();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            for item in line.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                let (key, value) = item
                    .split_once('=')
                    .ok_or_else(|| bad(format!("'{item}' is not key=value")))?;
                let (key, value) = (key.trim(), value.trim());
                match key {
                    "resize" | "size" => {
                        let (h, w) = value
                            .split_once(['x', 'X'])
                            .ok_or_else(|| bad(format!("resize: '{value}' is not HEIGHTxWIDTH")))?;
                        let dim = |s: &str| {
                            s.trim()
                                .parse::<usize>()
                                .ok()
                                .filter(|&n| n > 0)
                                .ok_or_else(|| bad(format!("resize: '{s}' is not a positive size")))
                        };
                        p.resize = Some((dim(h)?, dim(w)?));
                    }
                    "scale" => p.scale = parse_f32(key, value)?,
                    "mean" => p.mean = parse_list(key, value)?,
                    "std" => {
                        p.std = parse_list(key, value)?;
                        if p.std.contains(&0.0) {
                            return Err(bad("std: a standard deviation of 0"));
                        }
                    }
                    "layout" => {
                        p.layout = match value.to_ascii_lowercase().as_str() {
                            "nchw" => Layout::Nchw,
                            "nhwc" => Layout::Nhwc,
                            _ => return Err(bad(format!("layout: '{value}' (nchw or nhwc)"))),
                        }
                    }
                    "channels" | "order" => {
                        p.channels = match value.to_ascii_lowercase().as_str() {
                            "rgb" => Channels::Rgb,
                            "bgr" => Channels::Bgr,
                            "gray" | "grey" => Channels::Gray,
                            _ => {
                                return Err(bad(format!("channels: '{value}' (rgb, bgr or gray)")))
                            }
                        }
                    }
                    _ => {
                        return Err(bad(format!(
                            "unknown key '{key}' (resize, scale, mean, std, layout, channels)"
                        )))
                    }
                }
            }
        }
        let n = p.channels.count();
        for (what, list) in [("mean", &p.mean), ("std", &p.std)] {
            if list.len() != 1 && list.len() != n {
                return Err(bad(format!(
                    "{what} has {} values; {:?} images have {n} channels",
                    list.len(),
                    p.channels
                )));
            }
        }
        Ok(p)
    }

    /// A command-line argument: the path of a spec file when one exists, else the spec itself.
    pub fn from_arg(arg: &str) -> Result<Preprocess> {
        let path = Path::new(arg);
        if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
            return Preprocess::parse(&text);
        }
        Preprocess::parse(arg)
    }

    /// The `(height, width)` an input of these dims wants (batch 1, this layout), if known.
    pub(crate) fn size_from_dims(&self, dims: &[Option<usize>]) -> Option<(usize, usize)> {
        if dims.len() != 4 {
            return None;
        }
        match self.layout {
            Layout::Nchw => Some((dims[2]?, dims[3]?)),
            Layout::Nhwc => Some((dims[1]?, dims[2]?)),
        }
    }

    /// Turns a decoded image into a `[1, C, H, W]` or `[1, H, W, C]` f32 tensor of `size`.
    pub fn apply(&self, image: &DynamicImage, size: (usize, usize)) -> Result<Tensor> {
        let (h, w) = size;
        let resized = if (image.height() as usize, image.width() as usize) == (h, w) {
            image.clone()
        } else {
            // Bilinear (triangle) resampling: deterministic and what most training
            // pipelines use.
            image.resize_exact(w as u32, h as u32, FilterType::Triangle)
        };
        let rgb = resized.to_rgb8();
        let gray = resized.to_luma8();
        let c = self.channels.count();
        let pick = |x: u32, y: u32, ch: usize| -> f32 {
            match self.channels {
                Channels::Rgb => rgb.get_pixel(x, y).0[ch] as f32,
                Channels::Bgr => rgb.get_pixel(x, y).0[2 - ch] as f32,
                Channels::Gray => gray.get_pixel(x, y).0[0] as f32,
            }
        };
        let mean = |ch: usize| self.mean[if self.mean.len() == 1 { 0 } else { ch }];
        let std = |ch: usize| self.std[if self.std.len() == 1 { 0 } else { ch }];
        let mut out = vec![0f32; c * h * w];
        for y in 0..h {
            for x in 0..w {
                for ch in 0..c {
                    let v = (pick(x as u32, y as u32, ch) * self.scale - mean(ch)) / std(ch);
                    let at = match self.layout {
                        Layout::Nchw => (ch * h + y) * w + x,
                        Layout::Nhwc => (y * w + x) * c + ch,
                    };
                    out[at] = v;
                }
            }
        }
        let shape = match self.layout {
            Layout::Nchw => [1, c, h, w],
            Layout::Nhwc => [1, h, w, c],
        };
        Ok(Tensor::from_vec(&shape, out)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_spec() {
        let p = Preprocess::parse(
            "resize=2x3, scale=0.5, mean=1/2/3, std=1/2/4 # comment\nlayout=nhwc\nchannels=bgr",
        )
        .unwrap();
        assert_eq!(p.resize, Some((2, 3)));
        assert_eq!(p.scale, 0.5);
        assert_eq!(p.mean, vec![1.0, 2.0, 3.0]);
        assert_eq!(p.std, vec![1.0, 2.0, 4.0]);
        assert_eq!(p.layout, Layout::Nhwc);
        assert_eq!(p.channels, Channels::Bgr);
    }

    #[test]
    fn refuses_bad_specs() {
        for bad in [
            "resize=2",
            "resize=0x3",
            "scale=abc",
            "mean=1/2",
            "std=0",
            "layout=chw",
            "colour=rgb",
            "scale",
        ] {
            assert!(Preprocess::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn applies_scale_mean_std_layout_and_order() {
        let mut img = image::RgbImage::new(2, 1);
        img.put_pixel(0, 0, image::Rgb([10, 20, 30]));
        img.put_pixel(1, 0, image::Rgb([40, 50, 60]));
        let img = DynamicImage::ImageRgb8(img);
        let p = Preprocess::parse("scale=1, mean=0/10/20, std=1/2/5, channels=bgr").unwrap();
        let t = p.apply(&img, (1, 2)).unwrap();
        assert_eq!(t.shape(), &[1, 3, 1, 2]);
        // BGR: channel 0 is blue (30, 60), channel 1 green (20, 50), channel 2 red (10, 40).
        assert_eq!(
            t.as_slice::<f32>().unwrap(),
            &[30.0, 60.0, 5.0, 20.0, -2.0, 4.0]
        );
        let p = Preprocess::parse("scale=1, layout=nhwc").unwrap();
        let t = p.apply(&img, (1, 2)).unwrap();
        assert_eq!(t.shape(), &[1, 1, 2, 3]);
        assert_eq!(
            t.as_slice::<f32>().unwrap(),
            &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0]
        );
    }
}
