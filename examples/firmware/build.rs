//! Picks the board from the target (`cfg(board = ...)`, see src/board.rs)
//! and puts its memory map where cortex-m-rt's link.x finds it.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap());
    let target = env::var("TARGET").unwrap_or_default();
    let (board, memory) = if target.starts_with("thumbv6m") {
        ("microbit", "memory-microbit.x")
    } else {
        ("mps2", "memory-mps2.x")
    };
    fs::copy(memory, out.join("memory.x")).unwrap();
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-check-cfg=cfg(board, values(\"mps2\", \"microbit\"))");
    println!("cargo:rustc-cfg=board=\"{board}\"");
    println!("cargo:rerun-if-changed=memory-mps2.x");
    println!("cargo:rerun-if-changed=memory-microbit.x");
}
