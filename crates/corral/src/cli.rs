//! `corral`'s command line, declared for clap: one subcommand per tool, `--help` on each.
//!
//! New tools (import, export, operator commands) are new variants of [`Command`].

use std::path::PathBuf;

use clap::{CommandFactory, Parser, Subcommand};

/// Corral: a ZooKeeper-compatible coordination service.
#[derive(Debug, Parser)]
#[command(name = "corral", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a server: standalone, or an ensemble member when zoo.cfg lists `server.N` lines.
    ///
    /// With a zoo.cfg as the one argument, as ZooKeeper's QuorumPeerMain takes it; with none,
    /// on the embedded default (standalone, 127.0.0.1:2181, data under ./corral-data).
    Server {
        /// ZooKeeper's config file (zoo.cfg format)
        config: Option<PathBuf>,
    },
    /// Run a pseudo-cluster: N servers on 127.0.0.1, one directory each, until Ctrl-C.
    Cluster(crate::cluster::ClusterOptions),
    /// Read a txn log segment (dataLogDir/version-2/log.N).
    Log {
        #[command(subcommand)]
        action: Dump,
    },
    /// Read a snapshot file (dataDir/version-2/snapshot.N).
    Snapshot {
        #[command(subcommand)]
        action: Dump,
    },
    /// ZooKeeper's command-line client (zkCli 3.8's commands and output).
    ///
    /// Takes zkCli's own options, single-dash as zkCli spells them:
    /// corral shell [-server host:port[,host:port...][/chroot]] [-timeout ms] [-c "cmd; cmd"] [cmd args...]
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Shell {
        /// zkCli's options and an optional command (`corral shell -help` shows them)
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            num_args = 0..,
            value_name = "ZKCLI ARGS"
        )]
        args: Vec<String>,
    },
    /// Import an Apache ZooKeeper dataDir (snapshots, logs) into a new Corral dataDir.
    Import(crate::import::ImportOptions),
    /// Export a Corral dataDir as an Apache ZooKeeper 3.8 dataDir that ZooKeeper starts from.
    Export(crate::export::ExportOptions),
    /// Print a completion script for a shell (e.g. `corral completions bash > /etc/bash_completion.d/corral`).
    Completions {
        /// The shell to complete in
        shell: clap_complete::Shell,
    },
}

/// What `corral log` and `corral snapshot` do with a file.
#[derive(Debug, Subcommand)]
pub enum Dump {
    /// Print every record readably, one per line.
    Dump {
        /// One JSON object per record instead of text
        #[arg(long)]
        json: bool,
        /// The file to read
        file: PathBuf,
    },
}

/// Writes `corral`'s completion script for `shell` to `out`.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    clap_complete::generate(shell, &mut Cli::command(), "corral", out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declaration_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn shell_arguments_pass_through_in_zkclis_syntax() {
        let cli = Cli::try_parse_from([
            "corral", "shell", "-server", "h:1/r", "-c", "ls /", "--help",
        ])
        .expect("parses");
        match cli.command {
            Command::Shell { args } => {
                assert_eq!(args, ["-server", "h:1/r", "-c", "ls /", "--help"]);
            }
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn dump_takes_json_before_or_after_the_file() {
        for argv in [
            ["corral", "log", "dump", "--json", "log.1"],
            ["corral", "log", "dump", "log.1", "--json"],
        ] {
            let cli = Cli::try_parse_from(argv).expect("parses");
            assert!(matches!(
                cli.command,
                Command::Log { action: Dump::Dump { json: true, ref file } } if file == &PathBuf::from("log.1")
            ));
        }
    }

    #[test]
    fn usage_errors_are_errors() {
        for argv in [
            &["corral"][..],
            &["corral", "bogus"],
            &["corral", "log", "dump"],
            &["corral", "snapshot", "dump", "a", "b"],
            &["corral", "server", "a.cfg", "b.cfg"],
            &["corral", "log", "dump", "--jsn", "x"],
        ] {
            let err = Cli::try_parse_from(argv).expect_err("usage error");
            assert_eq!(err.exit_code(), 2, "{argv:?}: {err}");
        }
    }
}
