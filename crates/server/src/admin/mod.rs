//! ZooKeeper's AdminServer: HTTP on `admin.serverAddress:admin.serverPort`, the index of
//! commands at `admin.commandURL`, each command at `<commandURL>/<name>` as JSON (the answers
//! are the core's, crate::core::admin; they reach it as a message to the task that owns it,
//! as four-letter words do). This module is the HTTP side: routing, what must be measured
//! outside the core (directory sizes, the newest snapshot, process facts) and the JSON text,
//! written as ZooKeeper's Jackson pretty printer writes it.
//!
//! As ZooKeeper 3.8's CommandServlet: GET (and HEAD) only (POST and the rest: 405; ZooKeeper 3.9 takes a
//! POST only for `restore`, which Corral does not have), every command answers 200 (errors are
//! in the `error` field), anything outside the command URL is 404.

mod json;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::config::{AdminConfig, ServerConfig};
use crate::core::admin::{error_response, COMMANDS};
use crate::core::AdminIo;
use crate::http::{HttpRequest, HttpResponse};
use crate::io_metrics::NetCounters;
use crate::owner::ToCore;
use crate::ServerError;

pub use json::to_jackson_pretty;

/// Binds the AdminServer's address: a taken port is a startup error, as ZooKeeper's standalone
/// server exits when its AdminServer cannot start.
pub(crate) async fn bind(admin: &AdminConfig) -> Result<TcpListener, ServerError> {
    TcpListener::bind(admin.addr)
        .await
        .map_err(|source| ServerError::AdminBind {
            addr: admin.addr,
            source,
        })
}

/// Serves the AdminServer on `listener` until the future is dropped.
pub(crate) async fn serve(
    listener: TcpListener,
    config: std::sync::Arc<ServerConfig>,
    to_core: mpsc::Sender<ToCore>,
    counters: std::sync::Arc<NetCounters>,
) {
    let idle = Duration::from_millis(u64::from(config.admin.idle_timeout_ms));
    crate::http::serve(listener, idle, move |req| {
        let config = std::sync::Arc::clone(&config);
        let to_core = to_core.clone();
        let counters = std::sync::Arc::clone(&counters);
        async move { answer(req, &config, &to_core, &counters).await }
    })
    .await
}

/// Where `path` leads under the command URL.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Index,
    Command(&'a str),
    NotFound,
}

fn route<'a>(command_url: &str, path: &'a str) -> Route<'a> {
    let rest = if command_url == "/" {
        Some(path)
    } else {
        path.strip_prefix(command_url)
    };
    match rest {
        Some("") | Some("/") => Route::Index,
        Some(r) if r.starts_with('/') => Route::Command(&r[1..]),
        _ => Route::NotFound,
    }
}

/// The index page: a link per command, sorted, each followed by `<br/>` (JettyAdminServer).
pub fn index_page(command_url: &str) -> String {
    let base = command_url.trim_end_matches('/');
    let mut names: Vec<&str> = COMMANDS.iter().map(|c| c.primary).collect();
    names.sort_unstable();
    names
        .iter()
        .map(|n| format!("<a href=\"{base}/{n}\">{n}</a>\n<br/>\n"))
        .collect()
}

async fn answer(
    req: HttpRequest,
    config: &ServerConfig,
    to_core: &mpsc::Sender<ToCore>,
    counters: &NetCounters,
) -> HttpResponse {
    let name = match route(&config.admin.command_url, &req.path) {
        Route::NotFound => return HttpResponse::new(404, Some("text/plain"), "Not Found\n"),
        // HEAD as GET (hyper sends no body), as the servlet's doHead does.
        _ if req.method != "GET" && req.method != "HEAD" => {
            return HttpResponse::new(
                405,
                Some("text/plain"),
                format!("HTTP method {} is not supported by this URL\n", req.method),
            )
        }
        Route::Index => return HttpResponse::new(200, None, index_page(&config.admin.command_url)),
        Route::Command(name) => name.to_string(),
    };
    let measured_config = config.clone();
    let mut io = tokio::task::spawn_blocking(move || measure(&measured_config))
        .await
        .unwrap_or_default();
    if name == "monitor" || name == "mntr" {
        io.monitor = crate::io_metrics::measure(counters);
    }
    let (reply, answered) = oneshot::channel();
    let asked = ToCore::Admin {
        name: name.clone(),
        args: req.query,
        io,
        reply,
    };
    let object = match to_core.send(asked).await {
        Ok(()) => answered.await.ok(),
        Err(_) => None,
    }
    .unwrap_or_else(|| error_response(&name, crate::core::admin::NOT_SERVING));
    let body = to_jackson_pretty(&serde_json::Value::Object(object));
    HttpResponse::new(200, Some("application/json"), body)
}

/// What the commands need from outside the core.
pub fn measure(config: &ServerConfig) -> AdminIo {
    let (data, log) = config.version_dirs();
    AdminIo {
        datadir_size: crate::fourlw::files_size(&data),
        logdir_size: crate::fourlw::files_size(&log),
        last_snapshot: newest_snapshot(&data),
        properties: process_properties(),
        monitor: Default::default(),
    }
}

/// The newest `snapshot.<zxid hex>` in `dir`: its zxid and mtime (seconds).
fn newest_snapshot(dir: &Path) -> Option<(i64, i64)> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name();
            let hex = name.to_str()?.strip_prefix("snapshot.")?;
            let zxid = corral_zxid::Zxid(u64::from_str_radix(hex, 16).ok()?);
            let mtime = e
                .metadata()
                .ok()?
                .modified()
                .ok()?
                .duration_since(UNIX_EPOCH)
                .ok()?
                .as_secs();
            Some((zxid, i64::try_from(mtime).unwrap_or(i64::MAX)))
        })
        // Newest by zxid as log order has it (unsigned: epochs past 2^31 last).
        .max()
        .map(|(zxid, mtime)| (zxid.to_wire(), mtime))
}

/// The process facts ZooKeeper reports from Java's system properties, under the same names.
fn process_properties() -> Vec<(String, String)> {
    let os_name = match std::env::consts::OS {
        "linux" => "Linux",
        "macos" => "Mac OS X",
        "freebsd" => "FreeBSD",
        other => other,
    };
    let os_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        other => other,
    };
    let os_version = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|v| v.trim().to_string())
        .unwrap_or_default();
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    let cwd = std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    [
        ("java.io.tmpdir", std::env::temp_dir().display().to_string()),
        ("os.name", os_name.to_string()),
        ("os.arch", os_arch.to_string()),
        ("os.version", os_version),
        ("user.name", user_name()),
        ("user.home", var("HOME")),
        ("user.dir", cwd),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The process's user name, as Java's `user.name`: $USER, else the name /etc/passwd gives
/// the process's uid.
fn user_name() -> String {
    if let Ok(user) = std::env::var("USER") {
        return user;
    }
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(str::to_string))
        })
        .unwrap_or_default();
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                (f.nth(1)? == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_default()
}

/// The address the AdminServer serves on (for logs and tests).
pub(crate) fn describe(addr: SocketAddr, url: &str) -> String {
    format!("AdminServer on {addr}, command URL {url}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_under_the_command_url() {
        assert_eq!(route("/commands", "/commands"), Route::Index);
        assert_eq!(route("/commands", "/commands/"), Route::Index);
        assert_eq!(route("/commands", "/commands/ruok"), Route::Command("ruok"));
        assert_eq!(
            route("/commands", "/commands/ruok/x"),
            Route::Command("ruok/x")
        );
        assert_eq!(route("/commands", "/commandsx"), Route::NotFound);
        assert_eq!(route("/commands", "/"), Route::NotFound);
        assert_eq!(route("/", "/ruok"), Route::Command("ruok"));
        assert_eq!(route("/", "/"), Route::Index);
    }

    #[test]
    fn index_lists_every_primary_name_sorted() {
        let page = index_page("/commands");
        assert_eq!(page.matches("<br/>").count(), 26);
        assert!(page.starts_with(
            "<a href=\"/commands/configuration\">configuration</a>\n<br/>\n<a href=\"/commands/connection_stat_reset\">"
        ));
        assert!(page.ends_with("<a href=\"/commands/zabstate\">zabstate</a>\n<br/>\n"));
    }

    #[test]
    fn newest_snapshot_by_zxid() {
        let dir = std::env::temp_dir().join(format!("corral-admin-snap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        assert_eq!(newest_snapshot(&dir), None);
        for name in ["snapshot.0", "snapshot.1a", "snapshot.2.tmp", "log.1"] {
            std::fs::write(dir.join(name), b"x").expect("write");
        }
        assert_eq!(newest_snapshot(&dir).map(|(z, _)| z), Some(0x1a));
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
