//! `corral`: the Corral server binary.
//!
//! - `corral server [path/to/zoo.cfg]` starts a standalone server: with a config file as its
//!   one positional argument (as ZooKeeper's QuorumPeerMain takes it), or with none on
//!   Corral's embedded default (127.0.0.1:2181, data under ./corral-data).
//! - `corral log dump [--json] <log.N>` and `corral snapshot dump [--json] <snapshot.N>` print
//!   a txn log segment (Corral's or ZooKeeper's) or a snapshot readably.
//! - Operator tools, as ZooKeeper's: `corral snapshot summary <snapshot> <path> <depth>`
//!   (zkSnapshotRecursiveSummaryToolkit, summary.rs), `corral snapshot compare -l -r -b -n`
//!   (zkSnapshotComparer, compare.rs), on either server's snapshots (snaptree.rs);
//!   `corral log truncate --zxid Z | --offset O [--yes]` cuts a Corral log (logtool.rs),
//!   `corral log recover <log.N>` fixes a ZooKeeper log's checksums (zklog.rs).
//! - `corral import --from <ZooKeeper dataDir> --to <Corral dataDir>` and `corral export
//!   --from <Corral dataDir> --to <ZooKeeper dataDir>` move data from and back to Apache
//!   ZooKeeper (import.rs, export.rs).
//! - `corral shell [-server host:port[/chroot]] [-c "cmd; cmd"]` is ZooKeeper's command-line
//!   client (zkCli 3.8's commands and output), for Corral and ZooKeeper alike.
//! - `corral completions <bash|zsh|fish|elvish|powershell>` prints a shell completion script.
//!
//! The command line is parsed by clap (cli.rs): `--help` on every subcommand, and a usage
//! error exits with code 2. `corral shell`'s own options keep zkCli's single-dash syntax
//! (`-server`, `-timeout`, `-c`), which clap does not express: clap hands them through as
//! trailing arguments and the shell parses them as zkCli does.

mod cli;
mod cluster;
mod compare;
mod export;
mod import;
mod inspect;
mod logtool;
mod shell;
mod snaptree;
mod summary;
#[cfg(test)]
mod tools_tests;
mod zklog;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Command, DumpArgs, LogAction, SnapshotAction};
use corral_server::{Server, ServerConfig};

fn main() -> ExitCode {
    // Usage errors print clap's message and exit with code 2; --help and --version exit 0.
    let result = match Cli::parse().command {
        // The shell's output is zkCli's: no log lines on stderr.
        Command::Shell { args } => return shell::run(&args),
        Command::Completions { shell } => {
            cli::write_completions(shell, &mut std::io::stdout());
            return ExitCode::SUCCESS;
        }
        Command::Server { config } => {
            init_logging();
            serve(config)
        }
        Command::Log { action } => {
            init_logging();
            match action {
                LogAction::Dump(DumpArgs { json, file }) => match zklog::is_zookeeper_log(&file) {
                    Ok(true) => zklog::dump(&file, json),
                    Ok(false) => inspect::log_dump(&file, json),
                    Err(e) => Err(e),
                },
                LogAction::Truncate(options) => logtool::truncate(&options),
                LogAction::Recover { file } => zklog::recover(&file),
            }
        }
        Command::Snapshot { action } => {
            init_logging();
            match action {
                SnapshotAction::Dump(DumpArgs { json, file }) => {
                    inspect::snapshot_dump(&file, json)
                }
                SnapshotAction::Summary(options) => summary::run(&options),
                SnapshotAction::Compare(options) => compare::run(&options),
            }
        }
        Command::Cluster(options) => {
            init_logging();
            cluster::run(&options)
        }
        Command::Import(options) => {
            init_logging();
            import::run(&options)
        }
        Command::Export(options) => {
            init_logging();
            export::run(&options)
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

/// Writes a tool's text to stdout (a closed pipe is not a failure: see `main`).
pub(crate) fn print_out(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Log lines on stderr, filtered by RUST_LOG (default info).
fn init_logging() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
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
        let ensemble = config.ensemble.is_some();
        let server = Server::bind(config).await?;
        let addr = server.local_addr().context("reading the bound address")?;
        tracing::info!(
            "Corral {} serving {} on {addr}",
            env!("CARGO_PKG_VERSION"),
            if ensemble {
                "as an ensemble member"
            } else {
                "standalone"
            }
        );
        server
            .run(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
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
