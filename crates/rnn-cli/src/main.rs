//! `rnn import FILE` and `rnn inspect FILE`; see the library's documentation.

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "rnn",
    about = "Bring a trained PyTorch model (a state_dict saved as safetensors) to rnn"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Prints the tensors and the model a file holds, Keras-like.
    Inspect {
        /// A PyTorch state_dict in safetensors, a Keras `.keras` / `.weights.h5` file, or an RTNeural JSON file.
        file: PathBuf,
        /// The modules first to last, when their widths allow more than one order.
        #[arg(long, value_delimiter = ',')]
        order: Option<Vec<String>>,
    },
    /// Prints the rnn_model! line for a file and writes its tensors under rnn's names.
    Import {
        /// A PyTorch state_dict in safetensors, a Keras `.keras` / `.weights.h5` file, or an RTNeural JSON file.
        file: PathBuf,
        /// Where to write the renamed tensors.
        #[arg(long, short)]
        out: PathBuf,
        /// The modules first to last, when their widths allow more than one order.
        #[arg(long, value_delimiter = ',')]
        order: Option<Vec<String>>,
        /// An nn.RNN's nonlinearity (not stored in a state_dict).
        #[arg(long, default_value = "tanh", value_parser = ["tanh", "relu"])]
        rnn_activation: String,
        /// The model's name in the printed declaration.
        #[arg(long, default_value = "Imported")]
        name: String,
    },
}

/// A safetensors file: an 8-byte header length `n` with the header (`{...}`) inside the file.
fn is_safetensors(bytes: &[u8]) -> bool {
    let Some(head) = bytes.get(..8) else {
        return false;
    };
    let n = u64::from_le_bytes(head.try_into().unwrap_or([0; 8]));
    n >= 2 && n <= bytes.len() as u64 - 8 && bytes[8] == b'{'
}

/// An RTNeural JSON file (either export): text starting with `{` (a safetensors file starts
/// with its 8-byte header length).
fn is_json(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// A Keras file: a `.keras` zip or an HDF5 `.weights.h5`.
fn is_keras(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK") || bytes.starts_with(b"\x89HDF\r\n\x1a\n")
}

/// What a file holds: the plan, its model line, the tensors under our names and their layout,
/// and what the file is.
fn read(
    file: &Path,
    order: Option<&[String]>,
    rnn_activation: &str,
) -> Result<(rnn_cli::Plan, String, Vec<u8>, &'static str, &'static str), String> {
    let bytes = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let at = |e: rnn_cli::ImportError| format!("{}: {e}", file.display());
    if !is_safetensors(&bytes) && is_json(&bytes) {
        let text = String::from_utf8_lossy(&bytes);
        let (line, plan, out, keras) =
            rnn_cli::rtneural::import_with(&text, order, rnn_activation).map_err(at)?;
        let layout = if keras { "Keras" } else { "PyTorch" };
        return Ok((plan, line, out, layout, "an RTNeural JSON file"));
    }
    if !is_safetensors(&bytes) && is_keras(&bytes) {
        let (plan, line, out) = rnn_cli::keras::import(&bytes).map_err(at)?;
        return Ok((plan, line, out, "Keras", "a Keras file"));
    }
    let list = rnn_cli::tensors(&bytes).map_err(at)?;
    let plan = rnn_cli::plan(&list, order, rnn_activation).map_err(at)?;
    let out = rnn_cli::renamed(&bytes, &plan).map_err(at)?;
    let line = rnn_cli::model_line(&plan, rnn_activation);
    Ok((plan, line, out, "PyTorch", "a PyTorch state_dict"))
}

fn run() -> Result<(), String> {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect { file, order } => {
            let (plan, line, _, _, what) = read(&file, order.as_deref(), "tanh")?;
            println!("{}: {what}\n\n{}", file.display(), rnn_cli::summary(&plan));
            println!("model line: {line}");
            for n in &plan.notes {
                println!("note: {n}");
            }
        }
        Command::Import {
            file,
            out,
            order,
            rnn_activation,
            name,
        } => {
            let (plan, line, bytes, layout, _) = read(&file, order.as_deref(), &rnn_activation)?;
            std::fs::write(&out, bytes).map_err(|e| format!("{}: {e}", out.display()))?;
            println!("rnn_model! {{\n    pub struct {name} {{\n        {line}\n    }}\n}}");
            println!(
                "// weights: {} ({layout} layout): rnn::files::load(&mut model, \"{}\", rnn::Layout::{layout})",
                out.display(),
                out.display()
            );
            for n in &plan.notes {
                eprintln!("note: {n}");
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rnn: {e}");
            ExitCode::FAILURE
        }
    }
}
