//! Conversions between f32 and the 8-bit / 4-bit float formats (raw bits in a byte).
