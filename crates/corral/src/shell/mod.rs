//! `corral shell`: ZooKeeper's command-line client (zkCli 3.8) natively, for ZooKeeper and
//! Corral alike.
//!
//! ```text
//! corral shell [-server host:port[,host:port...][/chroot]] [-timeout ms] [-c "cmd; cmd"] [cmd args...]
//! ```
//!
//! The commands are the ones zkCli 3.8 lists for `help`, with zkCli's option syntax and its
//! output: what it prints on stdout and what on stderr, error texts, watch events, the
//! `history`/`redo` numbering and the exit status (that of the last command; 127 for an
//! unknown one). Input: a line editor with history on a terminal, otherwise stdin line by
//! line (as `zkCli.sh < script`); `-c` runs `;`-separated commands, and words after the
//! options run as one command, as zkCli does with them. The default server is
//! 127.0.0.1:2181.
//!
//! Where it differs from zkCli, on purpose:
//! - ctime/mtime are printed in UTC (zkCli uses the JVM's time zone; the same under TZ=UTC).
//! - `version` names Corral.
//! - A number zkCli parses unchecked (`set/delete/setAcl -v x`, `redo x`) kills zkCli with a
//!   stack trace; the shell prints the exception's first line and goes on.
//! - A line without words (a lone quote) does nothing; zkCli runs the previous command again.
//! - Connecting waits for the session (zkCli's `-waitforconnection`); without one, a
//!   non-interactive shell exits with status 1 and an interactive one says why and waits for
//!   `connect`. `-r` and `-client-configuration` are accepted and ignored.
//! - At the end of its input the shell closes its session without printing the `Closed`
//!   event; zkCli exits and leaves the session to expire.
//! - `deleteall` always reports a failed batch; zkCli sometimes misses it (its callback
//!   releases the semaphore before it records the failure).
//! - `removewatches` of several kinds prints data, persistent, child removal events in that
//!   order; zkCli's order is a HashMap's and varies from run to run.
//! - `config -c` lists a multi-server config's client addresses in the config's order (zkCli:
//!   a hash map's); `reconfig -file` sends the file's `server.`, `group.` and `weight.` lines
//!   as they are (zkCli parses and re-serialises them).
//! - Watch events are printed as they come, also over a line being typed (as zkCli does).
//!
//! Modules: `tokenize` (zkCli's word splitting), `options` (Commons CLI's option parsing),
//! `format` (Stat, dates, ACLs), `error` (messages, path checks), `session` (the command
//! loop), `watches` (zkCli's default watcher), `input` (stdin, line editor), and the commands
//! in `cmd_node`, `cmd_acl`, `cmd_watch`, `cmd_quota`, `cmd_admin`.

mod cmd_acl;
mod cmd_admin;
mod cmd_node;
mod cmd_quota;
mod cmd_watch;
mod error;
mod format;
mod input;
mod options;
mod output;
mod session;
mod tokenize;
mod watches;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use output::Out;
use session::Shell;

pub const USAGE: &str =
    "corral shell [-server host:port[,host:port...][/chroot]] [-timeout ms] [-c \"cmd; cmd\"] [cmd args...]";

/// What the command line asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Args {
    server: String,
    timeout_ms: u64,
    commands: Option<String>,
    command: Vec<String>,
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut out = Args {
        server: "127.0.0.1:2181".into(),
        timeout_ms: 30_000,
        commands: None,
        command: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("Error: no argument found for option {a}"))
        };
        match a.as_str() {
            "-server" => out.server = value()?,
            "-timeout" => {
                let v = value()?;
                out.timeout_ms = v
                    .parse()
                    .map_err(|_| format!("Error: -timeout needs milliseconds, not {v:?}"))?;
            }
            "-c" => out.commands = Some(value()?),
            // zkCli's options that change nothing here: the shell always waits for the
            // connection, and has no read-only mode or client properties.
            "-waitforconnection" | "-r" => {}
            "-client-configuration" => {
                value()?;
            }
            s if s.starts_with('-') => return Err(format!("Error: unknown option {s}")),
            _ => {
                out.command.push(a.clone());
                out.command.extend(it.by_ref().cloned());
            }
        }
    }
    if out.commands.is_some() && !out.command.is_empty() {
        return Err("Error: give commands either with -c or as words, not both".into());
    }
    Ok(out)
}

/// Runs `corral shell` with the arguments after `shell`.
pub fn run(args: &[String]) -> ExitCode {
    if args
        .iter()
        .any(|a| a == "-h" || a == "--help" || a == "-help")
    {
        println!("usage: {USAGE}");
        return ExitCode::SUCCESS;
    }
    let args = match parse_args(args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\nusage: {USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("corral shell: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let handle = runtime.handle().clone();
    // Everything runs as tasks of the one-thread runtime, so woken tasks run in order (see
    // watches.rs).
    let code =
        runtime.block_on(async move { tokio::spawn(shell_main(args, handle)).await.unwrap_or(1) });
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

async fn shell_main(args: Args, runtime: tokio::runtime::Handle) -> i32 {
    let out = Out;
    let mut sh = Shell::new(
        out.clone(),
        &args.server,
        Duration::from_millis(args.timeout_ms.max(1)),
    );
    let interactive =
        args.commands.is_none() && args.command.is_empty() && std::io::stdin().is_terminal();
    out.println(&format!("Connecting to {}", args.server));
    let connected = sh.connect(&args.server).await;
    if !connected && !interactive {
        return 1;
    }
    if let Some(cmds) = &args.commands {
        for cmd in tokenize::split_commands(cmds) {
            sh.execute_line(&cmd).await;
            if sh.quit {
                return sh.exit_code;
            }
        }
    } else if !args.command.is_empty() {
        sh.process(args.command.clone()).await;
        if sh.quit {
            return sh.exit_code;
        }
    } else if interactive {
        out.println("Welcome to ZooKeeper!");
        let mut editor = match input::Editor::start(sh.completion.clone(), runtime) {
            Ok(editor) => editor,
            Err(e) => {
                out.eprintln(&format!("corral shell: {e}"));
                return 1;
            }
        };
        while let Some(line) = editor.read(sh.prompt()).await {
            sh.execute_line(&line).await;
            if sh.quit {
                return sh.exit_code;
            }
        }
    } else {
        out.println("Welcome to ZooKeeper!");
        let mut lines = input::stdin_lines();
        while let Some(line) = lines.recv().await {
            sh.execute_line(&line).await;
            if sh.quit {
                return sh.exit_code;
            }
        }
    }
    sh.finish_quietly().await;
    sh.exit_code
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &[&str]) -> Result<Args, String> {
        parse_args(&s.iter().map(|x| x.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn command_line() {
        let d = a(&[]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (d.server.as_str(), d.timeout_ms),
            ("127.0.0.1:2181", 30_000)
        );
        let x = a(&["-server", "h:1,h:2/app", "ls", "-R", "/"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(x.server, "h:1,h:2/app");
        assert_eq!(x.command, ["ls", "-R", "/"]);
        let c = a(&["-c", "ls /; get /a", "-timeout", "5000"]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.commands.as_deref(), Some("ls /; get /a"));
        assert_eq!(c.timeout_ms, 5000);
        assert!(a(&["-server"]).is_err());
        assert!(a(&["-bogus"]).is_err());
        assert!(a(&["-c", "ls /", "get", "/a"]).is_err());
    }
}
