//! Puts the board's `memory.x` on the linker search path (cortex-m-rt's `link.x` includes it).
//!
//! The board is chosen by the `RNN_BOARD` environment variable (default `mps2-an386`), one
//! folder per board under `boards/`. There must be no `memory.x` in the package root: the
//! linker would find that one first and silently use it.

use std::{env, fs, path::PathBuf};

fn main() {
    let board = env::var("RNN_BOARD").unwrap_or_else(|_| "mps2-an386".to_string());
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let src = manifest.join("boards").join(&board).join("memory.x");
    assert!(
        !manifest.join("memory.x").exists(),
        "remove {}: a memory.x in the package root silently wins over boards/{board}/memory.x",
        manifest.join("memory.x").display()
    );
    let memory = fs::read(&src).unwrap_or_else(|e| panic!("board {board}: {}: {e}", src.display()));
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    fs::write(out.join("memory.x"), memory).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=RNN_BOARD");
}
