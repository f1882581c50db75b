//! Where command lines come from: stdin read on its own thread (not a terminal), or a line
//! editor on a terminal (rustyline: line editing, in-memory history, completion of command
//! names and znode paths as zkCli's JLine completer does it).

use std::io::BufRead;
use std::sync::{mpsc as std_mpsc, Arc, Mutex};
use std::time::Duration;

use corral_client::Client;
use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};
use tokio::sync::mpsc;

use super::session::COMMANDS;

/// Reads stdin line by line on a thread; the channel closes at the end of the input.
pub fn stdin_lines() -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match stdin.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let mut line = String::from_utf8_lossy(&buf).into_owned();
                    if line.ends_with('\n') {
                        line.pop();
                        if line.ends_with('\r') {
                            line.pop();
                        }
                    }
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            }
        }
    });
    rx
}

/// The client completions are looked up with (set while a session is open).
pub type CompletionClient = Arc<Mutex<Option<Client>>>;

/// A line editor on its own thread: each `read` hands it a prompt and waits for a line.
pub struct Editor {
    prompts: std_mpsc::Sender<String>,
    lines: mpsc::UnboundedReceiver<Option<String>>,
}

impl Editor {
    /// Starts the editor.
    pub fn start(
        client: CompletionClient,
        runtime: tokio::runtime::Handle,
    ) -> Result<Editor, String> {
        let (prompts, prompt_rx) = std_mpsc::channel::<String>();
        let (line_tx, lines) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std_mpsc::channel();
        std::thread::spawn(move || {
            let mut rl = match rustyline::Editor::<ShellHelper, DefaultHistory>::new() {
                Ok(rl) => rl,
                Err(e) => {
                    let _ = ready_tx.send(Err(e.to_string()));
                    return;
                }
            };
            rl.set_helper(Some(ShellHelper { client, runtime }));
            if ready_tx.send(Ok(())).is_err() {
                return;
            }
            while let Ok(prompt) = prompt_rx.recv() {
                let line = loop {
                    match rl.readline(&prompt) {
                        Ok(line) => break Some(line),
                        // Ctrl-C drops the line being typed, as a shell does.
                        Err(ReadlineError::Interrupted) => continue,
                        Err(_) => break None,
                    }
                };
                if let Some(l) = line.as_deref().filter(|l| !l.trim().is_empty()) {
                    let _ = rl.add_history_entry(l);
                }
                if line_tx.send(line).is_err() {
                    break;
                }
            }
        });
        ready_rx
            .recv()
            .map_err(|_| "the line editor did not start".to_string())??;
        Ok(Editor { prompts, lines })
    }

    /// The next line, or `None` at the end of input (Ctrl-D).
    pub async fn read(&mut self, prompt: String) -> Option<String> {
        self.prompts.send(prompt).ok()?;
        self.lines.recv().await.flatten()
    }
}

struct ShellHelper {
    client: CompletionClient,
    runtime: tokio::runtime::Handle,
}

impl ShellHelper {
    /// The children of `dir`, asked of the server with a short time limit.
    fn children(&self, dir: &str) -> Vec<String> {
        let client = match self.client.lock() {
            Ok(c) => c.clone(),
            Err(_) => None,
        };
        let Some(client) = client else {
            return Vec::new();
        };
        let (tx, rx) = std_mpsc::channel();
        let dir = dir.to_string();
        self.runtime.spawn(async move {
            let got = tokio::time::timeout(Duration::from_secs(2), client.get_children(&dir)).await;
            let _ = tx.send(got.ok().and_then(Result::ok).unwrap_or_default());
        });
        rx.recv_timeout(Duration::from_secs(3)).unwrap_or_default()
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        let start = before.rfind(' ').map_or(0, |i| i + 1);
        let token = &before[start..];
        let pair = |s: String| Pair {
            display: s.clone(),
            replacement: s,
        };
        if before[..start].trim().is_empty() {
            let names = COMMANDS
                .iter()
                .filter(|(c, _)| c.starts_with(token))
                .map(|(c, _)| pair(format!("{c} ")))
                .collect();
            return Ok((start, names));
        }
        if !token.starts_with('/') {
            return Ok((start, Vec::new()));
        }
        let cut = token.rfind('/').unwrap_or(0);
        let (dir, prefix) = (
            if cut == 0 { "/" } else { &token[..cut] },
            &token[cut + 1..],
        );
        let mut names: Vec<String> = self
            .children(dir)
            .into_iter()
            .filter(|c| c.starts_with(prefix))
            .map(|c| format!("{}/{c}", &token[..cut]))
            .collect();
        names.sort();
        Ok((start, names.into_iter().map(pair).collect()))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}
