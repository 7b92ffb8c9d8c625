//! Reading `torch.nn` leaf modules (Conv2d, BatchNorm2d, ConvTranspose2d, MaxPool2d, Upsample, activations)
//! from a pickled module tree, with their hyper-parameters taken from the pickled attributes.
//! Errors are plain strings naming the module path; the caller turns them into `crate::Error`.

use crate::weights::module::{Attr, Module};
use crate::Tensor;

use super::onnx::Conv2d;

pub(crate) type R<T> = std::result::Result<T, String>;

/// A module with its dotted path (`model.22.cv2.0.1`), for error messages.
#[derive(Clone)]
pub(crate) struct At<'a> {
    pub m: &'a Module,
    pub path: String,
}

impl<'a> At<'a> {
    pub fn kind(&self) -> &'a str {
        self.m.kind()
    }

    pub fn err(&self, msg: impl std::fmt::Display) -> String {
        format!("{} ({}): {msg}", self.path, self.kind())
    }

    pub fn child(&self, name: &str) -> R<At<'a>> {
        self.opt_child(name).ok_or_else(|| self.err(format_args!("missing submodule `{name}`")))
    }

    pub fn opt_child(&self, name: &str) -> Option<At<'a>> {
        self.m.child(name).map(|m| At { m, path: format!("{}.{name}", self.path) })
    }

    /// Children in registration order (the forward order of `Sequential` / `ModuleList`).
    pub fn children(&self) -> Vec<At<'a>> {
        self.m.children.iter().map(|(n, m)| At { m, path: format!("{}.{n}", self.path) }).collect()
    }

    fn attr(&self, name: &str) -> R<&'a Attr> {
        self.m.attr(name).ok_or_else(|| self.err(format_args!("missing attribute `{name}`")))
    }

    pub fn int(&self, name: &str) -> R<i64> {
        self.attr(name)?.as_i64().ok_or_else(|| self.err(format_args!("attribute `{name}` is not an integer")))
    }

    pub fn int_or(&self, name: &str, default: i64) -> R<i64> {
        match self.m.attr(name) {
            None | Some(Attr::None) => Ok(default),
            Some(_) => self.int(name),
        }
    }

    pub fn bool_or(&self, name: &str, default: bool) -> R<bool> {
        match self.m.attr(name) {
            None | Some(Attr::None) => Ok(default),
            Some(a) => a
                .as_bool()
                .or_else(|| a.as_i64().map(|v| v != 0))
                .ok_or_else(|| self.err(format_args!("attribute `{name}` is not a boolean"))),
        }
    }

    pub fn float(&self, name: &str) -> R<f64> {
        self.attr(name)?.as_f64().ok_or_else(|| self.err(format_args!("attribute `{name}` is not a number")))
    }

    pub fn str(&self, name: &str) -> R<&'a str> {
        self.attr(name)?.as_str().ok_or_else(|| self.err(format_args!("attribute `{name}` is not a string")))
    }

    /// An `(h, w)` pair stored as a tuple or as one integer for both.
    pub fn pair(&self, name: &str) -> R<[i64; 2]> {
        let v =
            self.attr(name)?.as_i64s().ok_or_else(|| self.err(format_args!("attribute `{name}` is not integers")))?;
        match v.as_slice() {
            [a] => Ok([*a, *a]),
            [a, b] => Ok([*a, *b]),
            _ => Err(self.err(format_args!("attribute `{name}` has {} values, expected 2", v.len()))),
        }
    }

    pub fn tensor(&self, name: &str) -> R<&'a Tensor> {
        self.opt_tensor(name).ok_or_else(|| self.err(format_args!("missing tensor `{name}`")))
    }

    pub fn opt_tensor(&self, name: &str) -> Option<&'a Tensor> {
        self.m.tensors.get(name)
    }

    /// A float attribute that may also be a one-element tensor (Ultralytics stores `stride` as a tensor).
    pub fn floats(&self, name: &str) -> R<Vec<f64>> {
        match self.attr(name)? {
            Attr::Tensor(t) => Ok(t.data.iter().map(|&v| f64::from(v)).collect()),
            Attr::List(v) => {
                v.iter().map(|a| a.as_f64().ok_or_else(|| self.err(format_args!("`{name}`: not numbers")))).collect()
            }
            other => other.as_f64().map(|v| vec![v]).ok_or_else(|| self.err(format_args!("`{name}`: not numbers"))),
        }
    }

    pub fn expect_kind(&self, kinds: &[&str]) -> R<()> {
        if kinds.contains(&self.kind()) {
            Ok(())
        } else {
            Err(self.err(format_args!("expected {}", kinds.join(" or "))))
        }
    }
}

/// Weights and hyper-parameters of a convolution, BatchNorm already folded in where there was one.
#[derive(Debug, Clone)]
pub(crate) struct ConvSpec {
    pub weight: Tensor,
    pub bias: Option<Tensor>,
    pub params: Conv2d,
}

impl ConvSpec {
    pub fn out_channels(&self) -> usize {
        self.weight.shape[0]
    }
}

fn conv_params(at: &At<'_>) -> R<Conv2d> {
    if let Ok(mode) = at.str("padding_mode") {
        if mode != "zeros" {
            return Err(at.err(format_args!("padding_mode `{mode}` is not supported (only zeros)")));
        }
    }
    let padding = at.pair("padding").map_err(|_| at.err("only explicit integer padding is supported"))?;
    Ok(Conv2d { stride: at.pair("stride")?, padding, dilation: at.pair("dilation")?, groups: at.int_or("groups", 1)? })
}

fn conv_weight(at: &At<'_>) -> R<Tensor> {
    let w = at.tensor("weight")?;
    if w.shape.len() != 4 {
        return Err(at.err(format_args!("weight has shape {:?}, expected 4 dimensions", w.shape)));
    }
    Ok(w.clone())
}

/// `torch.nn.Conv2d`.
pub(crate) fn conv2d(at: &At<'_>) -> R<ConvSpec> {
    at.expect_kind(&["Conv2d"])?;
    let weight = conv_weight(at)?;
    let bias = at.opt_tensor("bias").cloned();
    if bias.as_ref().is_some_and(|b| b.numel() != weight.shape[0]) {
        return Err(at.err("bias length differs from the number of output channels"));
    }
    Ok(ConvSpec { weight, bias, params: conv_params(at)? })
}

/// `torch.nn.ConvTranspose2d` (weight in, out/groups, kh, kw); output padding must be zero.
pub(crate) fn conv_transpose2d(at: &At<'_>) -> R<ConvSpec> {
    at.expect_kind(&["ConvTranspose2d"])?;
    if at.m.attr("output_padding").is_some() && at.pair("output_padding")? != [0, 0] {
        return Err(at.err("non-zero output_padding is not supported"));
    }
    Ok(ConvSpec { weight: conv_weight(at)?, bias: at.opt_tensor("bias").cloned(), params: conv_params(at)? })
}

/// Folds an eval-mode `BatchNorm2d` into the preceding convolution exactly as PyTorch's `fuse_conv_bn_weights`
/// does in fp32 (which the reference runs): `rsq = 1/sqrt(var + eps)`, `W' = W * (gamma * rsq)` per output
/// channel, `b' = (b - mean) * rsq * gamma + beta`, evaluated left to right.
pub(crate) fn fold_batch_norm(conv: &mut ConvSpec, bn: &At<'_>) -> R<()> {
    bn.expect_kind(&["BatchNorm2d"])?;
    let n = conv.out_channels();
    let eps = bn.float("eps")? as f32;
    let mean = bn.tensor("running_mean")?;
    let var = bn.tensor("running_var")?;
    let ones = vec![1.0f32; n];
    let zeros = vec![0.0f32; n];
    let gamma = bn.opt_tensor("weight").map_or(&ones[..], |t| &t.data[..]);
    let beta = bn.opt_tensor("bias").map_or(&zeros[..], |t| &t.data[..]);
    if [mean.numel(), var.numel(), gamma.len(), beta.len()].iter().any(|&l| l != n) {
        return Err(bn.err(format_args!("statistics do not have {n} channels like the convolution before it")));
    }
    let per_out = conv.weight.numel() / n;
    let mut bias = conv.bias.take().map_or_else(|| vec![0.0f32; n], |b| b.data);
    for o in 0..n {
        let rsq = 1.0f32 / (var.data[o] + eps).sqrt();
        let scale = gamma[o] * rsq;
        for w in &mut conv.weight.data[o * per_out..(o + 1) * per_out] {
            *w *= scale;
        }
        bias[o] = (bias[o] - mean.data[o]) * rsq * gamma[o] + beta[o];
    }
    conv.bias = Some(Tensor::new(vec![n], bias));
    Ok(())
}

/// Activations the graph builder knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Activation {
    Identity,
    SiLU,
    ReLU,
    Sigmoid,
}

pub(crate) fn activation(at: &At<'_>) -> R<Activation> {
    match at.kind() {
        "Identity" => Ok(Activation::Identity),
        "SiLU" => Ok(Activation::SiLU),
        "ReLU" => Ok(Activation::ReLU),
        "Sigmoid" => Ok(Activation::Sigmoid),
        other => Err(at.err(format_args!("activation `{other}` is not supported"))),
    }
}

/// `torch.nn.MaxPool2d` (no dilation, no indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MaxPool {
    pub kernel: [i64; 2],
    pub stride: [i64; 2],
    pub padding: [i64; 2],
    pub ceil_mode: bool,
}

pub(crate) fn max_pool2d(at: &At<'_>) -> R<MaxPool> {
    at.expect_kind(&["MaxPool2d"])?;
    let kernel = at.pair("kernel_size")?;
    // torch stores `stride=None` as the kernel size already, but be lenient with older pickles.
    let stride = match at.m.attr("stride") {
        None | Some(Attr::None) => kernel,
        Some(_) => at.pair("stride")?,
    };
    if at.m.attr("dilation").is_some() && at.pair("dilation")? != [1, 1] {
        return Err(at.err("dilated max pooling is not supported"));
    }
    if at.bool_or("return_indices", false)? {
        return Err(at.err("return_indices is not supported"));
    }
    Ok(MaxPool { kernel, stride, padding: at.pair("padding")?, ceil_mode: at.bool_or("ceil_mode", false)? })
}

/// `torch.nn.Upsample` in nearest mode with scale factors; returns the (h, w) factors.
pub(crate) fn upsample(at: &At<'_>) -> R<[f32; 2]> {
    at.expect_kind(&["Upsample"])?;
    let mode = at.str("mode")?;
    if mode != "nearest" {
        return Err(at.err(format_args!("upsampling mode `{mode}` is not supported (only nearest)")));
    }
    if !matches!(at.m.attr("size"), None | Some(Attr::None)) {
        return Err(at.err("upsampling to a fixed size is not supported (only scale factors)"));
    }
    let scale = at.floats("scale_factor")?;
    let [sh, sw] = match scale.as_slice() {
        [s] => [*s, *s],
        [h, w] => [*h, *w],
        _ => return Err(at.err("scale_factor must have one or two values")),
    };
    if sh.fract() != 0.0 || sw.fract() != 0.0 || sh < 1.0 || sw < 1.0 {
        return Err(at.err(format_args!("scale factor {sh}x{sw} is not a positive integer")));
    }
    Ok([sh as f32, sw as f32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_norm_folding_follows_torch_order() {
        let mut conv =
            ConvSpec { weight: Tensor::new(vec![1, 1, 1, 2], vec![0.5, -2.0]), bias: None, params: Conv2d::default() };
        let mut bn = Module { class: "torch.nn.modules.batchnorm.BatchNorm2d".into(), ..Module::default() };
        bn.attrs.insert("eps".into(), Attr::Float(1e-3));
        for (name, v) in [("running_mean", 0.3f32), ("running_var", 0.7), ("weight", 1.3), ("bias", -0.2)] {
            bn.tensors.insert(name.into(), Tensor::new(vec![1], vec![v]));
        }
        fold_batch_norm(&mut conv, &At { m: &bn, path: "bn".into() }).unwrap();
        let rsq = 1.0f32 / (0.7f32 + 1e-3f32).sqrt();
        assert_eq!(conv.weight.data, vec![0.5 * (1.3 * rsq), -2.0 * (1.3 * rsq)]);
        assert_eq!(conv.bias.unwrap().data, vec![(0.0 - 0.3) * rsq * 1.3 + -0.2]);
    }
}
