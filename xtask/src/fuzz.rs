//! `cargo xtask fuzz [--seconds N] [target...]`: the cargo-fuzz targets of fuzz/ (the jute
//! frame decoder, the DIGEST-MD5 response, the JKS reader, client certificates), each for N
//! seconds (default 60), on the stable toolchain (RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass
//! its nightly flags). Installs cargo-fuzz with `cargo install` when it is missing. Seeds
//! come from the TLS test fixtures (DER through openssl); corpora and crashes stay under fuzz/ (git-ignored).
//! `cargo test` runs the bounded proptest counterparts (crates/*/tests/hostile_*.rs).

use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::runner::{probe, run_cmd, Runner};
use crate::Ctx;

const TARGETS: [&str; 4] = ["jute_frame", "sasl_digest_md5", "jks", "x509"];

pub fn command(args: &[String]) -> Result<bool> {
    let ctx = Ctx::new()?;
    let mut seconds = "60".to_string();
    let mut targets = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                let v = it.next().context("`--seconds` needs a value")?;
                if v.parse::<u32>().map_or(true, |n| n == 0) {
                    bail!("`--seconds` takes a positive integer, got `{v}`");
                }
                seconds = v.clone();
            }
            t if TARGETS.contains(&t) => targets.push(t),
            other => bail!("unknown fuzz target or option `{other}` (targets: {TARGETS:?})"),
        }
    }
    if targets.is_empty() {
        targets = TARGETS.to_vec();
    }
    let fuzz_dir = ctx.root.join("fuzz");
    let mut r = Runner::new("fuzz");
    let ready = r.step("cargo-fuzz", || {
        if probe(ctx.cargo().args(["fuzz", "--version"])) {
            return Ok(());
        }
        run_cmd(ctx.cargo().args(["install", "cargo-fuzz", "--locked"]))
    }) && r.step("seed corpora", || seed(&ctx.root, &fuzz_dir));
    if ready {
        for t in targets {
            r.step(&format!("fuzz {t} for {seconds} s"), || {
                run_cmd(
                    ctx.cargo()
                        .current_dir(&fuzz_dir)
                        .env("RUSTC_BOOTSTRAP", "1")
                        .args(["fuzz", "run", t, &format!("corpus/{t}")])
                        .args(["--", &format!("-max_total_time={seconds}")])
                        .arg("-rss_limit_mb=2048"),
                )
            });
        }
    }
    Ok(r.finish())
}

/// The TLS fixtures as DER certificates and JKS files, and one well-formed frame stream and
/// DIGEST-MD5 response, as starting points.
fn seed(root: &Path, fuzz_dir: &Path) -> Result<()> {
    let fixtures = root.join("crates/tls/tests/fixtures");
    let corpus = fuzz_dir.join("corpus");
    for t in TARGETS {
        std::fs::create_dir_all(corpus.join(t))?;
    }
    for entry in std::fs::read_dir(&fixtures)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if name.ends_with(".jks") {
            std::fs::copy(&path, corpus.join("jks").join(name))?;
        } else if name.ends_with(".pem") && !name.contains("key") {
            // Best effort: without openssl the x509 target starts from nothing.
            let _ = probe(
                std::process::Command::new("openssl")
                    .args(["x509", "-outform", "DER", "-in"])
                    .arg(&path)
                    .arg("-out")
                    .arg(corpus.join("x509").join(format!("{name}.der"))),
            );
        }
    }
    // A ConnectRequest frame, then getData("/a") (xid 1, op 4, no watch).
    let mut frames = vec![0, 0, 0, 45];
    frames.extend([0u8; 12]);
    frames.extend([0, 0, 0x75, 0x30]);
    frames.extend([0u8; 8]);
    frames.extend([0, 0, 0, 16]);
    frames.extend([0u8; 16]);
    frames.push(0);
    frames.extend([
        0, 0, 0, 15, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 2, b'/', b'a', 0,
    ]);
    std::fs::write(corpus.join("jute_frame/seed"), frames)?;
    std::fs::write(
        corpus.join("sasl_digest_md5/seed"),
        "username=\"bob\",realm=\"zk-sasl-md5\",nonce=\"abc\",nc=00000001,cnonce=\"xyz\",\
         digest-uri=\"zookeeper/zk-sasl-md5\",maxbuf=65536,\
         response=0123456789abcdef0123456789abcdef,qop=auth",
    )?;
    Ok(())
}
