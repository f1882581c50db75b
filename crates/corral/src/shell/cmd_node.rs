//! Node commands: create, delete, deleteall, set, get, ls, stat, sync.

use std::future::Future;
use std::time::Duration;

use corral_client::{open_acl_unsafe, Client, CreateMode, CreateOptions, ErrorCode, Op};

use super::cmd_acl::parse_acl;
use super::error::{
    check_path, error_code, keeper_message, number_format, wrap, wrap_message, CliError, CmdResult,
};
use super::format::{data_text, java_sort, stat_lines};
use super::options::{flag, parse, valued, Parsed, Spec};
use super::session::{usage_error, Shell};
use super::tokenize::java_parse;
use super::watches::{Kind, Watches};

/// The largest TTL ZooKeeper accepts (`EphemeralType.TTL.maxValue()`).
const MAX_TTL: i64 = 0xff_ffff_ffff;

pub fn opts(spec: &Spec, w: &[String]) -> Result<Parsed, CliError> {
    parse(spec, w).map_err(CliError::new)
}

/// An `int` option zkCli parses with `Integer.parseInt`.
pub fn int_opt(p: &Parsed, name: &str) -> Result<Option<i32>, CliError> {
    p.value(name)
        .map(|v| java_parse(v).ok_or_else(|| number_format(v)))
        .transpose()
}

/// zkCli's old forms (`get path watch`, `stat path watch`, `ls path watch`): a third word
/// turns the word at position 2 into `-w` and is reported as deprecated.
fn old_watch_form(
    spec: &Spec,
    w: &[String],
    p: Parsed,
    sh: &Shell,
    new: &str,
) -> Result<Parsed, CliError> {
    if p.args.len() <= 2 {
        return Ok(p);
    }
    let mut raw = w.to_vec();
    raw[2] = "-w".into();
    let cmd = &w[0];
    sh.out.eprintln(&format!(
        "'{cmd} path [watch]' has been deprecated. Please use '{new}' instead."
    ));
    opts(spec, &raw)
}

fn client(sh: &Shell) -> Result<Client, CliError> {
    Ok(sh.conn()?.client.clone())
}

const CREATE: Spec = Spec::new(&[
    flag("e", "ephemeral"),
    flag("s", "sequential"),
    flag("c", "container"),
    valued("t", "ttl"),
]);

pub async fn create(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&CREATE, w)?;
    if p.args.len() < 2 {
        return Err(usage_error("create"));
    }
    let (e, s, c, t) = (p.has("e"), p.has("s"), p.has("c"), p.has("t"));
    if c && (e || s) {
        return Err(CliError::new(
            "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.",
        ));
    }
    let ttl: i64 = match p.value("t") {
        Some(v) => {
            java_parse(v).ok_or_else(|| CliError::new("-t argument must be a long value"))?
        }
        None => 0,
    };
    if t && e {
        return Err(CliError::new("TTLs cannot be used with Ephemeral znodes"));
    }
    if t && c {
        return Err(CliError::new("TTLs cannot be used with Container znodes"));
    }
    let mode = match (e, s, c, t) {
        (true, true, _, _) => CreateMode::EphemeralSequential,
        (true, false, _, _) => CreateMode::Ephemeral,
        (false, true, _, true) => CreateMode::PersistentSequentialWithTtl,
        (false, true, _, false) => CreateMode::PersistentSequential,
        (false, false, true, _) => CreateMode::Container,
        (false, false, false, true) => CreateMode::PersistentWithTtl,
        (false, false, false, false) => CreateMode::Persistent,
    };
    if t && !(1..=MAX_TTL).contains(&ttl) {
        return Err(CliError::new(format!(
            "ttl must be positive and cannot be larger than: {MAX_TTL}"
        )));
    }
    let path = &p.args[1];
    let data = p
        .args
        .get(2)
        .map(|d| bytes::Bytes::from(d.clone().into_bytes()));
    let acl = match p.args.get(3) {
        Some(a) => parse_acl(&sh.out, a),
        None => open_acl_unsafe(),
    };
    check_path(path, mode.is_sequential())?;
    if acl.is_empty() {
        sh.out
            .eprintln(&keeper_message(ErrorCode::InvalidAcl, None));
        return Err(CliError::new("Acl is not valid : null"));
    }
    let mut options = CreateOptions::new(mode).acl(acl);
    if t {
        options = options.ttl_ms(ttl);
    }
    match client(sh)?.create_nullable(path, data, &options).await {
        Ok(created) => {
            sh.out.eprintln(&format!("Created {created}"));
            Ok(())
        }
        Err(err) => {
            match error_code(&err) {
                Some(ErrorCode::EphemeralOnLocalSession) => sh
                    .out
                    .eprintln("Unable to create ephemeral node on a local session"),
                Some(ErrorCode::InvalidAcl) => sh
                    .out
                    .eprintln(&keeper_message(ErrorCode::InvalidAcl, Some(path))),
                _ => {}
            }
            Err(wrap(&err, path))
        }
    }
}

const DELETE: Spec = Spec::new(&[valued("v", "version")]);

pub async fn delete(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&DELETE, w)?;
    if p.args.len() < 2 {
        return Err(usage_error("delete"));
    }
    if p.args.len() > 2 {
        // The old `delete path version`: reported, and the version word is ignored.
        sh.out.eprintln(
            "'delete path [version]' has been deprecated. Please use 'delete [-v version] path' \
             instead.",
        );
    }
    let path = &p.args[1];
    let version = int_opt(&p, "v")?;
    check_path(path, false)?;
    client(sh)?
        .delete(path, version)
        .await
        .map_err(|e| wrap(&e, path))
}

const DELETE_ALL: Spec = Spec::new(&[valued("b", "batch size")]);

pub async fn delete_all(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&DELETE_ALL, w)?;
    if p.args.len() < 2 {
        return Err(usage_error("deleteall"));
    }
    let batch: i32 = match p.value("b") {
        Some(v) => {
            java_parse(v).ok_or_else(|| CliError::new("-b argument must be an int value"))?
        }
        None => 1000,
    };
    let path = &p.args[1];
    check_path(path, false)?;
    let zk = client(sh)?;
    // ZKUtil.deleteRecursive: the tree breadth first, deleted from the end in multis of
    // `batch` deletes; after a failed multi no further one is sent.
    let mut tree = vec![path.clone()];
    let mut next = 0;
    while next < tree.len() {
        let node = tree[next].clone();
        next += 1;
        let children = zk.get_children(&node).await.map_err(|e| wrap(&e, &node))?;
        for child in children {
            tree.push(child_path(&node, &child));
        }
    }
    let mut ops = Vec::new();
    let mut ok = true;
    for (i, node) in tree.iter().enumerate().rev() {
        ops.push(Op::delete(node, None));
        let send = usize::try_from(batch).is_ok_and(|b| ops.len() == b) || i == 0;
        if send && zk.multi(std::mem::take(&mut ops)).await.is_err() {
            ok = false;
            break;
        }
    }
    if !ok {
        sh.out
            .eprintln("Failed to delete some node(s) in the subtree!");
    }
    Ok(())
}

pub fn child_path(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

const SET: Spec = Spec::new(&[flag("s", "stats"), valued("v", "version")]);

pub async fn set(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&SET, w)?;
    if p.args.len() < 3 {
        return Err(usage_error("set"));
    }
    let (path, data) = (&p.args[1], p.args[2].clone());
    let version = int_opt(&p, "v")?;
    check_path(path, false)?;
    let stat = client(sh)?
        .set_data(path, data.into_bytes(), version)
        .await
        .map_err(|e| wrap(&e, path))?;
    if p.has("s") {
        print_stat(sh, &stat);
    }
    Ok(())
}

pub fn print_stat(sh: &Shell, stat: &corral_client::Stat) {
    for line in stat_lines(stat) {
        sh.out.println(&line);
    }
}

const GET: Spec = Spec::new(&[flag("s", "stats"), flag("w", "watch")]);

pub async fn get(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&GET, w)?;
    if p.args.len() < 2 {
        return Err(usage_error("get"));
    }
    let p = old_watch_form(&GET, w, p, sh, "get [-s] [-w] path")?;
    let path = p.args.get(1).cloned().unwrap_or_default();
    check_path(&path, false)?;
    let conn = sh.conn()?;
    let (data, stat) = if p.has("w") {
        let (data, stat, watch) = conn
            .client
            .get_data_nullable_w(&path)
            .await
            .map_err(|e| wrap(&e, &path))?;
        conn.watches.one_shot(Kind::Data, &path, watch);
        (data, stat)
    } else {
        conn.client
            .get_data_nullable(&path)
            .await
            .map_err(|e| wrap(&e, &path))?
    };
    sh.out.println(&data_text(data.as_deref()));
    if p.has("s") {
        print_stat(sh, &stat);
    }
    Ok(())
}

const LS: Spec = Spec::new(&[
    flag("?", "help"),
    flag("s", "stat"),
    flag("w", "watch"),
    flag("R", "recurse"),
]);

pub async fn ls(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&LS, w)?;
    if p.has("?") {
        for line in [
            "usage: ls [options] path",
            " -?   help",
            " -R   recurse",
            " -s   stat",
            " -w   watch",
        ] {
            sh.out.println(line);
        }
    }
    let p = old_watch_form(&LS, w, p, sh, "ls [-w] path")?;
    if p.args.len() < 2 {
        return Err(usage_error("ls"));
    }
    let path = p.args[1].clone();
    let watch = p.has("w");
    let conn = sh.conn()?;
    if p.has("R") {
        let out = sh.out.clone();
        return visit(&conn.client, &conn.watches, &path, watch, |node| {
            out.println(&node);
            async { Ok(()) }
        })
        .await;
    }
    check_path(&path, false)?;
    let zk = &conn.client;
    let wrap_path = |e| wrap(&e, &path);
    let (mut children, stat) = match (p.has("s"), watch) {
        (true, true) => {
            let (c, s, wt) = zk.get_children2_w(&path).await.map_err(wrap_path)?;
            conn.watches.one_shot(Kind::Child, &path, wt);
            (c, Some(s))
        }
        (true, false) => {
            let (c, s) = zk.get_children2(&path).await.map_err(wrap_path)?;
            (c, Some(s))
        }
        (false, true) => {
            let (c, wt) = zk.get_children_w(&path).await.map_err(wrap_path)?;
            conn.watches.one_shot(Kind::Child, &path, wt);
            (c, None)
        }
        (false, false) => (zk.get_children(&path).await.map_err(wrap_path)?, None),
    };
    java_sort(&mut children);
    sh.out.println(&super::format::java_list(&children));
    if let Some(stat) = stat {
        print_stat(sh, &stat);
    }
    Ok(())
}

/// `ZKUtil.visitSubTreeDFS`: reads the node (with a data watch if `watch`), calls `visit` on
/// it, then for each node lists its children (with a child watch if `watch`), calls `visit`
/// on each in sorted order and descends into them in that order. A node that disappears
/// while being listed is skipped; any other failure ends the walk.
pub async fn visit<F, Fut>(
    zk: &Client,
    watches: &Watches,
    root: &str,
    watch: bool,
    mut visit: F,
) -> CmdResult
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = CmdResult>,
{
    check_path(root, false)?;
    if watch {
        let (_, _, w) = zk.get_data_w(root).await.map_err(|e| wrap(&e, root))?;
        watches.one_shot(Kind::Data, root, w);
    } else {
        zk.get_data(root).await.map_err(|e| wrap(&e, root))?;
    }
    visit(root.to_string()).await?;
    let mut stack = vec![root.to_string()];
    while let Some(node) = stack.pop() {
        let listed = if watch {
            zk.get_children_w(&node).await.map(|(c, w)| {
                watches.one_shot(Kind::Child, &node, w);
                c
            })
        } else {
            zk.get_children(&node).await
        };
        let mut children = match listed {
            Ok(c) => c,
            Err(e) if e.is(ErrorCode::NoNode) => continue,
            Err(e) => return Err(wrap(&e, &node)),
        };
        java_sort(&mut children);
        let paths: Vec<String> = children.iter().map(|c| child_path(&node, c)).collect();
        for child in &paths {
            visit(child.clone()).await?;
        }
        stack.extend(paths.into_iter().rev());
    }
    Ok(())
}

const STAT: Spec = Spec::new(&[flag("w", "watch")]);

pub async fn stat(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&STAT, w)?;
    if p.args.len() < 2 {
        return Err(usage_error("stat"));
    }
    let p = old_watch_form(&STAT, w, p, sh, "stat [-w] path")?;
    let path = p.args.get(1).cloned().unwrap_or_default();
    check_path(&path, false)?;
    let conn = sh.conn()?;
    let stat = if p.has("w") {
        let (stat, watch) = conn
            .client
            .exists_w(&path)
            .await
            .map_err(|e| wrap(&e, &path))?;
        let kind = if stat.is_some() {
            Kind::Data
        } else {
            Kind::Exist
        };
        conn.watches.one_shot(kind, &path, watch);
        stat
    } else {
        conn.client
            .exists(&path)
            .await
            .map_err(|e| wrap(&e, &path))?
    };
    match stat {
        Some(stat) => {
            print_stat(sh, &stat);
            Ok(())
        }
        None => Err(CliError::new(format!("Node does not exist: {path}"))),
    }
}

pub async fn sync(sh: &mut Shell, w: &[String]) -> CmdResult {
    let p = opts(&Spec::new(&[]), w)?;
    if p.args.len() < 2 {
        return Err(usage_error("sync"));
    }
    let path = &p.args[1];
    check_path(path, false)?;
    let zk = client(sh)?;
    match tokio::time::timeout(Duration::from_secs(30), zk.sync(path)).await {
        Ok(Ok(())) => sh.out.println("Sync is OK"),
        Ok(Err(e)) => match error_code(&e) {
            Some(code) => sh
                .out
                .println(&format!("Sync has failed. rc={}", code.code())),
            None => return Err(CliError::new(wrap_message(&e, Some(path)))),
        },
        // A TimeoutException has no message: zkCli prints `null`.
        Err(_) => return Err(CliError::new("null")),
    }
    Ok(())
}
