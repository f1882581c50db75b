//! Failures of a shell command, with the text and exit status zkCli gives them.

use corral_client::{Error, ErrorCode};

/// A failed command: zkCli prints the message on stderr and the shell's exit status becomes
/// `code` (1, or 127 for an unknown command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    pub msg: String,
    pub code: i32,
}

impl CliError {
    pub fn new(msg: impl Into<String>) -> CliError {
        CliError {
            msg: msg.into(),
            code: 1,
        }
    }
}

pub type CmdResult = Result<(), CliError>;

/// The ZooKeeper error code behind a client error; connection-level failures map to the code
/// Java's client would report for them.
pub fn error_code(e: &Error) -> Option<ErrorCode> {
    match e {
        Error::Closed => Some(ErrorCode::ConnectionLoss),
        e => e.code(),
    }
}

/// `KeeperException.getMessage()`: `KeeperErrorCode = <text> for <path>` (no path part when
/// the path is unknown or empty).
pub fn keeper_message(code: ErrorCode, path: Option<&str>) -> String {
    match path {
        Some(p) if !p.is_empty() => format!("KeeperErrorCode = {} for {p}", code.message()),
        _ => format!("KeeperErrorCode = {}", code.message()),
    }
}

/// The text zkCli prints for a client error of an operation on `path`
/// (`CliWrapperException`); `None` is a path Java's client does not know (printed `null`).
pub fn wrap_message(e: &Error, path: Option<&str>) -> String {
    let Some(code) = error_code(e) else {
        return e.to_string();
    };
    let p = path.unwrap_or("null");
    match code {
        ErrorCode::NoNode => format!("Node does not exist: {p}"),
        ErrorCode::NoChildrenForEphemerals => format!("Ephemerals cannot have children: {p}"),
        ErrorCode::NodeExists => format!("Node already exists: {p}"),
        ErrorCode::NotEmpty => format!("Node not empty: {p}"),
        ErrorCode::NotReadOnly => format!("Not a read-only call: {p}"),
        ErrorCode::InvalidAcl => format!("Acl is not valid : {p}"),
        ErrorCode::NoAuth => format!("Insufficient permission : {p}"),
        ErrorCode::BadArguments => format!("Arguments are not valid : {p}"),
        ErrorCode::BadVersion => format!("version No is not valid : {p}"),
        ErrorCode::ReconfigInProgress => {
            "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
                .to_string()
        }
        ErrorCode::NewConfigNoQuorum => "No quorum of new config is connected and up-to-date \
            with the leader of last commmitted config - try invoking reconfiguration after new \
            servers are connected and synced"
            .to_string(),
        ErrorCode::QuotaExceeded => format!("Quota has exceeded : {p}"),
        code => keeper_message(code, path),
    }
}

/// A client error of an operation on `path`, as zkCli reports it.
pub fn wrap(e: &Error, path: &str) -> CliError {
    CliError::new(wrap_message(e, Some(path)))
}

/// Java's `NumberFormatException` text for a number zkCli parses without checking (zkCli
/// itself dies of it; the shell reports it and goes on).
pub fn number_format(input: &str) -> CliError {
    CliError::new(format!(
        "java.lang.NumberFormatException: For input string: \"{input}\""
    ))
}

/// ZooKeeper's client-side path check (`PathUtils.validatePath`), with its messages.
/// Positions count UTF-16 code units, as Java's do.
pub fn validate_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("Path length must be > 0".into());
    }
    if !path.starts_with('/') {
        return Err("Path must start with / character".into());
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err("Path must not end with / character".into());
    }
    let units: Vec<u16> = path.encode_utf16().collect();
    let mut reason = None;
    for i in 1..units.len() {
        let (c, last) = (units[i], units[i - 1]);
        let ends_segment = i + 1 == units.len() || units[i + 1] == u16::from(b'/');
        let slash = u16::from(b'/');
        let dot = u16::from(b'.');
        if c == 0 {
            reason = Some(format!("null character not allowed @{i}"));
        } else if c == slash && last == slash {
            reason = Some(format!("empty node name specified @{i}"));
        } else if c == dot && last == dot {
            if i >= 2 && units[i - 2] == slash && ends_segment {
                reason = Some(format!("relative paths not allowed @{i}"));
            }
        } else if c == dot {
            if last == slash && ends_segment {
                reason = Some(format!("relative paths not allowed @{i}"));
            }
        } else if (c > 0 && c <= 0x1f)
            || (0x7f..=0x9f).contains(&c)
            || (0xd800..=0xf8ff).contains(&c)
            || c >= 0xfff0
        {
            reason = Some(format!("invalid character @{i}"));
        }
        if reason.is_some() {
            break;
        }
    }
    match reason {
        Some(r) => Err(format!("Invalid path string \"{path}\" caused by {r}")),
        None => Ok(()),
    }
}

/// Checks a path as the client would before sending: the message is zkCli's
/// `MalformedPathException` text. `sequential` checks the path with a suffix, as a
/// sequential create does.
pub fn check_path(path: &str, sequential: bool) -> CmdResult {
    let checked = if sequential {
        validate_path(&format!("{path}1"))
    } else {
        validate_path(path)
    };
    checked.map_err(CliError::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_messages_match_zookeeper() {
        assert!(validate_path("/").is_ok());
        assert!(validate_path("/a/b.c/..d").is_ok());
        assert_eq!(
            validate_path("t1").err().as_deref(),
            Some("Path must start with / character")
        );
        assert_eq!(
            validate_path("/t1/").err().as_deref(),
            Some("Path must not end with / character")
        );
        assert_eq!(
            validate_path("/p/./x").err().as_deref(),
            Some("Invalid path string \"/p/./x\" caused by relative paths not allowed @3")
        );
        assert_eq!(
            validate_path("/p//x").err().as_deref(),
            Some("Invalid path string \"/p//x\" caused by empty node name specified @3")
        );
        assert_eq!(
            validate_path("/p/..").err().as_deref(),
            Some("Invalid path string \"/p/..\" caused by relative paths not allowed @4")
        );
        assert_eq!(
            validate_path("/a\u{1}").err().as_deref(),
            Some("Invalid path string \"/a\u{1}\" caused by invalid character @2")
        );
        assert!(validate_path("/\u{1F600}").is_err());
        assert!(validate_path("/ü").is_ok());
        assert!(check_path("/a/", true).is_ok());
    }

    #[test]
    fn wrapped_messages() {
        let e = |code| Error::Api { code };
        assert_eq!(
            wrap_message(&e(ErrorCode::NoNode), Some("/x")),
            "Node does not exist: /x"
        );
        assert_eq!(
            wrap_message(&e(ErrorCode::InvalidAcl), None),
            "Acl is not valid : null"
        );
        assert_eq!(
            wrap_message(&e(ErrorCode::NoWatcher), Some("/w")),
            "KeeperErrorCode = No such watcher for /w"
        );
        assert_eq!(
            wrap_message(&e(ErrorCode::ReconfigDisabled), Some("")),
            "KeeperErrorCode = Reconfig is disabled"
        );
        assert_eq!(
            wrap_message(&Error::ConnectionLoss, Some("/a")),
            "KeeperErrorCode = ConnectionLoss for /a"
        );
    }
}
