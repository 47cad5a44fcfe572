//! The weights of a direct convolution, packed once for a variant's output-channel block.

use crate::KernelError;

/// ONNX conv weights `[out_channels, in_channels, kernel_h, kernel_w]` rearranged as
/// `[out_channels / block (rounded up), in_channels, kernel_h, kernel_w, block]`, the missing
/// channels of the last block zero: one step of a direct kernel (one input channel, one tap)
/// reads the `block` weights it broadcasts from consecutive addresses.
#[derive(Clone, Debug, PartialEq)]
pub struct PackedConvWeights {
    out_channels: usize,
    in_channels: usize,
    kernel_h: usize,
    kernel_w: usize,
    block: usize,
    data: Vec<f32>,
}

impl PackedConvWeights {
    /// Packs `w` (`[out_channels, in_channels, kernel_h, kernel_w]`, row-major) for `block`
    /// output channels per tile.
    pub fn pack(
        block: usize,
        out_channels: usize,
        in_channels: usize,
        kernel_h: usize,
        kernel_w: usize,
        w: &[f32],
    ) -> Result<Self, KernelError> {
        if block == 0 {
            return Err(KernelError::invalid(
                "direct conv weights: block must be >= 1",
            ));
        }
        let per_channel = in_channels
            .checked_mul(kernel_h)
            .and_then(|v| v.checked_mul(kernel_w))
            .ok_or_else(|| KernelError::invalid("direct conv weights: size overflows"))?;
        let blocks = out_channels.div_ceil(block);
        let len = blocks
            .checked_mul(block)
            .and_then(|v| v.checked_mul(per_channel))
            .ok_or_else(|| KernelError::invalid("direct conv weights: size overflows"))?;
        if w.len() != out_channels * per_channel {
            return Err(KernelError::out_of_bounds(format!(
                "direct conv weights: {} elements, [{out_channels}, {in_channels}, {kernel_h}, \
                 {kernel_w}] needs {}",
                w.len(),
                out_channels * per_channel
            )));
        }
        let mut data = vec![0.0; len];
        for (o, filter) in w.chunks_exact(per_channel.max(1)).enumerate() {
            let (b, lane) = (o / block, o % block);
            let base = b * per_channel * block;
            for (step, &v) in filter.iter().enumerate() {
                data[base + step * block + lane] = v;
            }
        }
        Ok(PackedConvWeights {
            out_channels,
            in_channels,
            kernel_h,
            kernel_w,
            block,
            data,
        })
    }

    /// Output channels (rows of `C`).
    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// Input channels.
    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    /// Kernel height.
    pub fn kernel_h(&self) -> usize {
        self.kernel_h
    }

    /// Kernel width.
    pub fn kernel_w(&self) -> usize {
        self.kernel_w
    }

    /// Output channels per block.
    pub fn block(&self) -> usize {
        self.block
    }

    /// `in_channels · kernel_h · kernel_w`: the steps of one block.
    pub(crate) fn steps(&self) -> usize {
        self.in_channels * self.kernel_h * self.kernel_w
    }

    /// Block `b`: `steps() · block()` weights, step-major.
    pub(crate) fn block_data(&self, b: usize) -> &[f32] {
        let len = self.steps() * self.block;
        &self.data[b * len..(b + 1) * len]
    }

    /// `w[o, ic, ky, kx]` with `step = (ic · kernel_h + ky) · kernel_w + kx`.
    pub(crate) fn weight(&self, o: usize, step: usize) -> f32 {
        self.block_data(o / self.block)[step * self.block + o % self.block]
    }
}
