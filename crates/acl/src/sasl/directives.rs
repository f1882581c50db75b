//! The `key=value, key="quoted value", ...` lists DIGEST-MD5 messages are made of
//! (RFC 2831, section 7.1: `#rule` lists of `auth-param`), read the way Java's DIGEST-MD5
//! server reads a client's response: keys compared without case, linear white space (space,
//! tab, CR, LF) around separators ignored, empty list elements skipped, `\x` inside quotes
//! meaning `x`.

use super::SaslError;

/// One directive: its key in lower case and its value with quotes and escapes removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The key, lower-cased.
    pub key: String,
    /// The value's bytes.
    pub value: Vec<u8>,
}

fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn skip_lws(buf: &[u8], mut i: usize) -> usize {
    while i < buf.len() && is_lws(buf[i]) {
        i += 1;
    }
    i
}

fn malformed(why: impl Into<String>) -> SaslError {
    SaslError::Malformed(why.into())
}

/// Splits `buf` into directives, in order (duplicates are kept: the caller decides).
pub fn parse(buf: &[u8]) -> Result<Vec<Directive>, SaslError> {
    let mut out = Vec::new();
    let mut i = skip_lws(buf, 0);
    while i < buf.len() {
        if buf[i] == b',' {
            // An empty list element.
            i = skip_lws(buf, i + 1);
            continue;
        }
        let key_start = i;
        while i < buf.len() && !is_lws(buf[i]) && buf[i] != b'=' && buf[i] != b',' {
            i += 1;
        }
        let key = String::from_utf8_lossy(&buf[key_start..i]).to_ascii_lowercase();
        i = skip_lws(buf, i);
        if i >= buf.len() {
            // A last key without '=': an empty value, as Java's parser takes it.
            out.push(Directive {
                key,
                value: Vec::new(),
            });
            break;
        }
        match buf[i] {
            b'=' if key.is_empty() => return Err(malformed("empty directive key")),
            b'=' => {}
            b',' => return Err(malformed(format!("directive key {key:?} contains a ','"))),
            _ => return Err(malformed(format!("'=' expected after key {key:?}"))),
        }
        i = skip_lws(buf, i + 1);
        if i >= buf.len() {
            return Err(malformed(format!("directive {key:?} has no value")));
        }
        let mut value = Vec::new();
        if buf[i] == b'"' {
            i += 1;
            loop {
                match buf.get(i) {
                    None => return Err(malformed(format!("unmatched quote in {key:?}"))),
                    Some(b'\\') => {
                        let escaped = buf
                            .get(i + 1)
                            .ok_or_else(|| malformed(format!("unmatched quote in {key:?}")))?;
                        value.push(*escaped);
                        i += 2;
                    }
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(b) => {
                        value.push(*b);
                        i += 1;
                    }
                }
            }
            if i < buf.len() && !is_lws(buf[i]) && buf[i] != b',' {
                return Err(malformed(format!(
                    "comma or white space expected after the quoted value of {key:?}"
                )));
            }
        } else {
            while i < buf.len() && !is_lws(buf[i]) && buf[i] != b',' {
                value.push(buf[i]);
                i += 1;
            }
        }
        out.push(Directive { key, value });
        // Skip the separator (white space and at most one comma are both fine).
        i = skip_lws(buf, i);
        if i < buf.len() && buf[i] == b',' {
            i = skip_lws(buf, i + 1);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text.as_bytes())
            .expect("well formed")
            .into_iter()
            .map(|d| (d.key, String::from_utf8_lossy(&d.value).into_owned()))
            .collect()
    }

    fn pair(k: &str, v: &str) -> (String, String) {
        (k.to_string(), v.to_string())
    }

    #[test]
    fn quoted_unquoted_escaped_and_case() {
        assert_eq!(
            pairs(r#"UserName="jaas\user", nc=00000001 ,qop="auth""#),
            vec![
                pair("username", "jaasuser"),
                pair("nc", "00000001"),
                pair("qop", "auth")
            ]
        );
    }

    #[test]
    fn empty_elements_and_white_space_are_skipped() {
        assert_eq!(
            pairs(",, a=1,,\r\n b = \"x y\" ,"),
            vec![pair("a", "1"), pair("b", "x y")]
        );
        assert_eq!(pairs(""), vec![]);
        // A trailing key without a value, as Java's parser keeps it.
        assert_eq!(pairs("a=1,b"), vec![pair("a", "1"), pair("b", "")]);
    }

    #[test]
    fn malformed_lists_are_errors() {
        for bad in [
            "=x", "a b=1", "a,b=1", "a=", "a=\"open", "a=\"x\\", "a=\"x\"y",
        ] {
            assert!(
                matches!(parse(bad.as_bytes()), Err(SaslError::Malformed(_))),
                "{bad:?}"
            );
        }
    }
}
