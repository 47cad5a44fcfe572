//! `B` as the column matrix of a 2-D convolution, packed straight from the image into the
//! micro-kernel's panels: the `[C·kh·kw, oh·ow]` matrix is never materialised (for a 3×3 conv
//! it is 9 times the image, written once and read back once per call otherwise).

use crate::cpu::conv::Im2ColParams;
use crate::KernelError;

/// The column matrix of one image of a 2-D convolution (see [`crate::cpu::conv`] for the
/// layout): row `c·kh·kw + ky·kw + kx`, column `oy·ow + ox` is the input at
/// `(c, oy·sh + ky·dh − pad_top, ox·sw + kx·dw − pad_left)`, zero in the padding.
#[derive(Clone, Copy, Debug)]
pub struct Im2ColB<'a> {
    image: &'a [f32],
    channels: usize,
    input: [usize; 2],
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    pad: [usize; 2],
    output: [usize; 2],
}

impl<'a> Im2ColB<'a> {
    /// The column matrix of `image` (`[channels, h, w]`, exactly that long) for a 2-D
    /// convolution's geometry.
    pub fn new(p: &Im2ColParams<'_>, image: &'a [f32]) -> Result<Self, KernelError> {
        if p.input_spatial.len() != 2 {
            return Err(KernelError::unsupported(format!(
                "packing im2col directly needs 2 spatial axes, got {}",
                p.input_spatial.len()
            )));
        }
        let output = p.output_spatial()?; // Validates the geometry.
        let image_len = p.image_len()?;
        if image.len() != image_len {
            return Err(KernelError::out_of_bounds(format!(
                "image has {} elements, geometry needs {image_len}",
                image.len()
            )));
        }
        let pair = |s: &[usize]| [s[0], s[1]];
        Ok(Im2ColB {
            image,
            channels: p.channels,
            input: pair(p.input_spatial),
            kernel: pair(p.kernel),
            stride: pair(p.strides),
            dilation: pair(p.dilations),
            pad: pair(p.pads_begin),
            output: pair(&output),
        })
    }

    /// Rows of the column matrix (`channels · kh · kw`).
    pub fn rows(&self) -> usize {
        self.channels * self.kernel[0] * self.kernel[1]
    }

    /// Columns of the column matrix (`oh · ow`).
    pub fn cols(&self) -> usize {
        self.output[0] * self.output[1]
    }

    /// `(channel plane offset, vertical shift, horizontal shift)` of row `l`: row `l` reads
    /// `image[plane + (oy·sh + dy − pt)·w + ox·sw + dx − pl]`.
    #[inline(always)]
    fn row(&self, l: usize) -> (usize, usize, usize) {
        let taps = self.kernel[0] * self.kernel[1];
        let (c, t) = (l / taps, l % taps);
        let (ky, kx) = (t / self.kernel[1], t % self.kernel[1]);
        (
            c * self.input[0] * self.input[1],
            ky * self.dilation[0],
            kx * self.dilation[1],
        )
    }

    /// Element `(l, j)`, for the reference kernel.
    pub(crate) fn get(&self, l: usize, j: usize) -> f32 {
        let (plane, dy, dx) = self.row(l);
        let (oy, ox) = (j / self.output[1], j % self.output[1]);
        match self.source(plane, dy, dx, oy, ox) {
            Some(i) => self.image[i],
            None => 0.0,
        }
    }

    /// The image index output `(oy, ox)` reads for a row with these shifts, `None` in padding.
    #[inline(always)]
    fn source(&self, plane: usize, dy: usize, dx: usize, oy: usize, ox: usize) -> Option<usize> {
        let y = (oy * self.stride[0] + dy).checked_sub(self.pad[0])?;
        let x = (ox * self.stride[1] + dx).checked_sub(self.pad[1])?;
        (y < self.input[0] && x < self.input[1]).then(|| plane + y * self.input[1] + x)
    }

    /// Packs rows `pc..pc + kcb`, columns `j0..j0 + cols` into `ceil(cols/nr)` column panels
    /// at the start of `out` (the layout of [`super::packing`]).
    pub(crate) fn pack_panels(
        &self,
        out: &mut [f32],
        pc: usize,
        kcb: usize,
        j0: usize,
        cols: usize,
        nr: usize,
    ) {
        let ow = self.output[1];
        let panels = cols.div_ceil(nr);
        for (jp, panel) in out[..panels * kcb * nr]
            .chunks_exact_mut(kcb * nr)
            .enumerate()
        {
            let first = j0 + jp * nr;
            let w = nr.min(j0 + cols - first);
            let (oy, ox) = (first / ow, first % ow);
            // The panel's columns lie in one output row: a row of the panel is then a strided
            // run of one image row (a plain copy at stride 1), with padding at its ends.
            let one_row = ox + w <= ow;
            for (l, dst) in panel.chunks_exact_mut(nr).enumerate() {
                let (plane, dy, dx) = self.row(pc + l);
                if one_row {
                    self.fill_run(&mut dst[..w], plane, dy, dx, oy, ox);
                } else {
                    for (lane, d) in dst[..w].iter_mut().enumerate() {
                        let j = first + lane;
                        *d = match self.source(plane, dy, dx, j / ow, j % ow) {
                            Some(i) => self.image[i],
                            None => 0.0,
                        };
                    }
                }
                dst[w..].fill(0.0);
            }
        }
    }

    /// `dst[i]` = the value output `(oy, ox0 + i)` reads.
    #[inline(always)]
    fn fill_run(&self, dst: &mut [f32], plane: usize, dy: usize, dx: usize, oy: usize, ox0: usize) {
        let Some(y) = (oy * self.stride[0] + dy)
            .checked_sub(self.pad[0])
            .filter(|&y| y < self.input[0])
        else {
            dst.fill(0.0);
            return;
        };
        let (s, pl, iw) = (self.stride[1], self.pad[1], self.input[1]);
        // Output ox reads x = ox·s + dx − pl, inside iff pl ≤ ox·s + dx < pl + iw.
        let lo = pl
            .saturating_sub(dx)
            .div_ceil(s)
            .clamp(ox0, ox0 + dst.len());
        let hi = (pl + iw)
            .saturating_sub(dx)
            .div_ceil(s)
            .clamp(lo, ox0 + dst.len());
        let (lo, hi) = (lo - ox0, hi - ox0);
        dst[..lo].fill(0.0);
        dst[hi..].fill(0.0);
        if lo < hi {
            let row = plane + y * iw;
            let x0 = (ox0 + lo) * s + dx - pl;
            let src = &self.image[row + x0..];
            if s == 1 {
                dst[lo..hi].copy_from_slice(&src[..hi - lo]);
            } else {
                dst[lo..hi]
                    .iter_mut()
                    .zip(src.iter().step_by(s))
                    .for_each(|(d, &v)| *d = v);
            }
        }
    }
}
