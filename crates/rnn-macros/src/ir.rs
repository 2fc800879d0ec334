//! The validated model: what `check` produces and `expand` and `baked` read. Every size is
//! known; the user's tokens stay in the parsed definition for error spans.

use crate::parse::ModelDef;

pub use crate::layers::Kind;

/// Every activation name `activation = ...` accepts, in [`Act`]'s order.
pub fn activation_names() -> Vec<&'static str> {
    rnn_layout::ACTIVATIONS.iter().map(|a| a.0).collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Act {
    Linear,
    Relu,
    Sigmoid,
    Tanh,
    Softmax,
    Elu,
    Selu,
    Gelu,
    Swish,
    Softplus,
    Softsign,
    HardSigmoid,
    LeakyRelu,
    Exponential,
}

/// Every [`Act`], in order.
pub const ALL_ACTS: &[Act] = &[
    Act::Linear,
    Act::Relu,
    Act::Sigmoid,
    Act::Tanh,
    Act::Softmax,
    Act::Elu,
    Act::Selu,
    Act::Gelu,
    Act::Swish,
    Act::Softplus,
    Act::Softsign,
    Act::HardSigmoid,
    Act::LeakyRelu,
    Act::Exponential,
];

impl Act {
    /// The `rnn::Activation` variant.
    pub fn variant(self) -> &'static str {
        rnn_layout::ACTIVATIONS[self as usize].1
    }
    pub fn name(self) -> &'static str {
        rnn_layout::ACTIVATIONS[self as usize].0
    }
    /// The activation named `s` (also Keras's alias `silu` for `swish`).
    pub fn from_name(s: &str) -> Option<Act> {
        if s == "silu" {
            return Some(Act::Swish);
        }
        rnn_layout::ACTIVATIONS
            .iter()
            .position(|a| a.0 == s)
            .map(|k| ALL_ACTS[k])
    }
}

/// A validated layer.
pub struct Layer {
    pub kind: Kind,
    pub input: usize,
    pub units: usize,
    pub activation: Act,
    /// The values of the kind's boolean options (`reset_after`), in its table order.
    pub flags: Vec<bool>,
    /// Bias vectors of a recurrent layer that takes their number (`LayerKind::bias_param`):
    /// 1, or 2 under `params = pytorch`.
    pub biases: usize,
    /// The layer a wrapper (`bidirectional`) runs both ways.
    pub inner: Option<Box<Layer>>,
    /// A wrapper's merge: an index into `layers::MERGES` (0, `concat`, by default); an
    /// attention's score (0 additive, 1 dot).
    pub merge: u8,
    /// A dropout layer's rate.
    pub rate: f64,
    /// A recurrent layer's `dropout` and `recurrent_dropout`.
    pub drop: [f64; 2],
    /// Keras's automatic name (`lstm`, `lstm_1`, ...).
    pub keras_name: String,
    /// An attention's memory: the encoder's output width and the source length.
    pub memory: (usize, usize),
}

impl Layer {
    /// Rows of the weight matrices: `gates * units`.
    pub fn gate_rows(&self) -> usize {
        self.kind.gates * self.units
    }
    /// The value of boolean option `name` (its default when the kind has no such option).
    pub fn flag(&self, name: &str) -> bool {
        let i = self.kind.flags.iter().position(|f| f.0 == name);
        i.map(|i| self.flags[i]).unwrap_or(false)
    }
    /// The declaration, normalised: widths, then every option that is not its default.
    pub fn source(&self) -> String {
        if self.kind.rate_arg {
            return format!("{}({})", self.kind.name, self.rate);
        }
        if self.kind.attends {
            let score = if self.merge == 1 { ", score = dot" } else { "" };
            return format!("{}({}, {}{score})", self.kind.name, self.input, self.units);
        }
        if let Some(inner) = &self.inner {
            let merge = match self.merge {
                0 => String::new(),
                m => format!(", merge = {}", crate::layers::MERGES[m as usize]),
            };
            return format!("{}({}{merge})", self.kind.name, inner.source());
        }
        let mut s = format!("{}({}, {}", self.kind.name, self.input, self.units);
        if self
            .kind
            .activations
            .first()
            .is_some_and(|d| *d != self.activation)
        {
            s += &format!(", activation = {}", self.activation.name());
        }
        for (&(name, default), &v) in self.kind.flags.iter().zip(&self.flags) {
            if v != default {
                s += &format!(", {name} = {v}");
            }
        }
        for (name, r) in ["dropout", "recurrent_dropout"].iter().zip(self.drop) {
            if r > 0.0 {
                s += &format!(", {name} = {r}");
            }
        }
        s + ")"
    }
}

/// A validated model.
pub struct Model<'a> {
    pub def: &'a ModelDef,
    pub scalar: &'static str,
    pub exact_math: bool,
    pub layers: Vec<Layer>,
    /// Weights read from `weights = "..."` at compile time, in our layout.
    pub baked: Option<crate::baked::Baked>,
    /// `quantize = int8`: the integer weights read at compile time.
    pub quantized: Option<crate::baked::QBaked>,
}

impl Model<'_> {
    pub fn input(&self) -> usize {
        let first = &self.layers[0];
        // An embedding reads one token id per step; its first width is the vocabulary.
        if first.kind.token_input {
            1
        } else {
            first.input
        }
    }
    pub fn output(&self) -> usize {
        self.layers.last().map(|l| l.units).unwrap_or(0)
    }
}

/// A dense activation's code in a quantized file (`rnn::quant::QAct`), if it has one.
pub fn qact_code(a: Act) -> Option<i8> {
    match a {
        Act::Linear => Some(0),
        Act::Relu => Some(1),
        Act::Tanh => Some(2),
        Act::Sigmoid => Some(3),
        _ => None,
    }
}
