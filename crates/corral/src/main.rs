//! `corral`: the Corral server binary.
//!
//! - `corral server [path/to/zoo.cfg]` starts a standalone server: with a config file as its
//!   one positional argument (as ZooKeeper's QuorumPeerMain takes it), or with none on
//!   Corral's embedded default (127.0.0.1:2181, data under ./corral-data).
//! - `corral log dump [--json] <log.N>` and `corral snapshot dump [--json] <snapshot.N>` print
//!   a txn log segment or a snapshot readably.
//! - `corral import --from <ZooKeeper dataDir> --to <Corral dataDir>` and `corral export
//!   --from <Corral dataDir> --to <ZooKeeper dataDir>` move data from and back to Apache
//!   ZooKeeper (import.rs, export.rs).
//! - `corral shell [-server host:port[/chroot]] [-c "cmd; cmd"]` is ZooKeeper's command-line
//!   client (zkCli 3.8's commands and output), for Corral and ZooKeeper alike.

mod export;
mod import;
mod inspect;
mod shell;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use corral_server::{Server, ServerConfig};

const USAGE: &str = "usage:
  corral server [path/to/zoo.cfg]
  corral log dump [--json] <dataLogDir/version-2/log.N>
  corral snapshot dump [--json] <dataDir/version-2/snapshot.N>
  corral import --from <ZooKeeper dataDir> [--from-log <dataLogDir>] --to <Corral dataDir> [--to-log <dataLogDir>] [--no-verify-digests]
  corral export --from <Corral dataDir> [--from-log <dataLogDir>] --to <ZooKeeper dataDir> [--compression none|gz|snappy]
  corral shell [-server host:port[,host:port...][/chroot]] [-timeout ms] [-c \"cmd; cmd\"] [cmd args...]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("shell") {
        // The shell's output is zkCli's: no log lines on stderr.
        return shell::run(&args[1..]);
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let result = match args.first().map(String::as_str) {
        Some("server") if args.len() <= 2 => serve(args.get(1).map(PathBuf::from)),
        Some(kind @ ("log" | "snapshot")) if args.get(1).map(String::as_str) == Some("dump") => {
            let rest = &args[2..];
            let json = rest.iter().any(|a| a == "--json");
            let files: Vec<&String> = rest.iter().filter(|a| *a != "--json").collect();
            match files.as_slice() {
                [file] if kind == "log" => inspect::log_dump(&PathBuf::from(file), json),
                [file] => inspect::snapshot_dump(&PathBuf::from(file), json),
                _ => {
                    eprintln!("{USAGE}");
                    return ExitCode::from(2);
                }
            }
        }
        Some("import") => import::ImportOptions::parse(&args[1..]).and_then(|o| import::run(&o)),
        Some("export") => export::ExportOptions::parse(&args[1..]).and_then(|o| export::run(&o)),
        Some("-h") | Some("--help") | Some("help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // `corral log dump ... | head` closing the pipe is not a failure.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("corral: {}", render_error(&e));
            ExitCode::FAILURE
        }
    }
}

fn serve(config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let config = match &config_path {
        Some(path) => ServerConfig::load(path)?,
        None => ServerConfig::default(),
    };
    for (line, what) in &config.ignored {
        tracing::warn!("zoo.cfg line {line}: ignoring {what}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime.block_on(async move {
        let server = Server::bind(config).await?;
        let addr = server.local_addr().context("reading the bound address")?;
        tracing::info!(
            "Corral {} serving standalone on {addr}",
            env!("CARGO_PKG_VERSION")
        );
        server
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await;
        tracing::info!("shut down");
        Ok(())
    })
}

/// An error and its causes on one line, skipping a cause whose text its parent already shows
/// (some errors print their source as part of their own message).
fn render_error(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}
