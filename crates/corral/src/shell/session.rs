//! The shell's state and zkCli's command loop (`ZooKeeperMain.processZKCmd`): history,
//! `redo`, `printwatches`, `connect`, `close`, `quit`, the "Not connected" rule, the command
//! table and the exit status.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use corral_client::connect_string::ConnectString;
use corral_client::{Client, KeeperState, SessionState};

use super::error::{number_format, wrap_message, CliError, CmdResult};
use super::input::CompletionClient;
use super::output::Out;
use super::tokenize::{java_decode_int, words};
use super::watches::Watches;
use super::{cmd_acl, cmd_admin, cmd_node, cmd_quota, cmd_watch};

/// zkCli's commands and their usage, in the order `help` lists them (Java's string order).
pub const COMMANDS: &[(&str, &str)] = &[
    (
        "addWatch",
        "[-m mode] path # optional mode is one of [PERSISTENT, PERSISTENT_RECURSIVE] - default \
         is PERSISTENT_RECURSIVE",
    ),
    ("addauth", "scheme auth"),
    ("close", ""),
    ("config", "[-c] [-w] [-s]"),
    ("connect", "host:port"),
    ("create", "[-s] [-e] [-c] [-t ttl] path [data] [acl]"),
    ("delete", "[-v version] path"),
    ("deleteall", "path [-b batch size]"),
    ("delquota", "[-n|-b|-N|-B] path"),
    ("get", "[-s] [-w] path"),
    ("getAcl", "[-s] path"),
    ("getAllChildrenNumber", "path"),
    ("getEphemerals", "path"),
    ("history", ""),
    ("listquota", "path"),
    ("ls", "[-s] [-w] [-R] path"),
    ("printwatches", "on|off"),
    ("quit", ""),
    (
        "reconfig",
        "[-s] [-v version] [[-file path] | [-members serverID=host:port1:port2;port3[,...]*]] | \
         [-add serverId=host:port1:port2;port3[,...]]* [-remove serverId[,...]*]",
    ),
    ("redo", "cmdno"),
    ("removewatches", "path [-c|-d|-a] [-l]"),
    ("set", "[-s] [-v version] path data"),
    ("setAcl", "[-s] [-v version] [-R] path acl"),
    ("setquota", "-n|-b|-N|-B val path"),
    ("stat", "[-w] path"),
    ("sync", "path"),
    ("version", ""),
    ("whoami", ""),
];

/// A command's usage line (`getUsageStr()`): its name, a blank and its options.
pub fn usage_of(cmd: &str) -> String {
    let opts = COMMANDS
        .iter()
        .find(|(c, _)| *c == cmd)
        .map_or("", |(_, o)| *o);
    format!("{cmd} {opts}")
}

/// The usage error a command raises for missing arguments.
pub fn usage_error(cmd: &str) -> CliError {
    CliError::new(usage_of(cmd))
}

/// One session and its watch printer.
pub struct Conn {
    pub client: Client,
    pub watches: Watches,
    states: tokio::task::JoinHandle<()>,
    /// The connect string's chroot, and its servers without it.
    pub chroot: Option<String>,
    pub hosts: String,
    /// Under a chroot, a second session without it for `config`, which reads
    /// `/zookeeper/config` whatever the chroot (as Java's `getConfig` does).
    pub config_client: Option<Client>,
}

pub struct Shell {
    pub out: Out,
    pub host: String,
    timeout: Duration,
    pub conn: Option<Conn>,
    history: HashMap<i32, String>,
    count: i32,
    print_watches: Arc<AtomicBool>,
    pub exit_code: i32,
    pub quit: bool,
    /// The session the line editor completes znode paths with.
    pub completion: CompletionClient,
}

type Boxed<'a> = Pin<Box<dyn Future<Output = CmdResult> + Send + 'a>>;

impl Shell {
    pub fn new(out: Out, host: &str, timeout: Duration) -> Shell {
        Shell {
            out,
            host: host.to_string(),
            timeout,
            conn: None,
            history: HashMap::new(),
            count: 0,
            print_watches: Arc::new(AtomicBool::new(true)),
            exit_code: 0,
            quit: false,
            completion: CompletionClient::default(),
        }
    }

    /// Whether commands can run: a session that is not closed, expired or refused.
    pub fn alive(&self) -> bool {
        self.conn
            .as_ref()
            .is_some_and(|c| !c.client.state().is_terminal())
    }

    /// The current session (callers have checked `alive`).
    pub fn conn(&self) -> Result<&Conn, CliError> {
        self.conn
            .as_ref()
            .ok_or_else(|| CliError::new("Not connected"))
    }

    /// The prompt zkCli shows: `[zk: host(STATE) N] `.
    pub fn prompt(&self) -> String {
        let state = match self.conn.as_ref().map(|c| c.client.state()) {
            None => "NOT_CONNECTED",
            Some(SessionState::SyncConnected) => "CONNECTED",
            Some(SessionState::AuthFailed) => "AUTH_FAILED",
            Some(SessionState::Closed | SessionState::Expired) => "CLOSED",
            Some(_) => "CONNECTING",
        };
        format!("[zk: {}({state}) {}] ", self.host, self.count)
    }

    /// Connects to `host` (closing a live session first). Prints why on failure.
    pub async fn connect(&mut self, host: &str) -> bool {
        self.close_session().await;
        self.host = host.to_string();
        let result = Client::builder(host)
            .session_timeout(self.timeout)
            .connect_timeout(self.timeout)
            .connect()
            .await;
        match result {
            Ok(client) => {
                let states = client.state_stream();
                let watches = Watches::start(self.out.clone(), self.print_watches.clone());
                watches.state(KeeperState::SyncConnected);
                let states = watches.follow_states(states);
                if let Ok(mut slot) = self.completion.lock() {
                    *slot = Some(client.clone());
                }
                let chroot = ConnectString::parse(host).ok().and_then(|c| c.chroot);
                let hosts = host.split('/').next().unwrap_or(host).to_string();
                self.conn = Some(Conn {
                    client,
                    watches,
                    states,
                    chroot,
                    hosts,
                    config_client: None,
                });
                true
            }
            Err(e) => {
                self.conn = None;
                self.out.eprintln(&format!(
                    "Unable to connect to {host}: {}",
                    wrap_message(&e, None)
                ));
                false
            }
        }
    }

    /// The session timeout asked for.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Closes the session if it is live and waits until its `Closed` event is printed.
    pub async fn close_session(&mut self) {
        if !self.alive() {
            return;
        }
        if let Some(conn) = self.conn.as_mut() {
            if let Some(aux) = conn.config_client.take() {
                let _ = aux.close().await;
            }
            let _ = conn.client.close().await;
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut conn.states).await;
            conn.watches.flush().await;
        }
    }

    /// Ends the shell without printing the `Closed` event (zkCli exits at the end of its
    /// input without closing; the shell still closes the session, so that its ephemeral
    /// nodes go at once).
    pub async fn finish_quietly(&mut self) {
        self.print_watches.store(false, Ordering::Relaxed);
        self.close_session().await;
    }

    /// Runs one input line, as `ZooKeeperMain.executeLine`.
    pub async fn execute_line(&mut self, line: &str) {
        if line.is_empty() {
            return;
        }
        let w = words(line);
        self.history.insert(self.count, line.to_string());
        // zkCli would run the previous command again for a line without words (a lone
        // quote); the shell does nothing.
        if !w.is_empty() {
            self.process(w).await;
        }
        self.count += 1;
    }

    /// Runs one command given as words (`-c` pieces go through `execute_line`; the command
    /// given as separate arguments comes here), setting the exit status.
    pub async fn process(&mut self, w: Vec<String>) {
        if w.first().is_some_and(|c| c == "quit") {
            // zkCli exits with the status of the command before `quit`.
            self.close_session().await;
            self.quit = true;
            return;
        }
        match self.process_zk(w).await {
            Ok(()) => self.exit_code = 0,
            Err(e) => {
                self.exit_code = e.code;
                self.out.eprintln(&e.msg);
            }
        }
        // The events the command's answers brought are printed before the next command
        // (and before `printwatches` can change): their watches' tasks were woken before
        // this one, so their messages are already queued to the printer.
        if let Some(conn) = &self.conn {
            conn.watches.flush().await;
        }
    }

    fn usage(&self) {
        self.out
            .eprintln("ZooKeeper -server host:port -client-configuration properties-file cmd args");
        for (cmd, opts) in COMMANDS {
            self.out.eprintln(&format!("\t{cmd} {opts}"));
        }
    }

    fn process_zk(&mut self, w: Vec<String>) -> Boxed<'_> {
        Box::pin(async move {
            let cmd = w.first().cloned().unwrap_or_default();
            if !COMMANDS.iter().any(|(c, _)| *c == cmd) {
                self.usage();
                return Err(CliError {
                    msg: format!("Command not found: Command not found {cmd}"),
                    code: 127,
                });
            }
            match cmd.as_str() {
                "redo" if w.len() >= 2 => self.redo(&w[1]).await?,
                "history" => {
                    for i in (self.count - 10).max(0)..=self.count {
                        let line = self.history.get(&i).map_or("null", String::as_str);
                        self.out.println(&format!("{i} - {line}"));
                    }
                }
                "printwatches" => match w.get(1) {
                    None => {
                        let on = self.print_watches.load(Ordering::Relaxed);
                        let state = if on { "on" } else { "off" };
                        self.out.println(&format!("printwatches is {state}"));
                    }
                    Some(v) => self.print_watches.store(v == "on", Ordering::Relaxed),
                },
                "connect" => {
                    let host = w.get(1).cloned().unwrap_or_else(|| self.host.clone());
                    self.connect(&host).await;
                }
                _ => {}
            }
            if !self.alive() {
                self.out.println("Not connected");
                return Ok(());
            }
            self.run_command(&cmd, &w).await
        })
    }

    async fn redo(&mut self, arg: &str) -> CmdResult {
        let i = java_decode_int(arg).ok_or_else(|| number_format(arg))?;
        if self.count <= i || i < 0 {
            return Err(CliError::new("Command index out of range"));
        }
        let line = self.history.get(&i).cloned().unwrap_or_default();
        let again = words(&line);
        if again.first().is_some_and(|c| c == "redo") {
            return Err(CliError::new("No redoing redos"));
        }
        self.history.insert(self.count, line);
        // zkCli reports the redone command's failure but ends `redo` itself with status 0.
        if !again.is_empty() {
            self.process(again).await;
        }
        Ok(())
    }

    async fn run_command(&mut self, cmd: &str, w: &[String]) -> CmdResult {
        match cmd {
            "create" => cmd_node::create(self, w).await,
            "delete" => cmd_node::delete(self, w).await,
            "deleteall" => cmd_node::delete_all(self, w).await,
            "set" => cmd_node::set(self, w).await,
            "get" => cmd_node::get(self, w).await,
            "ls" => cmd_node::ls(self, w).await,
            "stat" => cmd_node::stat(self, w).await,
            "sync" => cmd_node::sync(self, w).await,
            "getAcl" => cmd_acl::get_acl(self, w).await,
            "setAcl" => cmd_acl::set_acl(self, w).await,
            "addauth" => cmd_acl::add_auth(self, w).await,
            "whoami" => cmd_acl::who_am_i(self).await,
            "addWatch" => cmd_watch::add_watch(self, w).await,
            "removewatches" => cmd_watch::remove_watches(self, w).await,
            "setquota" => cmd_quota::set_quota(self, w).await,
            "listquota" => cmd_quota::list_quota(self, w).await,
            "delquota" => cmd_quota::del_quota(self, w).await,
            "config" => cmd_admin::config(self, w).await,
            "reconfig" => cmd_admin::reconfig(self, w).await,
            "version" => cmd_admin::version(self, w),
            "getEphemerals" => cmd_admin::get_ephemerals(self, w).await,
            "getAllChildrenNumber" => cmd_admin::get_all_children_number(self, w).await,
            "close" => {
                self.close_session().await;
                Ok(())
            }
            _ => Ok(()), // history, printwatches, connect, redo: done above
        }
    }
}
