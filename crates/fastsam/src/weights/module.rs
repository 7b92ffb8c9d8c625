//! The `torch.nn.Module` tree recovered from a pickled model: class names, plain attributes, children in
//! registration order, and parameters/buffers as fp32 tensors. Graph builders read hyper-parameters
//! (strides, eps, kernel sizes, ...) from here instead of assuming them.

use std::collections::BTreeMap;

use crate::Tensor;

/// A plain attribute value of a pickled module (`__dict__` entries other than `_modules`,
/// `_parameters` and `_buffers`).
#[derive(Debug, Clone, PartialEq)]
pub enum Attr {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Tuples and lists alike.
    List(Vec<Attr>),
    Dict(Vec<(Attr, Attr)>),
    Tensor(Tensor),
    /// Any other object, kept by its class name (e.g. `ultralytics.utils.IterableSimpleNamespace`) and state.
    Object {
        class: String,
        state: Box<Attr>,
    },
}

impl Attr {
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Attr::Int(v) => Some(*v),
            Attr::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Attr::Float(v) => Some(*v),
            Attr::Int(v) => Some(*v as f64),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Attr::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Attr::Str(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&[Attr]> {
        match self {
            Attr::List(v) => Some(v),
            _ => None,
        }
    }

    /// Integers of a tuple such as `kernel_size=(3, 3)`, or a single integer repeated.
    pub fn as_i64s(&self) -> Option<Vec<i64>> {
        match self {
            Attr::List(v) => v.iter().map(Attr::as_i64).collect(),
            other => other.as_i64().map(|v| vec![v]),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Module {
    /// Fully qualified class, e.g. `ultralytics.nn.modules.conv.Conv` or `torch.nn.modules.conv.Conv2d`.
    pub class: String,
    pub attrs: BTreeMap<String, Attr>,
    /// `_modules`, in registration order (the order of the forward pass for `Sequential`).
    pub children: Vec<(String, Module)>,
    /// `_parameters` and `_buffers` that are not `None`.
    pub tensors: BTreeMap<String, Tensor>,
}

impl Module {
    /// The class name without its module path (`Conv`, `C2f`, `BatchNorm2d`, ...).
    pub fn kind(&self) -> &str {
        self.class.rsplit('.').next().unwrap_or(&self.class)
    }

    pub fn child(&self, name: &str) -> Option<&Module> {
        self.children.iter().find(|(n, _)| n == name).map(|(_, m)| m)
    }

    pub fn attr(&self, name: &str) -> Option<&Attr> {
        self.attrs.get(name)
    }

    /// Looks a module up by a dotted path relative to this one (`model.22.cv2.0`).
    pub fn get(&self, path: &str) -> Option<&Module> {
        if path.is_empty() {
            return Some(self);
        }
        path.split('.').try_fold(self, |m, part| m.child(part))
    }

    /// Every tensor under this module by its full dotted path (`model.0.conv.weight`, ...), in tree order.
    pub fn named_tensors(&self) -> Vec<(String, &Tensor)> {
        let mut out = Vec::new();
        self.collect_tensors("", &mut out);
        out
    }

    fn collect_tensors<'a>(&'a self, prefix: &str, out: &mut Vec<(String, &'a Tensor)>) {
        for (name, t) in &self.tensors {
            out.push((format!("{prefix}{name}"), t));
        }
        for (name, child) in &self.children {
            child.collect_tensors(&format!("{prefix}{name}."), out);
        }
    }
}
