//! A Keras-like table of a model's layers, output shapes and parameter counts.

use rnn_core::{LayerInfo, Model};

fn thousands(n: usize) -> String {
    let s = format!("{n}");
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `M::summary()`: the table of any model, as [`table`] writes it.
pub trait Summary: Model {
    /// A Keras-like table of the layers, output shapes and parameter counts.
    fn summary() -> String {
        table(
            Self::NAME,
            Self::LAYERS,
            Self::PARAM_COUNT,
            core::mem::size_of::<Self::Scalar>(),
        )
    }
}

impl<M: Model> Summary for M {}

/// A Keras-like summary table.
pub fn table(name: &str, layers: &[LayerInfo], total: usize, scalar_bytes: usize) -> String {
    let mut s = format!("Model: \"{name}\"\n");
    let rule = "─".repeat(68);
    s += &format!(
        "{rule}\n{:<30}{:<24}{:>14}\n{}\n",
        "Layer (type)",
        "Output Shape",
        "Param #",
        "═".repeat(68)
    );
    for l in layers {
        s += &format!(
            "{:<30}{:<24}{:>14}\n",
            format!("{} ({})", l.name, l.class),
            format!("(None, None, {})", l.units),
            thousands(l.params)
        );
    }
    let bytes = total * scalar_bytes;
    s += &format!(
        "{rule}\n Total params: {} ({:.2} KB)\n Trainable params: {} ({:.2} KB)\n Non-trainable params: 0 (0.00 B)\n",
        thousands(total),
        bytes as f64 / 1024.0,
        thousands(total),
        bytes as f64 / 1024.0
    );
    s
}
