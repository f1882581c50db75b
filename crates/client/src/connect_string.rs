//! Connect strings (`host1:2181,host2:2181/app`) and path checks, as ZooKeeper's
//! `ConnectStringParser` and `PathUtils.validatePath` define them.

use crate::error::{Error, Result};

/// The port used when a host gives none.
pub const DEFAULT_PORT: u16 = 2181;

/// A parsed connect string: the servers to try and the optional chroot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectString {
    /// `(host, port)` pairs in the order given.
    pub hosts: Vec<(String, u16)>,
    /// The chroot (`/app`), `None` when absent or `/`.
    pub chroot: Option<String>,
}

impl ConnectString {
    /// Parses `host[:port][,host[:port]...][/chroot]`. IPv6 hosts are bracketed
    /// (`[::1]:2181`).
    pub fn parse(s: &str) -> Result<ConnectString> {
        let bad = |why: &str| Error::InvalidArgument(format!("connect string {s:?}: {why}"));
        let (hosts_part, chroot) = match s.find('/') {
            Some(i) => {
                let root = &s[i..];
                validate_path(root, false).map_err(|_| bad("invalid chroot"))?;
                let chroot = if root == "/" {
                    None
                } else {
                    Some(root.to_string())
                };
                (&s[..i], chroot)
            }
            None => (s, None),
        };
        let mut hosts = Vec::new();
        for raw in hosts_part.split(',') {
            let raw = raw.trim();
            if raw.is_empty() {
                continue;
            }
            let (host, port) = if let Some(rest) = raw.strip_prefix('[') {
                let end = rest.find(']').ok_or_else(|| bad("unclosed '['"))?;
                let host = &rest[..end];
                let after = &rest[end + 1..];
                let port = match after.strip_prefix(':') {
                    Some(p) => p.parse().map_err(|_| bad("bad port"))?,
                    None if after.is_empty() => DEFAULT_PORT,
                    None => return Err(bad("junk after ']'")),
                };
                (host.to_string(), port)
            } else {
                match raw.rsplit_once(':') {
                    Some((h, p)) => (h.to_string(), p.parse().map_err(|_| bad("bad port"))?),
                    None => (raw.to_string(), DEFAULT_PORT),
                }
            };
            if host.is_empty() {
                return Err(bad("empty host"));
            }
            hosts.push((host, port));
        }
        if hosts.is_empty() {
            return Err(bad("no host"));
        }
        Ok(ConnectString { hosts, chroot })
    }
}

/// Checks a znode path the way `PathUtils.validatePath` does: absolute, no empty, `.` or
/// `..` components, no trailing `/` (except for the root, or a sequential create's prefix),
/// no NUL or control characters.
pub fn validate_path(path: &str, sequential: bool) -> Result<()> {
    let bad = |why: &str| Error::InvalidArgument(format!("path {path:?}: {why}"));
    if !path.starts_with('/') {
        return Err(bad("must start with '/'"));
    }
    if path.len() == 1 {
        return if sequential {
            Err(bad("sequential create needs a prefix"))
        } else {
            Ok(())
        };
    }
    let body = if sequential && path.ends_with('/') {
        &path[1..path.len() - 1]
    } else {
        if path.ends_with('/') {
            return Err(bad("must not end with '/'"));
        }
        &path[1..]
    };
    if body.is_empty() && sequential {
        return Ok(());
    }
    for part in body.split('/') {
        match part {
            "" => return Err(bad("empty component")),
            "." | ".." => return Err(bad("relative component")),
            _ => {}
        }
    }
    if path.chars().any(|c| {
        c == '\0'
            || ('\u{1}'..='\u{1f}').contains(&c)
            || ('\u{7f}'..='\u{9f}').contains(&c)
            || ('\u{e000}'..='\u{f8ff}').contains(&c)
            || ('\u{fff0}'..='\u{ffff}').contains(&c)
    }) {
        return Err(bad("invalid character"));
    }
    Ok(())
}

/// Prepends the chroot to a client path.
pub(crate) fn to_server(chroot: Option<&str>, path: &str) -> String {
    match chroot {
        None => path.to_string(),
        Some(root) if path == "/" => root.to_string(),
        Some(root) => format!("{root}{path}"),
    }
}

/// Strips the chroot from a server path; paths outside the chroot are returned unchanged.
pub(crate) fn to_client(chroot: Option<&str>, path: &str) -> String {
    match chroot {
        None => path.to_string(),
        Some(root) => match path.strip_prefix(root) {
            Some("") => "/".to_string(),
            Some(rest) if rest.starts_with('/') => rest.to_string(),
            _ => path.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hosts_ports_and_chroot() {
        let c = ConnectString::parse("a:1,b,[::1]:3/app/x").unwrap();
        assert_eq!(
            c.hosts,
            vec![
                ("a".to_string(), 1),
                ("b".to_string(), DEFAULT_PORT),
                ("::1".to_string(), 3)
            ]
        );
        assert_eq!(c.chroot.as_deref(), Some("/app/x"));
        assert_eq!(ConnectString::parse("h:2/").unwrap().chroot, None);
        assert!(ConnectString::parse("").is_err());
        assert!(ConnectString::parse("h:x").is_err());
        assert!(ConnectString::parse("h:1/a/").is_err());
        assert!(ConnectString::parse("h:1//a").is_err());
    }

    #[test]
    fn paths() {
        for ok in ["/", "/a", "/a/b", "/a.b", "/..a"] {
            validate_path(ok, false).unwrap();
        }
        for bad in ["", "a", "/a/", "//", "/a//b", "/a/./b", "/a/..", "/a\0"] {
            assert!(validate_path(bad, false).is_err(), "{bad:?}");
        }
        validate_path("/a/", true).unwrap();
        validate_path("/a/lock-", true).unwrap();
        assert!(validate_path("/", true).is_err());
    }

    #[test]
    fn chroot_mapping() {
        assert_eq!(to_server(Some("/app"), "/"), "/app");
        assert_eq!(to_server(Some("/app"), "/x"), "/app/x");
        assert_eq!(to_client(Some("/app"), "/app"), "/");
        assert_eq!(to_client(Some("/app"), "/app/x"), "/x");
        assert_eq!(to_client(Some("/app"), "/apple"), "/apple");
        assert_eq!(to_client(None, "/x"), "/x");
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,64}") {
            let _ = ConnectString::parse(&s);
            let _ = validate_path(&s, false);
            let _ = validate_path(&s, true);
        }
    }
}
