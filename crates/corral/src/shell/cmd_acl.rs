//! ACL and identity commands: getAcl, setAcl, addauth, whoami; and zkCli's ACL syntax.

use std::sync::Arc;

use corral_client::{perms, Acl, ErrorCode, Id};

use super::cmd_node::{int_opt, opts, print_stat, visit};
use super::error::{
    check_path, error_code, keeper_message, wrap, wrap_message, CliError, CmdResult,
};
use super::format::{id_string, perm_string};
use super::options::{flag, valued, Spec};
use super::output::Out;
use super::session::{usage_error, Shell};
use super::tokenize::java_split;

/// zkCli's `AclParser`: `scheme:id:perms[,...]`, the id being everything between the first
/// and the last colon. A malformed entry or an unknown permission letter is reported on
/// stderr and left out.
pub fn parse_acl(out: &Out, text: &str) -> Vec<Acl> {
    let mut acl = Vec::new();
    for entry in java_split(text, ',') {
        let (Some(first), Some(last)) = (entry.find(':'), entry.rfind(':')) else {
            out.eprintln(&format!("{entry} does not have the form scheme:id:perm"));
            continue;
        };
        if first == last {
            out.eprintln(&format!("{entry} does not have the form scheme:id:perm"));
            continue;
        }
        let mut bits = 0;
        for c in entry[last + 1..].chars() {
            match c {
                'r' => bits |= perms::READ,
                'w' => bits |= perms::WRITE,
                'c' => bits |= perms::CREATE,
                'd' => bits |= perms::DELETE,
                'a' => bits |= perms::ADMIN,
                other => out.eprintln(&format!("Unknown perm type: {other}")),
            }
        }
        acl.push(Acl {
            perms: bits,
            id: Id {
                scheme: entry[..first].to_string(),
                id: entry[first + 1..last].to_string(),
            },
        });
    }
    acl
}

const GET_ACL: Spec = Spec::new(&[flag("s", "stats")]);

pub async fn get_acl(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&GET_ACL, w)?;
    if p.args.len() < 2 {
        return Err(usage_error("getAcl"));
    }
    let path = &p.args[1];
    check_path(path, false)?;
    let (acl, stat) = sh
        .conn()?
        .client
        .get_acl(path)
        .await
        .map_err(|e| wrap(&e, path))?;
    for a in &acl {
        sh.out
            .println(&format!("{}: {}", id_string(&a.id), perm_string(a.perms)));
    }
    if p.has("s") {
        print_stat(sh, &stat);
    }
    Ok(())
}

const SET_ACL: Spec = Spec::new(&[
    flag("s", "stats"),
    valued("v", "version"),
    flag("R", "recursive"),
]);

pub async fn set_acl(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&SET_ACL, w)?;
    if p.args.len() < 3 {
        return Err(usage_error("setAcl"));
    }
    let path = p.args[1].clone();
    let acl = Arc::new(parse_acl(&sh.out, &p.args[2]));
    let version = int_opt(&p, "v")?;
    let conn = sh.conn()?;
    if p.has("R") {
        // Each node's failure is printed without a line end, and the walk goes on.
        let out = sh.out.clone();
        let zk = conn.client.clone();
        return visit(&conn.client, &conn.watches, &path, false, |node| {
            let (out, zk, acl) = (out.clone(), zk.clone(), acl.clone());
            async move {
                let result = if acl.is_empty() {
                    Err(ErrorCode::InvalidAcl)
                } else {
                    match zk.set_acl(&node, acl.to_vec(), version).await {
                        Ok(_) => Ok(()),
                        Err(e) => match error_code(&e) {
                            Some(code) => Err(code),
                            None => {
                                out.print(&e.to_string());
                                Ok(())
                            }
                        },
                    }
                };
                if let Err(code) = result {
                    let at = (code != ErrorCode::InvalidAcl).then_some(node.as_str());
                    out.print(&keeper_message(code, at));
                }
                Ok(())
            }
        })
        .await;
    }
    check_path(&path, false)?;
    if acl.is_empty() {
        return Err(CliError::new("Acl is not valid : null"));
    }
    let stat = conn
        .client
        .set_acl(&path, acl.to_vec(), version)
        .await
        .map_err(|e| wrap(&e, &path))?;
    if p.has("s") {
        print_stat(sh, &stat);
    }
    Ok(())
}

pub async fn add_auth(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&Spec::new(&[]), w)?;
    if p.args.len() < 2 {
        return Err(usage_error("addauth"));
    }
    let auth = p.args.get(2).cloned().unwrap_or_default();
    // As in zkCli nothing is printed: a refusal shows as the AuthFailed event.
    let _ = sh
        .conn()?
        .client
        .add_auth(&p.args[1], auth.into_bytes())
        .await;
    Ok(())
}

pub async fn who_am_i(sh: &mut Shell) -> CmdResult {
    let who = sh
        .conn()?
        .client
        .who_am_i()
        .await
        .map_err(|e| CliError::new(wrap_message(&e, None)))?;
    sh.out.println("Auth scheme: User");
    for c in who {
        sh.out.println(&format!("{}: {}", c.auth_scheme, c.user));
    }
    Ok(())
}
