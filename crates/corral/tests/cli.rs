//! `corral`'s command line as a user meets it: help per subcommand, exit code 2 on usage
//! errors, `corral shell` taking zkCli's own options, completion scripts.

use std::process::Command;

fn corral(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_corral"))
        .args(args)
        .output()
        .expect("run corral");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_subcommand_has_help() {
    let (code, out, _) = corral(&["--help"]);
    assert_eq!(code, 0);
    for sub in ["server", "log", "snapshot", "shell", "completions"] {
        assert!(out.contains(sub), "{sub} missing from:\n{out}");
    }
    for args in [
        &["server", "--help"][..],
        &["log", "dump", "--help"],
        &["snapshot", "dump", "--help"],
        &["snapshot", "summary", "--help"],
        &["snapshot", "compare", "--help"],
        &["log", "truncate", "--help"],
        &["log", "recover", "--help"],
        &["help", "shell"],
        &["completions", "--help"],
    ] {
        let (code, out, err) = corral(args);
        assert_eq!(code, 0, "{args:?}: {err}");
        assert!(out.contains("Usage: corral"), "{args:?}:\n{out}");
    }
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    for (args, says) in [
        (&[][..], "Usage: corral <COMMAND>"),
        (&["sever"], "unrecognized subcommand 'sever'"),
        (&["log", "dump"], "required arguments were not provided"),
        (&["log", "dump", "a", "b"], "unexpected argument 'b'"),
        (&["server", "a.cfg", "b.cfg"], "unexpected argument 'b.cfg'"),
        (
            &["snapshot", "dump", "--jsn", "f"],
            "unexpected argument '--jsn'",
        ),
    ] {
        let (code, out, err) = corral(args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn shell_keeps_zkclis_option_syntax() {
    let (code, out, _) = corral(&["shell", "-help"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("usage: corral shell [-server"), "{out}");
    let (code, _, err) = corral(&["shell", "-server"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no argument found for option -server"),
        "{err}"
    );
    let (code, _, err) = corral(&["shell", "-bogus"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown option -bogus"), "{err}");
}

#[test]
fn completion_scripts_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = corral(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(
            out.contains("snapshot") && out.contains("completions"),
            "{shell}"
        );
    }
    let (code, _, err) = corral(&["completions", "tcsh"]);
    assert_eq!(code, 2, "{err}");
}
