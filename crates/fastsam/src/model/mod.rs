//! Building inference graphs from checkpoint tensors and running them with ONNX Runtime.
