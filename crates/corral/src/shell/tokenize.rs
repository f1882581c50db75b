//! Splitting input into commands and words the way zkCli does.
//!
//! zkCli cuts a line into words with a regular expression: a word is either a run of
//! non-blank characters that does not start with a quote, or a complete `"..."` / `'...'`
//! string (whose quotes are then removed). A quote that has no partner is skipped. Leading
//! blanks are optional, so a line of blanks only yields one word made of a blank (zkCli then
//! reports `Command not found`). This module reproduces that matching step by step.

/// Java's `\s`: space, tab, newline, vertical tab, form feed, carriage return.
fn is_java_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{0b}' | '\u{0c}' | '\r')
}

/// The words of one command line, as zkCli's `MyCommandOptions.parseCommand` finds them.
pub fn words(line: &str) -> Vec<String> {
    let chars: Vec<char> = line.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        match match_at(&chars, start) {
            Some((word, end)) => {
                out.push(unquote(word));
                // A match is never empty, so this always moves on.
                start = end.max(start + 1);
            }
            None => start += 1,
        }
    }
    out
}

/// Tries `\s*(WORD)\s*` at `start`; the blank run backs off one character at a time when
/// no word follows it (as the regex engine's backtracking does). Returns the word and the
/// end of the whole match.
fn match_at(chars: &[char], start: usize) -> Option<(String, usize)> {
    let mut blanks = 0;
    while start + blanks < chars.len() && is_java_space(chars[start + blanks]) {
        blanks += 1;
    }
    loop {
        let at = start + blanks;
        if let Some(end) = word_at(chars, at) {
            let word: String = chars[at..end].iter().collect();
            let mut stop = end;
            while stop < chars.len() && is_java_space(chars[stop]) {
                stop += 1;
            }
            return Some((word, stop));
        }
        if blanks == 0 {
            return None;
        }
        blanks -= 1;
    }
}

/// `[^"']\S*|"[^"]*"|'[^']*'` at `at`: the end of the word, if one starts there.
fn word_at(chars: &[char], at: usize) -> Option<usize> {
    let first = *chars.get(at)?;
    if first != '"' && first != '\'' {
        let mut end = at + 1;
        while end < chars.len() && !is_java_space(chars[end]) {
            end += 1;
        }
        return Some(end);
    }
    let close = chars[at + 1..].iter().position(|&c| c == first)?;
    Some(at + 1 + close + 1)
}

/// Strips one pair of matching surrounding quotes (`^(['"])(.*)\1$`).
fn unquote(word: String) -> String {
    let mut it = word.chars();
    match (it.next(), it.next_back()) {
        (Some(a), Some(b)) if a == b && (a == '"' || a == '\'') => it.collect(),
        _ => word,
    }
}

/// Splits a `-c` argument into commands at `;` outside quotes; blank pieces are dropped.
pub fn split_commands(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (None, ';') => out.push(std::mem::take(&mut cur)),
            (None, '"' | '\'') => {
                quote = Some(c);
                cur.push(c);
            }
            (Some(q), c) if c == q => {
                quote = None;
                cur.push(c);
            }
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// Java's `String.split(sep)` for a one-character literal separator: trailing empty pieces
/// are dropped (so `",".split(",")` is empty, and `"".split(",")` is `[""]`).
pub fn java_split(s: &str, sep: char) -> Vec<&str> {
    if !s.contains(sep) {
        return vec![s];
    }
    let mut parts: Vec<&str> = s.split(sep).collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    parts
}

/// Java's `Integer.decode`: optional sign, then `0x`/`0X`/`#` (hex), a leading `0` (octal) or
/// decimal digits.
pub fn java_decode_int(s: &str) -> Option<i32> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(h) = rest
        .strip_prefix("0x")
        .or_else(|| rest.strip_prefix("0X"))
        .or_else(|| rest.strip_prefix('#'))
    {
        (16, h)
    } else if rest.len() > 1 && rest.starts_with('0') {
        (8, &rest[1..])
    } else {
        (10, rest)
    };
    if digits.is_empty() || digits.starts_with(['-', '+']) {
        return None;
    }
    let v = i64::from_str_radix(digits, radix).ok()?;
    i32::try_from(if neg { -v } else { v }).ok()
}

/// Java's `Integer.parseInt` / `Long.parseLong` accept what Rust's `parse` accepts for
/// decimal integers (an optional sign and digits).
pub fn java_parse<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(line: &str) -> Vec<String> {
        words(line)
    }

    #[test]
    fn words_like_zkcli() {
        assert_eq!(w("ls /a"), ["ls", "/a"]);
        assert_eq!(w("  ls   /p  "), ["ls", "/p"]);
        assert_eq!(
            w("create /p/q \"hello world\""),
            ["create", "/p/q", "hello world"]
        );
        assert_eq!(
            w("create /p/r 'single quoted'"),
            ["create", "/p/r", "single quoted"]
        );
        assert_eq!(w("create /p/s a\"b c\""), ["create", "/p/s", "a\"b", "c\""]);
        assert_eq!(
            w("create /p/t \"unterminated"),
            ["create", "/p/t", "unterminated"]
        );
        assert_eq!(w("create /x \"\""), ["create", "/x", ""]);
        assert_eq!(w("set -v '\"2\"' /e d"), ["set", "-v", "\"2\"", "/e", "d"]);
        // A blank-only line is one blank word; a lone quote is no word at all.
        assert_eq!(w("   "), [" "]);
        assert!(w("\"").is_empty());
        // Backtracking: at the start of a line, the blank before an unpartnered quote starts
        // a word; after a word, its trailing blanks are already consumed.
        assert_eq!(w("  \"b"), [" \"b"]);
        assert_eq!(w("a  \"b"), ["a", "b"]);
    }

    #[test]
    fn commands_split_outside_quotes() {
        assert_eq!(
            split_commands("create /a 'x;y'; ls /a ;; get /a"),
            ["create /a 'x;y'", "ls /a", "get /a"]
        );
        assert!(split_commands(" ; ").is_empty());
    }

    #[test]
    fn java_helpers() {
        assert_eq!(java_split("a,b,,", ','), ["a", "b"]);
        assert_eq!(java_split("", ','), [""]);
        assert!(java_split(",", ',').is_empty());
        assert_eq!(java_split(",a", ','), ["", "a"]);
        assert_eq!(java_decode_int("0x1"), Some(1));
        assert_eq!(java_decode_int("010"), Some(8));
        assert_eq!(java_decode_int("-#10"), Some(-16));
        assert_eq!(java_decode_int("12"), Some(12));
        assert_eq!(java_decode_int("x"), None);
        assert_eq!(java_decode_int("0x"), None);
        assert_eq!(java_parse::<i32>("+5"), Some(5));
        assert_eq!(java_parse::<i32>("1x"), None);
    }
}
