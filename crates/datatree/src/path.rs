//! Znode path rules, as ZooKeeper's `PathUtils.validatePath`, and path arithmetic.

use corral_jute::codes::ErrorCode;

/// Checks a znode path as ZooKeeper's `PathUtils.validatePath` does; a bad path is
/// `BadArguments`.
///
/// A path is valid when it is `/`, or starts with `/`, does not end with `/`, and has no
/// empty component (`//`), no `.` or `..` component, and no character that ZooKeeper refuses:
/// NUL, U+0001..=U+001F, U+007F..=U+009F, U+E000..=U+F8FF (private use), U+FFF0..=U+FFFF, or
/// any character outside the Basic Multilingual Plane (Java sees those as surrogates, which
/// it refuses).
pub fn validate(path: &str) -> Result<(), ErrorCode> {
    if is_valid(path) {
        Ok(())
    } else {
        Err(ErrorCode::BadArguments)
    }
}

fn refused_char(c: char) -> bool {
    let c = u32::from(c);
    (0x01..=0x1f).contains(&c)
        || (0x7f..=0x9f).contains(&c)
        || (0xd800..=0xf8ff).contains(&c)
        || (0xfff0..=0xffff).contains(&c)
        || c > 0xffff
}

fn is_valid(path: &str) -> bool {
    if !path.starts_with('/') {
        return false;
    }
    if path == "/" {
        return true;
    }
    if path.ends_with('/') {
        return false;
    }
    // Every component after the leading '/' must be non-empty, not "." or "..", and made of
    // allowed characters.
    path[1..].split('/').all(|name| {
        !name.is_empty()
            && name != "."
            && name != ".."
            && !name.chars().any(|c| c == '\0' || refused_char(c))
    })
}

/// The parent of a path: everything before its last `/`, and `/` for a child of the root
/// (and for `/` itself). A path without `/` is its own parent's problem: it returns `""`.
pub fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) => "/",
        Some(i) => &path[..i],
        None => "",
    }
}

/// The last component of a path (after its last `/`).
pub fn name(path: &str) -> &str {
    match path.rfind('/') {
        Some(i) => &path[i + 1..],
        None => path,
    }
}

/// The length of a path as Java's `String.length()` counts it (UTF-16 code units), which is
/// what ZooKeeper's approximate data size adds up.
pub(crate) fn java_len(path: &str) -> u64 {
    if path.is_ascii() {
        path.len() as u64
    } else {
        path.encode_utf16().count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_paths() {
        for p in [
            "/",
            "/a",
            "/a/b",
            "/a.b",
            "/a..",
            "/...",
            "/.a",
            "/a/.b/c",
            "/zookeeper",
            "/a b",
            "/\u{e9}t\u{e9}",
            "/\u{ffef}",
            "/\u{a0}",
        ] {
            assert_eq!(validate(p), Ok(()), "{p:?}");
        }
    }

    #[test]
    fn invalid_paths() {
        for p in [
            "",
            "a",
            "a/b",
            "//",
            "/a/",
            "/a//b",
            "/.",
            "/..",
            "/a/.",
            "/a/..",
            "/./a",
            "/../a",
            "/a\0b",
            "/a\u{1}",
            "/a\u{1f}",
            "/a\u{7f}",
            "/a\u{9f}",
            "/a\u{e000}",
            "/a\u{f8ff}",
            "/a\u{fff0}",
            "/a\u{ffff}",
            "/a\u{1f600}",
        ] {
            assert_eq!(validate(p), Err(ErrorCode::BadArguments), "{p:?}");
        }
    }

    #[test]
    fn parent_and_name() {
        assert_eq!(parent("/a"), "/");
        assert_eq!(parent("/a/b"), "/a");
        assert_eq!(parent("/a/b/c"), "/a/b");
        assert_eq!(parent("/"), "/");
        assert_eq!(parent("a"), "");
        assert_eq!(name("/a/b"), "b");
        assert_eq!(name("/a"), "a");
        assert_eq!(name("/"), "");
    }

    #[test]
    fn java_length_counts_utf16_units() {
        assert_eq!(java_len("/abc"), 4);
        assert_eq!(java_len("/\u{e9}"), 2);
    }
}
