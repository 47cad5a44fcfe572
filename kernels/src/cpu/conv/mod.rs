//! Convolution lowering to matmul: [`im2col`] and its adjoint [`col2im`], for one image and one
//! group, over 1 to [`MAX_SPATIAL_RANK`] spatial axes.
//!
//! Layouts (row-major, contiguous):
//!
//! * image: `[channels, *input_spatial]`;
//! * column matrix: `[channels · Π kernel, Π output_spatial]`. Row `c · Π kernel + κ` (κ the
//!   row-major index of a kernel offset) holds, for every output position, the image value that
//!   kernel tap multiplies — zero where the tap falls in the padding. Hence ONNX `Conv` weights
//!   `[C_out, C_in/g, *kernel]`, viewed as `[C_out, C_in/g · Π kernel]`, times this matrix give
//!   `[C_out, Π output_spatial]` directly.
//!
//! Along axis `d`, output position `o` and kernel offset `κ` read input coordinate
//! `o · stride − pad_begin + κ · dilation`; `output = (input + pad_begin + pad_end −
//! dilation·(kernel−1) − 1) / stride + 1`.
//!
//! [`col2im`] scatters a column matrix back into an image, *adding* to what is there (taps that
//! land in the padding are dropped): that is ConvTranspose after `Wᵀ · x`, and the gradient of
//! `im2col`.

#[cfg(test)]
mod tests;

use crate::KernelError;

/// The most spatial axes [`Im2ColParams`] accepts.
pub const MAX_SPATIAL_RANK: usize = 8;

/// Geometry of one image/group of an N-d convolution. All slices have one entry per spatial axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Im2ColParams<'a> {
    /// Channels of this group (`C_in / group` for Conv, `C_out / group` for ConvTranspose).
    pub channels: usize,
    /// Spatial size of the image, e.g. `[H, W]`.
    pub input_spatial: &'a [usize],
    /// Kernel size per axis (each `>= 1`).
    pub kernel: &'a [usize],
    /// Stride per axis (each `>= 1`).
    pub strides: &'a [usize],
    /// Dilation per axis (each `>= 1`).
    pub dilations: &'a [usize],
    /// Zero padding before the first element, per axis.
    pub pads_begin: &'a [usize],
    /// Zero padding after the last element, per axis.
    pub pads_end: &'a [usize],
}

/// Validated geometry in fixed arrays (no allocation on the kernel path).
#[derive(Clone, Copy, Debug)]
struct Geometry {
    rank: usize,
    channels: usize,
    input: [usize; MAX_SPATIAL_RANK],
    kernel: [usize; MAX_SPATIAL_RANK],
    stride: [usize; MAX_SPATIAL_RANK],
    dilation: [usize; MAX_SPATIAL_RANK],
    pad_begin: [usize; MAX_SPATIAL_RANK],
    output: [usize; MAX_SPATIAL_RANK],
    /// `Π input_spatial`.
    image_plane: usize,
    /// `Π kernel`.
    taps: usize,
    /// `Π output_spatial`: columns of the column matrix.
    cols: usize,
}

impl Im2ColParams<'_> {
    /// Output spatial size per axis.
    pub fn output_spatial(&self) -> Result<Vec<usize>, KernelError> {
        let g = self.geometry()?;
        Ok(g.output[..g.rank].to_vec())
    }

    /// `(rows, cols)` of the column matrix: `(channels · Π kernel, Π output_spatial)`.
    pub fn col_shape(&self) -> Result<(usize, usize), KernelError> {
        let g = self.geometry()?;
        Ok((g.channels * g.taps, g.cols))
    }

    /// Elements of the image: `channels · Π input_spatial`.
    pub fn image_len(&self) -> Result<usize, KernelError> {
        let g = self.geometry()?;
        Ok(g.channels * g.image_plane)
    }

    fn geometry(&self) -> Result<Geometry, KernelError> {
        let rank = self.input_spatial.len();
        if rank == 0 || rank > MAX_SPATIAL_RANK {
            return Err(KernelError::unsupported(format!(
                "{rank} spatial axes; 1..={MAX_SPATIAL_RANK} supported"
            )));
        }
        let lens = [
            ("kernel", self.kernel.len()),
            ("strides", self.strides.len()),
            ("dilations", self.dilations.len()),
            ("pads_begin", self.pads_begin.len()),
            ("pads_end", self.pads_end.len()),
        ];
        if let Some((name, len)) = lens.iter().find(|(_, len)| *len != rank) {
            return Err(KernelError::invalid(format!(
                "{name} has {len} axes, input has {rank}"
            )));
        }
        let overflow = || KernelError::invalid("convolution sizes overflow");
        let mut g = Geometry {
            rank,
            channels: self.channels,
            input: [0; MAX_SPATIAL_RANK],
            kernel: [0; MAX_SPATIAL_RANK],
            stride: [0; MAX_SPATIAL_RANK],
            dilation: [0; MAX_SPATIAL_RANK],
            pad_begin: [0; MAX_SPATIAL_RANK],
            output: [0; MAX_SPATIAL_RANK],
            image_plane: 1,
            taps: 1,
            cols: 1,
        };
        for d in 0..rank {
            let (k, s, dil) = (self.kernel[d], self.strides[d], self.dilations[d]);
            if k == 0 || s == 0 || dil == 0 {
                return Err(KernelError::invalid(format!(
                    "axis {d}: kernel {k}, stride {s}, dilation {dil} must all be >= 1"
                )));
            }
            let window = dil
                .checked_mul(k - 1)
                .and_then(|x| x.checked_add(1))
                .ok_or_else(overflow)?;
            let padded = self.input_spatial[d]
                .checked_add(self.pads_begin[d])
                .and_then(|x| x.checked_add(self.pads_end[d]))
                .filter(|&x| isize::try_from(x).is_ok())
                .ok_or_else(overflow)?;
            if padded < window {
                return Err(KernelError::invalid(format!(
                    "axis {d}: dilated kernel spans {window}, padded input is only {padded}"
                )));
            }
            g.input[d] = self.input_spatial[d];
            g.kernel[d] = k;
            g.stride[d] = s;
            g.dilation[d] = dil;
            g.pad_begin[d] = self.pads_begin[d];
            g.output[d] = (padded - window) / s + 1;
            g.image_plane = g.image_plane.checked_mul(g.input[d]).ok_or_else(overflow)?;
            g.taps = g.taps.checked_mul(k).ok_or_else(overflow)?;
            g.cols = g.cols.checked_mul(g.output[d]).ok_or_else(overflow)?;
        }
        // Both buffer sizes must be representable.
        self.channels
            .checked_mul(g.image_plane)
            .ok_or_else(overflow)?;
        self.channels
            .checked_mul(g.taps)
            .and_then(|r| r.checked_mul(g.cols))
            .ok_or_else(overflow)?;
        Ok(g)
    }
}

/// Fills `col` (`[channels · Π kernel, Π output_spatial]`, exactly that long) from `image`
/// (`[channels, *input_spatial]`, exactly that long); padding reads as zero. Overwrites `col`.
pub fn im2col(p: &Im2ColParams<'_>, image: &[f32], col: &mut [f32]) -> Result<(), KernelError> {
    let g = p.geometry()?;
    check_lens(&g, image.len(), col.len())?;
    walk(&g, |run| {
        let dst = &mut col[run.col..run.col + run.len];
        match run.src {
            None => dst.fill(0.0),
            Some(s) => {
                dst[..s.lo].fill(0.0);
                dst[s.hi..].fill(0.0);
                let dst = &mut dst[s.lo..s.hi];
                if s.step == 1 {
                    dst.copy_from_slice(&image[s.base..s.base + dst.len()]);
                } else {
                    let src = image[s.base..].iter().step_by(s.step);
                    dst.iter_mut().zip(src).for_each(|(d, &x)| *d = x);
                }
            }
        }
    });
    Ok(())
}

/// Adds the column matrix `col` back into `image` (the adjoint of [`im2col`]): every element of
/// `col` whose tap lands inside the image is added to that image element; taps in the padding
/// are dropped. Same shapes as [`im2col`]; `image` is accumulated into, not overwritten.
pub fn col2im(p: &Im2ColParams<'_>, col: &[f32], image: &mut [f32]) -> Result<(), KernelError> {
    let g = p.geometry()?;
    check_lens(&g, image.len(), col.len())?;
    walk(&g, |run| {
        if let Some(s) = run.src {
            let src = &col[run.col + s.lo..run.col + s.hi];
            let dst = image[s.base..].iter_mut().step_by(s.step);
            dst.zip(src).for_each(|(d, &x)| *d += x);
        }
    });
    Ok(())
}

fn check_lens(g: &Geometry, image_len: usize, col_len: usize) -> Result<(), KernelError> {
    // Products were checked for overflow in `geometry`.
    let (want_image, want_col) = (g.channels * g.image_plane, g.channels * g.taps * g.cols);
    if image_len != want_image {
        return Err(KernelError::out_of_bounds(format!(
            "image has {image_len} elements, geometry needs {want_image}"
        )));
    }
    if col_len != want_col {
        return Err(KernelError::out_of_bounds(format!(
            "column matrix has {col_len} elements, geometry needs {want_col}"
        )));
    }
    Ok(())
}

/// `len` consecutive columns of one column-matrix row: all output positions sharing every
/// coordinate but the last.
struct Run {
    /// Index in the column matrix of the run's first element.
    col: usize,
    /// `output[rank - 1]`.
    len: usize,
    /// `None` when the whole run reads padding.
    src: Option<Source>,
}

/// Positions `lo..hi` of a run read `image[base + (o - lo) · step]`; the rest read padding.
#[derive(Clone, Copy)]
struct Source {
    base: usize,
    lo: usize,
    hi: usize,
    step: usize,
}

/// Calls `f` for every run of the column matrix, in order.
fn walk(g: &Geometry, mut f: impl FnMut(Run)) {
    let r = g.rank;
    let last = r - 1;
    let len = g.output[last];
    // Row-major strides of the image's spatial axes.
    let mut in_stride = [1usize; MAX_SPATIAL_RANK];
    for d in (0..last).rev() {
        in_stride[d] = in_stride[d + 1] * g.input[d + 1];
    }
    let mut row = 0;
    for c in 0..g.channels {
        let plane = c * g.image_plane;
        let mut tap = [0usize; MAX_SPATIAL_RANK];
        loop {
            let mut pos = [0usize; MAX_SPATIAL_RANK]; // Output coordinates of axes 0..last.
            let mut col = row * g.cols;
            loop {
                let src = outer_offset(g, &tap, &pos, &in_stride)
                    .and_then(|outer| last_axis(g, tap[last]).map(|s| (outer, s)))
                    .map(|(outer, s)| Source {
                        base: plane + outer + s.base,
                        ..s
                    });
                f(Run { col, len, src });
                col += len;
                if !advance(&mut pos[..last], &g.output[..last]) {
                    break;
                }
            }
            row += 1;
            if !advance(&mut tap[..r], &g.kernel[..r]) {
                break;
            }
        }
    }
}

/// Image offset of the axes before the last for output coordinates `pos` and kernel offsets
/// `tap`, or `None` if any of them falls in the padding.
fn outer_offset(
    g: &Geometry,
    tap: &[usize; MAX_SPATIAL_RANK],
    pos: &[usize; MAX_SPATIAL_RANK],
    in_stride: &[usize; MAX_SPATIAL_RANK],
) -> Option<usize> {
    let mut offset = 0;
    for d in 0..g.rank - 1 {
        // `padded` fits in isize (checked in `geometry`), and so does every coordinate below it.
        let x = (pos[d] * g.stride[d] + tap[d] * g.dilation[d]) as isize - g.pad_begin[d] as isize;
        if x < 0 || x as usize >= g.input[d] {
            return None;
        }
        offset += x as usize * in_stride[d];
    }
    Some(offset)
}

/// The in-image range of the last axis for kernel offset `tap`, with `base` the coordinate read
/// at `lo`; `None` if empty.
fn last_axis(g: &Geometry, tap: usize) -> Option<Source> {
    let d = g.rank - 1;
    let (s, shift, n) = (g.stride[d], tap * g.dilation[d], g.input[d]);
    let pb = g.pad_begin[d];
    // Output o reads x = o·s + shift − pb; in the image iff pb ≤ o·s + shift < pb + n.
    let lo = pb.saturating_sub(shift).div_ceil(s);
    let hi = (pb + n).saturating_sub(shift).div_ceil(s).min(g.output[d]);
    (lo < hi).then(|| Source {
        base: lo * s + shift - pb,
        lo,
        hi,
        step: s,
    })
}

/// Row-major odometer increment of `idx` within `dims`; `false` once it wraps to all zeros.
fn advance(idx: &mut [usize], dims: &[usize]) -> bool {
    for (i, &d) in idx.iter_mut().zip(dims).rev() {
        *i += 1;
        if *i < d {
            return true;
        }
        *i = 0;
    }
    false
}
