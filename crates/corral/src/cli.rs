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
    /// Txn log tools (Corral's segments and Apache ZooKeeper's log files), as zkTxnLogToolkit.
    Log {
        #[command(subcommand)]
        action: LogAction,
    },
    /// Snapshot tools (Corral's and Apache ZooKeeper's snapshot files).
    Snapshot {
        #[command(subcommand)]
        action: SnapshotAction,
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

/// What `corral log` does.
#[derive(Debug, Subcommand)]
pub enum LogAction {
    /// Print every txn readably, one per line (a Corral segment or a ZooKeeper log.N).
    Dump(DumpArgs),
    /// Cut a Corral log at a zxid or a record boundary (a damaged tail that stops a start).
    ///
    /// Everything after the cut goes: the rest of the segment (its bytes kept in a side
    /// file), newer segments and snapshots above the cut (renamed *.removed). Without --yes
    /// it only prints what it would remove. Run it on a stopped server's files. On a
    /// ZooKeeper log file, --zxid writes <log>.chopped<zxid> (TxnLogToolkit --chop).
    Truncate(crate::logtool::TruncateOptions),
    /// Write <log>.fixed with every bad Adler-32 recomputed (ZooKeeper's log, as
    /// TxnLogToolkit --recover --yes); the original stays as it is.
    Recover {
        /// ZooKeeper's log file (version-2/log.N)
        file: PathBuf,
    },
}

/// What `corral snapshot` does.
#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// Print every znode and session readably (a Corral snapshot).
    Dump(DumpArgs),
    /// Per znode, the znodes and data bytes below it, as a tree (zkSnapshotRecursiveSummaryToolkit).
    Summary(crate::summary::SummaryOptions),
    /// Compare two snapshots depth by depth (zkSnapshotComparer; no -interactive mode).
    Compare(crate::compare::CompareOptions),
}

/// `dump`'s arguments.
#[derive(Debug, clap::Args)]
pub struct DumpArgs {
    /// One JSON object per record instead of text
    #[arg(long)]
    pub json: bool,
    /// The file to read
    pub file: PathBuf,
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
                Command::Log { action: LogAction::Dump(DumpArgs { json: true, ref file }) } if file == &PathBuf::from("log.1")
            ));
        }
    }

    #[test]
    fn the_tools_take_zookeepers_arguments() {
        let cli = Cli::try_parse_from(["corral", "snapshot", "summary", "snapshot.1", "/", "0"])
            .expect("parses");
        let Command::Snapshot {
            action: SnapshotAction::Summary(s),
        } = cli.command
        else {
            panic!("not a summary");
        };
        assert_eq!((s.starting_node.as_str(), s.max_depth), ("/", 0));
        let argv = [
            "corral", "snapshot", "compare", "-l", "a", "-r", "b", "-b", "2", "-n", "1", "-d",
        ];
        let cli = Cli::try_parse_from(argv).expect("parses");
        let Command::Snapshot {
            action: SnapshotAction::Compare(c),
        } = cli.command
        else {
            panic!("not a compare");
        };
        assert_eq!((c.bytes, c.nodes, c.debug), (2, 1, true));
        let argv = ["corral", "log", "truncate", "--zxid", "0x1f", "dir"];
        let cli = Cli::try_parse_from(argv).expect("parses");
        let Command::Log {
            action: LogAction::Truncate(t),
        } = cli.command
        else {
            panic!("not a truncate");
        };
        assert_eq!((t.zxid, t.offset, t.yes), (Some(0x1f), None, false));
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
            &["corral", "log", "truncate", "dir"],
            &[
                "corral", "log", "truncate", "--zxid", "1", "--offset", "16", "log.1",
            ],
            &["corral", "snapshot", "summary", "snapshot.1", "/"],
            &[
                "corral", "snapshot", "compare", "-l", "a", "-r", "b", "-b", "1",
            ],
        ] {
            let err = Cli::try_parse_from(argv).expect_err("usage error");
            assert_eq!(err.exit_code(), 2, "{argv:?}: {err}");
        }
    }
}
