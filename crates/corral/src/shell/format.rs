//! zkCli's ways of printing things: Stat, dates, ACL entries, lists and watch events.

use corral_client::{perms, Id, Stat};

/// The eleven lines zkCli's `StatPrinter` prints.
pub fn stat_lines(s: &Stat) -> Vec<String> {
    vec![
        format!("cZxid = 0x{:x}", s.czxid),
        format!("ctime = {}", java_date(s.ctime)),
        format!("mZxid = 0x{:x}", s.mzxid),
        format!("mtime = {}", java_date(s.mtime)),
        format!("pZxid = 0x{:x}", s.pzxid),
        format!("cversion = {}", s.cversion),
        format!("dataVersion = {}", s.version),
        format!("aclVersion = {}", s.aversion),
        format!("ephemeralOwner = 0x{:x}", s.ephemeral_owner),
        format!("dataLength = {}", s.data_length),
        format!("numChildren = {}", s.num_children),
    ]
}

pub use corral_server::fourlw::java_date;

/// `ZKUtil.getPermString`: the letters of the granted permissions in the order c d r w a.
pub fn perm_string(p: i32) -> String {
    [
        (perms::CREATE, 'c'),
        (perms::DELETE, 'd'),
        (perms::READ, 'r'),
        (perms::WRITE, 'w'),
        (perms::ADMIN, 'a'),
    ]
    .iter()
    .filter(|(bit, _)| p & bit != 0)
    .map(|(_, c)| *c)
    .collect()
}

/// An `Id` as its jute `toString()` prints it: `'scheme,'id` and a newline, with `%`, `,`,
/// `}`, NUL, CR and LF escaped.
pub fn id_string(id: &Id) -> String {
    format!("'{},'{}\n", csv_escape(&id.scheme), csv_escape(&id.id))
}

fn csv_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\0' => out.push_str("%00"),
            '\n' => out.push_str("%0A"),
            '\r' => out.push_str("%0D"),
            ',' => out.push_str("%2C"),
            '}' => out.push_str("%7D"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// Java's `List.toString()`: `[a, b, c]`.
pub fn java_list<S: AsRef<str>>(items: &[S]) -> String {
    let parts: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    format!("[{}]", parts.join(", "))
}

/// Sorts as Java's `Collections.sort` on strings does (by UTF-16 code units).
pub fn java_sort(items: &mut [String]) {
    items.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
}

/// Data as zkCli prints it: UTF-8 (malformed bytes replaced), `null` for null data.
pub fn data_text(data: Option<&[u8]>) -> String {
    match data {
        Some(d) => String::from_utf8_lossy(d).into_owned(),
        None => "null".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_acl_and_lists() {
        let s = Stat {
            czxid: 0x12,
            ephemeral_owner: -1,
            ..Default::default()
        };
        let lines = stat_lines(&s);
        assert_eq!(lines[0], "cZxid = 0x12");
        assert_eq!(lines[8], "ephemeralOwner = 0xffffffffffffffff");
        assert_eq!(lines.len(), 11);
        assert_eq!(perm_string(31), "cdrwa");
        assert_eq!(perm_string(3), "rw");
        let id = Id {
            scheme: "digest".into(),
            id: "u,1:x%".into(),
        };
        assert_eq!(id_string(&id), "'digest,'u%2C1:x%25\n");
        assert_eq!(java_list(&["a", "b"]), "[a, b]");
        assert_eq!(java_list::<&str>(&[]), "[]");
        let mut v = vec!["b".to_string(), "a".into(), "B".into()];
        java_sort(&mut v);
        assert_eq!(v, ["B", "a", "b"]);
        assert_eq!(data_text(None), "null");
        assert_eq!(data_text(Some(b"x\xffy")), "x\u{fffd}y");
    }
}
