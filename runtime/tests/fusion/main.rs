//! Fusion passes, end to end: a conv followed by an element-wise chain runs as one node, and
//! gives bit-for-bit what the unfused ops give (the fused steps round exactly as the ops did).
//!
//! `onnx`: building the test models and running them; one module per producer the chains fuse
//! into (conv and transposed conv, MatMul/Gemm) and one for chains of element-wise ops alone.

mod conv;
mod elementwise;
mod matmul;
mod onnx;
