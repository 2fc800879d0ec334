//! Compiles `harness.cpp` twice against RTNeural's headers, with the flags of RTNeural's CMake
//! Release build (Eigen backend):
//!
//! - `x86_64`: `-march=x86-64 -DRTNEURAL_DEFAULT_ALIGNMENT=16` (SSE2, RTNeural's default);
//! - `native`: `-march=native -DRTNEURAL_DEFAULT_ALIGNMENT=32` (what its `RTNEURAL_USE_AVX`
//!   option sets);
//!
//! both `-O3 -DNDEBUG -std=gnu++17 -DRTNEURAL_USE_EIGEN=1 -DRTNEURAL_NAMESPACE=RTNeural`.
//! Each copy gets its own C symbols (`rtn_x86_64_*`, `rtn_native_*`) and its own C++ namespaces
//! (see the top of `harness.cpp`), so the two can be linked into one binary.
//!
//! RTNeural is found at `../../../shared/peers/rtneural` relative to this crate, or at
//! `$RTNEURAL_DIR`. The C++ compiler is `$CXX`, else `g++`. The C++ flags do not follow
//! `RUSTFLAGS` (`inherit_rustflags(false)`): both builds of our side link the same RTNeural.

use std::env;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-env-changed=RTNEURAL_DIR");
    println!("cargo:rerun-if-env-changed=CXX");
    println!("cargo:rerun-if-changed=harness.cpp");
    let dir = match env::var_os("RTNEURAL_DIR") {
        Some(d) => PathBuf::from(d),
        None => manifest.join("../../../shared/peers/rtneural"),
    };
    let header = dir.join("RTNeural/RTNeural.h");
    if !header.is_file() {
        panic!(
            "RTNeural's headers not found: {} does not exist. Set RTNEURAL_DIR to the folder \
             that holds RTNeural/ and modules/ (Eigen, json).",
            header.display()
        );
    }
    println!("cargo:rerun-if-changed={}", dir.join("RTNeural").display());
    // What our side is built with, for the report.
    let rustflags = env::var("CARGO_ENCODED_RUSTFLAGS")
        .unwrap_or_default()
        .replace('\x1f', " ");
    println!("cargo:rustc-env=RTNEURAL_BENCH_RUSTFLAGS={rustflags}");
    let cxx = env::var("CXX").unwrap_or_else(|_| "g++".to_string());

    for (variant, march, align) in [("x86_64", "x86-64", "16"), ("native", "native", "32")] {
        let mut b = cc::Build::new();
        b.cpp(true)
            .compiler(&cxx)
            .inherit_rustflags(false)
            // RTNeural's CMake Release build: no debug info, frame pointers omitted at -O3 (cc
            // would add -g and -fno-omit-frame-pointer when the profile has debug info).
            .debug(false)
            .force_frame_pointer(false)
            .warnings(false)
            .extra_warnings(false)
            .file("harness.cpp")
            .include(&dir)
            .include(dir.join("modules/Eigen"))
            .include(dir.join("modules/json"))
            .flag("-std=gnu++17")
            .flag("-O3")
            .flag(format!("-march={march}"))
            .define("NDEBUG", None)
            .define("RTNEURAL_DEFAULT_ALIGNMENT", align)
            .define("RTNEURAL_USE_EIGEN", "1")
            .define("RTNEURAL_NAMESPACE", "RTNeural")
            .define("HARNESS_VARIANT", variant);
        // The command line as cc will run it, minus the file and the include folders (which
        // name this machine's paths), printed by the benchmark.
        let tool = b.get_compiler();
        let mut args: Vec<String> = Vec::new();
        let mut skip = false;
        for a in tool.args() {
            let a = a.to_string_lossy();
            if skip {
                skip = false;
            } else if a == "-I" {
                skip = true;
            } else if !a.starts_with("-I") {
                args.push(a.into_owned());
            }
        }
        println!(
            "cargo:rustc-env=RTNEURAL_CXXFLAGS_{}={} {}",
            variant.to_uppercase(),
            tool.path().display(),
            args.join(" ")
        );
        b.compile(&format!("rtneural_{variant}"));
    }
}
