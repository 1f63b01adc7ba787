//! Link settings for every crate whose binaries or tests load libtorch.
//!
//! `models`, `train` and `sweep` all point their `build` key at this one file.
//! Cargo passes `rustc-link-arg` only to the binaries and tests of the package
//! whose build script printed it, so each of those packages runs it for its own
//! executables. It needs a direct `torch-sys` dependency: that is what makes
//! Cargo hand over `DEP_TCH_LIBTORCH_LIB` (torch-sys declares `links = "tch"`).
//!
//! Two things are fixed here:
//! - a RUNPATH (new dtags) to the libtorch lib directory, so executables run
//!   with `LD_LIBRARY_PATH` unset, while `LD_LIBRARY_PATH` can still point
//!   them at another libtorch (RUNPATH is searched after it, RPATH before);
//! - `libtorch_cuda` is linked with `--no-as-needed`: no symbol of it is used
//!   directly, so the default `--as-needed` would drop it and tch would then
//!   report no CUDA even on a GPU machine.

use std::env;
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=DEP_TCH_LIBTORCH_LIB");
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os != "linux" {
        return;
    }
    let Some(libtorch_lib) = env::var_os("DEP_TCH_LIBTORCH_LIB").map(PathBuf::from) else {
        println!(
            "cargo:warning=torch-sys did not report its libtorch lib directory; executables will need LD_LIBRARY_PATH"
        );
        return;
    };
    // Tests check the RUNPATH against this directory.
    println!(
        "cargo:rustc-env=SONGVAE_LIBTORCH_LIB={}",
        libtorch_lib.display()
    );
    println!("cargo:rustc-link-arg=-Wl,--enable-new-dtags");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", libtorch_lib.display());
    if libtorch_lib.join("libtorch_cuda.so").exists() {
        println!("cargo:rustc-link-arg=-Wl,--no-as-needed");
        println!("cargo:rustc-link-arg=-Wl,-L{}", libtorch_lib.display());
        println!("cargo:rustc-link-arg=-ltorch_cuda");
        println!("cargo:rustc-link-arg=-Wl,--as-needed");
    }
}
