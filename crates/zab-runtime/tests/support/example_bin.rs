//! Where cargo put the `kv_grpc` example binary (tests that run it as real processes).

use std::path::{Path, PathBuf};

/// The example binary, built by `cargo test` next to this test's directory.
pub fn kv_grpc() -> PathBuf {
    let exe = std::env::current_exe().expect("test path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("examples");
    let bin = dir.join(format!("kv_grpc{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run with `cargo test --features grpc` (it builds the examples)",
        bin.display()
    );
    bin
}
