//! Watch commands: addWatch and removewatches.

use corral_client::{AddWatchMode, Error, WatcherType};

use super::cmd_node::opts;
use super::error::{check_path, error_code, wrap, CliError, CmdResult};
use super::options::{flag, valued, Spec};
use super::session::{usage_error, Shell};

const ADD_WATCH: Spec = Spec::new(&[valued("m", "")]);

pub async fn add_watch(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&ADD_WATCH, w)?;
    if p.args.len() != 2 {
        return Err(usage_error("addWatch"));
    }
    let mode = match p.value("m").map(str::to_uppercase).as_deref() {
        None | Some("PERSISTENT_RECURSIVE") => AddWatchMode::PersistentRecursive,
        Some("PERSISTENT") => AddWatchMode::Persistent,
        Some(_) => return Err(usage_error("addWatch")),
    };
    let path = &p.args[1];
    check_path(path, false)?;
    let conn = sh.conn()?;
    let watch = conn
        .client
        .add_watch(path, mode)
        .await
        .map_err(|e| wrap(&e, path))?;
    conn.watches
        .persistent(mode == AddWatchMode::PersistentRecursive, path, watch);
    Ok(())
}

const REMOVE_WATCHES: Spec = Spec::new(&[
    flag("c", "child watcher type"),
    flag("d", "data watcher type"),
    flag("a", "any watcher type"),
    flag("l", "remove locally when there is no server connection"),
]);

pub async fn remove_watches(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&REMOVE_WATCHES, w)?;
    if p.args.len() < 2 {
        return Err(usage_error("removewatches"));
    }
    let kind = if p.has("c") {
        WatcherType::Children
    } else if p.has("d") {
        WatcherType::Data
    } else {
        WatcherType::Any
    };
    let path = &p.args[1];
    check_path(path, false)?;
    let conn = sh.conn()?;
    let rc = match conn.client.remove_watches(path, kind).await {
        Ok(()) => None,
        Err(e) => match error_code(&e) {
            Some(code) => Some(code),
            None => return Err(CliError::new(e.to_string())),
        },
    };
    conn.watches
        .remove(path, kind, p.has("l"), rc)
        .await
        .map_err(|code| wrap(&Error::from_code(code), path))
}
