//! Named steps with wall times, and running commands.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

enum Outcome {
    Passed,
    Failed(String),
    Skipped(String),
}

/// Runs named steps, printing each one's name and wall time, and a summary.
pub struct Runner {
    task: &'static str,
    started: Instant,
    steps: Vec<(String, Duration, Outcome)>,
}

impl Runner {
    pub fn new(task: &'static str) -> Self {
        Runner {
            task,
            started: Instant::now(),
            steps: Vec::new(),
        }
    }

    /// Run one step; true if it succeeded.
    pub fn step(&mut self, name: &str, f: impl FnOnce() -> Result<()>) -> bool {
        let n = self.steps.len() + 1;
        println!("\n==> [{n}] {name}");
        let start = Instant::now();
        let result = f();
        let took = start.elapsed();
        let ok = result.is_ok();
        let outcome = match result {
            Ok(()) => {
                println!("<== [{n}] {name}: ok ({})", secs(took));
                Outcome::Passed
            }
            Err(e) => {
                let msg = format!("{e:#}");
                println!("<== [{n}] {name}: FAILED ({}): {msg}", secs(took));
                Outcome::Failed(msg)
            }
        };
        self.steps.push((name.to_string(), took, outcome));
        ok
    }

    pub fn skip(&mut self, name: &str, why: &str) {
        let n = self.steps.len() + 1;
        println!("\n==> [{n}] {name}: skipped ({why})");
        self.steps.push((
            name.to_string(),
            Duration::ZERO,
            Outcome::Skipped(why.into()),
        ));
    }

    /// Print the summary; true if no step failed.
    pub fn finish(self) -> bool {
        let failed = self
            .steps
            .iter()
            .filter(|(_, _, o)| matches!(o, Outcome::Failed(_)))
            .count();
        println!("\n==> xtask {} summary", self.task);
        for (name, took, outcome) in &self.steps {
            let (status, detail) = match outcome {
                Outcome::Passed => ("ok", String::new()),
                Outcome::Failed(msg) => ("FAILED", format!("  {}", first_line(msg))),
                Outcome::Skipped(why) => ("skipped", format!("  ({why})")),
            };
            println!("  {status:<8} {:>8}  {name}{detail}", secs(*took));
        }
        let total = secs(self.started.elapsed());
        if failed == 0 {
            println!("xtask {}: all steps passed in {total}", self.task);
        } else {
            println!(
                "xtask {}: {failed} step(s) FAILED (total {total})",
                self.task
            );
        }
        failed == 0
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// Describe a command as a shell-like line.
pub fn cmd_line(cmd: &Command) -> String {
    let mut parts = Vec::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            parts.push(format!("{}={}", k.to_string_lossy(), v.to_string_lossy()));
        }
    }
    parts.push(cmd.get_program().to_string_lossy().into_owned());
    parts.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    parts.join(" ")
}

/// Run a command with inherited stdio; an error unless it exits with 0.
pub fn run_cmd(cmd: &mut Command) -> Result<()> {
    let line = cmd_line(cmd);
    println!("+ {line}");
    let status = cmd
        .status()
        .with_context(|| format!("could not run `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Run a command quietly; true if it ran and exited with 0.
pub fn probe(cmd: &mut Command) -> bool {
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
