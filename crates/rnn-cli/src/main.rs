//! `rnn import FILE` and `rnn inspect FILE`; see the library's documentation.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
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

/// An RTNeural JSON file (either export).
fn is_json(bytes: &[u8]) -> bool {
    bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
        && !bytes.starts_with(&[0; 1])
        && serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
}

/// A Keras file: a `.keras` zip or an HDF5 `.weights.h5`.
fn is_keras(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK") || bytes.starts_with(b"\x89HDF\r\n\x1a\n")
}

fn run() -> Result<(), String> {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect { file, order } => {
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            if is_json(&bytes) {
                let text = String::from_utf8_lossy(&bytes);
                let (line, plan, _, _) = rnn_cli::rtneural::import(&text)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                println!(
                    "{}: an RTNeural JSON file\n\n{}",
                    file.display(),
                    rnn_cli::summary(&plan)
                );
                println!("model line: {line}");
                return Ok(());
            }
            if is_keras(&bytes) {
                let (plan, line, _) = rnn_cli::keras::import(&bytes)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                println!(
                    "{}: a Keras file\n\n{}",
                    file.display(),
                    rnn_cli::summary(&plan)
                );
                println!("model line: {line}");
                for n in &plan.notes {
                    println!("note: {n}");
                }
                return Ok(());
            }
            let list = rnn_cli::tensors(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
            println!("{}: {} tensors", file.display(), list.len());
            for t in &list {
                println!("  {:<40} {:<6} {:?}", t.name, t.dtype, t.shape);
            }
            let plan = rnn_cli::plan(&list, order.as_deref(), "tanh")
                .map_err(|e| format!("{}: {e}", file.display()))?;
            println!("\n{}", rnn_cli::summary(&plan));
            println!("model line: {}", rnn_cli::model_line(&plan, "tanh"));
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
            let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
            if is_json(&bytes) {
                let text = String::from_utf8_lossy(&bytes);
                let (line, plan, out_bytes, keras) = rnn_cli::rtneural::import(&text)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                std::fs::write(&out, out_bytes).map_err(|e| format!("{}: {e}", out.display()))?;
                let layout = if keras { "Keras" } else { "PyTorch" };
                println!("rnn_model! {{\n    pub struct {name} {{\n        {line}\n    }}\n}}");
                println!(
                    "// weights: {} ({layout} layout): rnn::files::load(&mut model, \"{}\", rnn::Layout::{layout})",
                    out.display(),
                    out.display()
                );
                for n in &plan.notes {
                    eprintln!("note: {n}");
                }
                return Ok(());
            }
            if is_keras(&bytes) {
                let (plan, line, out_bytes) = rnn_cli::keras::import(&bytes)
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                std::fs::write(&out, out_bytes).map_err(|e| format!("{}: {e}", out.display()))?;
                println!("rnn_model! {{\n    pub struct {name} {{\n        {line}\n    }}\n}}");
                println!(
                    "// weights: {} (Keras layout): rnn::files::load(&mut model, \"{}\", rnn::Layout::Keras)",
                    out.display(),
                    out.display()
                );
                for n in &plan.notes {
                    eprintln!("note: {n}");
                }
                return Ok(());
            }
            let list = rnn_cli::tensors(&bytes).map_err(|e| format!("{}: {e}", file.display()))?;
            let plan = rnn_cli::plan(&list, order.as_deref(), &rnn_activation)
                .map_err(|e| format!("{}: {e}", file.display()))?;
            let renamed = rnn_cli::renamed(&bytes, &plan).map_err(|e| format!("{e}"))?;
            std::fs::write(&out, renamed).map_err(|e| format!("{}: {e}", out.display()))?;
            let line = rnn_cli::model_line(&plan, &rnn_activation);
            println!("rnn_model! {{\n    pub struct {name} {{\n        {line}\n    }}\n}}");
            println!(
                "// weights: {} (PyTorch layout): rnn::files::load(&mut model, \"{}\", rnn::Layout::PyTorch)",
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
