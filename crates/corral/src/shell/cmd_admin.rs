//! Ensemble and session queries: config, reconfig, version, getEphemerals,
//! getAllChildrenNumber.

use corral_client::{Client, Error};

use super::cmd_node::{opts, print_stat};
use super::error::{check_path, wrap, wrap_message, CliError, CmdResult};
use super::format::{data_text, java_list};
use super::options::{flag, valued, Spec};
use super::session::{usage_error, Shell};
use super::watches::Kind;

/// The node holding the ensemble's dynamic configuration.
const CONFIG_NODE: &str = "/zookeeper/config";

const CONFIG: Spec = Spec::new(&[
    flag("s", "stats"),
    flag("w", "watch"),
    flag("c", "client connection string"),
]);

/// The session that reads the config node: the shell's own, or under a chroot a second one
/// without it (opened on first use).
async fn config_client(sh: &mut Shell) -> Result<Client, CliError> {
    let timeout = sh.timeout();
    let conn = sh
        .conn
        .as_mut()
        .ok_or_else(|| CliError::new("Not connected"))?;
    if conn.chroot.is_none() {
        return Ok(conn.client.clone());
    }
    if let Some(c) = &conn.config_client {
        return Ok(c.clone());
    }
    let c = Client::builder(&conn.hosts)
        .session_timeout(timeout)
        .connect_timeout(timeout)
        .connect()
        .await
        .map_err(|e| wrap(&e, CONFIG_NODE))?;
    conn.config_client = Some(c.clone());
    Ok(c)
}

pub async fn config(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&CONFIG, w)?;
    let zk = config_client(sh).await?;
    let conn = sh.conn()?;
    let (data, stat) = if p.has("w") {
        let (data, stat, watch) = zk
            .get_data_nullable_w(CONFIG_NODE)
            .await
            .map_err(|e| wrap(&e, CONFIG_NODE))?;
        conn.watches.one_shot(Kind::Data, CONFIG_NODE, watch);
        (data, stat)
    } else {
        zk.get_data_nullable(CONFIG_NODE)
            .await
            .map_err(|e| wrap(&e, CONFIG_NODE))?
    };
    let text = data_text(data.as_deref());
    if p.has("c") {
        sh.out.println(&client_config(&text));
    } else {
        sh.out.println(&text);
    }
    if p.has("s") {
        print_stat(sh, &stat);
    }
    Ok(())
}

/// `ConfigUtils.getClientConfigStr`: the config's version, a blank, and the client addresses
/// of its `server.N` entries (`...;[host:]port`), comma-separated.
pub fn client_config(text: &str) -> String {
    let mut version = String::new();
    let mut addrs: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        let Some((key, value)) = line.split_once(['=', ':']) else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        if key == "version" {
            version = value.to_string();
        }
        if !key.starts_with("server.") {
            continue;
        }
        let client = value.split_once(';').map(|(_, c)| c.trim());
        addrs.push(match client {
            Some(c) if c.contains(':') => c.to_string(),
            Some(port) => format!("0.0.0.0:{port}"),
            None => String::new(),
        });
    }
    format!("{version} {}", addrs.join(","))
}

const RECONFIG: Spec = Spec::new(&[
    flag("s", "stats"),
    valued("v", "required current config version"),
    valued("file", "path of config file to parse for membership"),
    valued(
        "members",
        "comma-separated list of config strings for non-incremental reconfig",
    ),
    valued(
        "add",
        "comma-separated list of config strings for new servers",
    ),
    valued("remove", "comma-separated list of server IDs to remove"),
]);

pub async fn reconfig(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&RECONFIG, w)?;
    let (file, members, add, remove) = (
        p.value("file"),
        p.value("members"),
        p.value("add"),
        p.value("remove"),
    );
    if file.is_none() && members.is_none() && add.is_none() && remove.is_none() {
        return Err(usage_error("reconfig"));
    }
    let version = match p.value("v") {
        Some(v) => i64::from_str_radix(v, 16)
            .map_err(|_| CliError::new("-v must be followed by a long (configuration version)"))?,
        None => -1,
    };
    if (file.is_some() || members.is_some()) && (add.is_some() || remove.is_some()) {
        return Err(CliError::new(
            "Can't use -file or -members together with -add or -remove (mixing incremental and \
             non-incremental modes is not allowed)",
        ));
    }
    if file.is_some() && members.is_some() {
        return Err(CliError::new(
            "Can't use -file and -members together (conflicting non-incremental modes)",
        ));
    }
    let joining = add.map(str::to_lowercase);
    let leaving = remove.map(str::to_lowercase);
    let mut members = members.map(str::to_lowercase);
    if let Some(file) = file {
        // The membership lines of a dynamic config file (`server.N=...`, `group...`,
        // `weight...`), one per line.
        let text = std::fs::read_to_string(file)
            .map_err(|e| CliError::new(format!("Error processing {file}{e}")))?;
        let lines: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| {
                l.starts_with("server.") || l.starts_with("group.") || l.starts_with("weight.")
            })
            .collect();
        members = Some(lines.join("\n"));
    }
    let (data, stat) = sh
        .conn()?
        .client
        .reconfig(
            joining.as_deref(),
            leaving.as_deref(),
            members.as_deref(),
            version,
        )
        .await
        .map_err(|e| CliError::new(wrap_message(&e, Some(""))))?;
    sh.out.println(&format!(
        "Committed new configuration:\n{}",
        data_text(data.as_deref())
    ));
    if p.has("s") {
        print_stat(sh, &stat);
    }
    Ok(())
}

pub fn version(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&Spec::new(&[]), w)?;
    if p.args.len() > 1 {
        return Err(usage_error("version"));
    }
    sh.out.println(&format!(
        "ZooKeeper CLI version: Corral shell {} (zkCli 3.8 commands)",
        env!("CARGO_PKG_VERSION")
    ));
    Ok(())
}

pub async fn get_ephemerals(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&Spec::new(&[]), w)?;
    let path = p.args.get(1).map_or("/", String::as_str);
    check_path(path, false)?;
    let conn = sh.conn()?;
    let list = conn
        .client
        .get_ephemerals(path)
        .await
        .map_err(|e| wrap(&e, path))?;
    // Java's client hands the server's paths back as they are, chroot included.
    let list: Vec<String> = match &conn.chroot {
        Some(root) => list
            .iter()
            .map(|p| {
                if p == "/" {
                    root.clone()
                } else {
                    format!("{root}{p}")
                }
            })
            .collect(),
        None => list,
    };
    sh.out.println(&java_list(&list));
    Ok(())
}

pub async fn get_all_children_number(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&Spec::new(&[]), w)?;
    if p.args.len() < 2 {
        return Err(usage_error("getAllChildrenNumber"));
    }
    let path = &p.args[1];
    check_path(path, false)?;
    let n = sh
        .conn()?
        .client
        .get_all_children_number(path)
        .await
        .map_err(|e: Error| wrap(&e, path))?;
    sh.out.println(&n.to_string());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_config_string() {
        assert_eq!(client_config(""), " ");
        let cfg = "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\n\
                   server.2=10.0.0.2:2888:3888;2182\nversion=100000000";
        assert_eq!(client_config(cfg), "100000000 0.0.0.0:2181,0.0.0.0:2182");
    }
}
