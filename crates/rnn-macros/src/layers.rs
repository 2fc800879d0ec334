//! The layers the model language knows: one entry each, everything the macro needs about a
//! layer kind. A new layer is one file in `rnn-core/src/layers/` and one entry here (see
//! `ARCHITECTURE.md`); parsing, checks, error messages, the chain type, `LAYERS` and
//! `summary()` all read this table.

use crate::ir::Act;

/// One layer kind.
#[derive(Debug, PartialEq, Eq)]
pub struct LayerKind {
    /// The word in the model line (`lstm`).
    pub name: &'static str,
    /// Keras's automatic layer-name stem and class (`("lstm", "LSTM")`): the default tensor
    /// name prefix and the summary's class.
    pub keras: (&'static str, &'static str),
    /// The cell type in `rnn_core::layers`, re-exported in `rnn::__private`.
    pub cell: &'static str,
    /// Gate blocks: the cell's weight matrices have `gates * units` rows.
    pub gates: usize,
    /// Whether the cell takes those rows as a const parameter after `H` (stable Rust cannot
    /// write `4 * H` in a type): `LstmCell<T, I, H, G>`.
    pub rows_param: bool,
    /// The activations `activation = ...` accepts, first the default; empty when the layer
    /// has no activation option (its `Cell::Config` is then `()`, else `Activation`).
    pub activations: &'static [Act],
    /// Boolean options, with their defaults, passed as const parameters after the rows
    /// (`GruCell<T, I, H, G, RESET_AFTER>`).
    pub flags: &'static [(&'static str, bool)],
    /// Flags that size a tensor: passed to the cell as a count, `n` when true and 0 when
    /// false (`peephole = true` is `LstmCell<.., 3, ..>`: three peephole vectors).
    pub counted_flags: &'static [(&'static str, usize)],
    /// The output is an activation of a pre-activation the cell records (cross-entropy from
    /// the logits): `Model::OUTPUT_ACTIVATION` when last.
    pub logits: bool,
    /// The layer keeps its width (units = inputs, e.g. a scale or a normalisation): written
    /// `kind(width)` even first, and `kind(i, u)` with `i != u` is an error; its cell type has
    /// one size, `Cell<T, H>`.
    pub keeps_width: bool,
    /// The cell takes its number of biases as a last const parameter: 1 as Keras, 2 as
    /// PyTorch's `bias_ih` and `bias_hh` under the model option `params = pytorch`.
    pub bias_param: bool,
    /// The layer reads token ids (an embedding): only first, written `kind(vocab, width)`;
    /// the model's input is one id per step.
    pub token_input: bool,
    /// The layer wraps a recurrent layer written inside it (`bidirectional(gru(8))`) and
    /// takes `merge = concat | sum | mul | ave`; it reads the whole sequence (no `step`).
    pub wraps: bool,
    /// The layer takes a rate in `[0, 1)` instead of widths (`dropout(0.2)`), keeps the width
    /// of the layer before it and has `Config = f64` (the rate).
    pub rate_arg: bool,
    /// Keras's `dropout` and `recurrent_dropout` options: whether the layer takes them, and
    /// whether `recurrent_dropout` is implemented.
    pub dropout_opts: (bool, bool),
    /// The layer attends over an encoder's outputs (only in the decoder of
    /// `encoder => decoder`) and takes `score = additive | dot`.
    pub attends: bool,
}

/// Every activation, `linear` first (the default of `dense`).
const ALL_ACTIVATIONS: &[Act] = crate::ir::ALL_ACTS;

/// Every activation, `tanh` first (the default of `rnn`, as Keras's SimpleRNN).
const RNN_ACTIVATIONS: &[Act] = &[
    Act::Tanh,
    Act::Linear,
    Act::Relu,
    Act::Sigmoid,
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

/// Every layer kind, in the order error messages list them.
pub const KINDS: &[LayerKind] = &[
    LayerKind {
        name: "rnn",
        keras: ("simple_rnn", "SimpleRNN"),
        cell: "RnnCell",
        gates: 1,
        rows_param: false,
        activations: RNN_ACTIVATIONS,
        flags: &[],
        counted_flags: &[],
        logits: false,
        keeps_width: false,
        bias_param: true,
        token_input: false,
        wraps: false,
        rate_arg: false,
        dropout_opts: (true, true),
        attends: false,
    },
    LayerKind {
        name: "lstm",
        keras: ("lstm", "LSTM"),
        cell: "LstmCell",
        gates: 4,
        rows_param: true,
        activations: &[],
        flags: &[("peephole", false)],
        counted_flags: &[("peephole", 3)],
        logits: false,
        keeps_width: false,
        bias_param: true,
        token_input: false,
        wraps: false,
        rate_arg: false,
        dropout_opts: (true, true),
        attends: false,
    },
    LayerKind {
        name: "gru",
        keras: ("gru", "GRU"),
        cell: "GruCell",
        gates: 3,
        rows_param: true,
        activations: &[],
        flags: &[("reset_after", true)],
        counted_flags: &[],
        logits: false,
        keeps_width: false,
        bias_param: false,
        token_input: false,
        wraps: false,
        rate_arg: false,
        dropout_opts: (true, true),
        attends: false,
    },
    LayerKind {
        name: "ln_rnn",
        keras: ("ln_rnn", "RNN(LNSimpleRNNCell)"),
        cell: "LnRnnCell",
        gates: 1,
        rows_param: false,
        activations: RNN_ACTIVATIONS,
        flags: &[],
        counted_flags: &[],
        logits: false,
        keeps_width: false,
        bias_param: false,
        token_input: false,
        wraps: false,
        rate_arg: false,
        dropout_opts: (false, false),
        attends: false,
    },
    LayerKind {
        name: "layer_norm",
        keras: ("layer_normalization", "LayerNormalization"),
        cell: "LayerNorm",
        gates: 1,
        rows_param: false,
        activations: &[],
        flags: &[],
        counted_flags: &[],
        logits: false,
        keeps_width: true,
        bias_param: false,
        token_input: false,
        wraps: false,
        rate_arg: false,
        dropout_opts: (false, false),
        attends: false,
    },
    LayerKind {
        name: "embedding",
        keras: ("embedding", "Embedding"),
        cell: "Embedding",
        gates: 1,
        rows_param: false,
        activations: &[],
        flags: &[],
        counted_flags: &[],
        logits: false,
        keeps_width: false,
        bias_param: false,
        token_input: true,
        wraps: false,
        rate_arg: false,
        dropout_opts: (false, false),
        attends: false,
    },
    LayerKind {
        name: "bidirectional",
        keras: ("bidirectional", "Bidirectional"),
        cell: "Bidirectional",
        gates: 1,
        rows_param: false,
        activations: &[],
        flags: &[],
        counted_flags: &[],
        logits: false,
        keeps_width: false,
        bias_param: false,
        token_input: false,
        wraps: true,
        rate_arg: false,
        dropout_opts: (false, false),
        attends: false,
    },
    LayerKind {
        name: "dropout",
        keras: ("dropout", "Dropout"),
        cell: "Dropout",
        gates: 1,
        rows_param: false,
        activations: &[],
        flags: &[],
        counted_flags: &[],
        logits: false,
        keeps_width: true,
        bias_param: false,
        token_input: false,
        wraps: false,
        rate_arg: true,
        dropout_opts: (false, false),
        attends: false,
    },
    LayerKind {
        name: "attention",
        keras: ("attention", "Attention"),
        cell: "Attention",
        gates: 1,
        rows_param: false,
        activations: &[],
        flags: &[],
        counted_flags: &[],
        logits: false,
        keeps_width: false,
        bias_param: false,
        token_input: false,
        wraps: false,
        rate_arg: false,
        dropout_opts: (false, false),
        attends: true,
    },
    LayerKind {
        name: "dense",
        keras: ("dense", "Dense"),
        cell: "Dense",
        gates: 1,
        rows_param: false,
        activations: ALL_ACTIVATIONS,
        flags: &[("use_bias", true)],
        counted_flags: &[],
        logits: true,
        keeps_width: false,
        bias_param: false,
        token_input: false,
        wraps: false,
        rate_arg: false,
        dropout_opts: (false, false),
        attends: false,
    },
];

/// A kind of layer: an entry of [`KINDS`].
pub type Kind = &'static LayerKind;

impl LayerKind {
    /// The entry named `name`.
    pub fn find(name: &str) -> Option<Kind> {
        KINDS.iter().find(|k| k.name == name)
    }
    /// The options this layer takes.
    pub fn options(&self) -> Vec<&'static str> {
        let act = (!self.activations.is_empty()).then_some("activation");
        let merge = self
            .wraps
            .then_some("merge")
            .or(self.attends.then_some("score"));
        let drop: &[&'static str] = if self.dropout_opts.0 {
            &["dropout", "recurrent_dropout"]
        } else {
            &[]
        };
        act.into_iter()
            .chain(merge)
            .chain(drop.iter().copied())
            .chain(self.flags.iter().map(|f| f.0))
            .collect()
    }
    /// Whether this is the layer called `name`.
    pub fn is(&self, name: &str) -> bool {
        self.name == name
    }
}

/// The layers `bidirectional` can wrap.
pub const WRAPPABLE: &[&str] = &["rnn", "lstm", "gru", "ln_rnn"];

/// `merge = ...`'s values, in the order of their codes (`rnn_core::layers::MERGE_*`).
pub const MERGES: &[&str] = &["concat", "sum", "mul", "ave"];

/// Every layer's name, for "did you mean".
pub fn names() -> Vec<&'static str> {
    KINDS.iter().map(|k| k.name).collect()
}

/// "`rnn`, `lstm`, `gru`, `dense`", for error messages.
pub fn listed() -> String {
    KINDS
        .iter()
        .map(|k| format!("`{}`", k.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every option any layer takes, to tell "does not apply here" from "unknown".
pub fn all_options() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = KINDS.iter().flat_map(|k| k.options()).collect();
    all.sort_unstable();
    all.dedup();
    all
}
