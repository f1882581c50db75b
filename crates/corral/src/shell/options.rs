//! The option parsing of zkCli's commands (Apache Commons CLI's `DefaultParser`, 1.5).
//!
//! What it reproduces: options are recognised anywhere among the words; `-sw` groups flags;
//! `-v5` and `-v=5` give a value inline; a value may be a negative number (`-v -1`); `--`
//! ends option parsing; an unknown option is an error unless it stands where a value is
//! expected; a value in double quotes loses them; an option repeated keeps its first value;
//! mutually exclusive groups (setquota, delquota). Errors carry Commons CLI's exception text,
//! which zkCli prints as is.

/// One option of a command: its name (without `-`), whether it takes a value, and the
/// description Commons CLI shows in messages.
#[derive(Debug, Clone, Copy)]
pub struct Opt {
    pub name: &'static str,
    pub arg: bool,
    pub desc: &'static str,
}

/// Shorthand for a flag.
pub const fn flag(name: &'static str, desc: &'static str) -> Opt {
    Opt {
        name,
        arg: false,
        desc,
    }
}

/// Shorthand for an option with a value.
pub const fn valued(name: &'static str, desc: &'static str) -> Opt {
    Opt {
        name,
        arg: true,
        desc,
    }
}

/// The options of a command, and at most one group of mutually exclusive ones.
#[derive(Debug, Clone, Copy)]
pub struct Spec {
    pub opts: &'static [Opt],
    /// Names of the exclusive group's members, and whether one of them is required.
    pub group: Option<(&'static [&'static str], bool)>,
}

impl Spec {
    pub const fn new(opts: &'static [Opt]) -> Spec {
        Spec { opts, group: None }
    }

    fn get(&self, name: &str) -> Option<&Opt> {
        self.opts.iter().find(|o| o.name == name)
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// The result: the plain words (the command name first) and the options found.
#[derive(Debug, Default, Clone)]
pub struct Parsed {
    pub args: Vec<String>,
    found: Vec<(&'static str, Option<String>)>,
}

impl Parsed {
    pub fn has(&self, name: &str) -> bool {
        self.found.iter().any(|(n, _)| *n == name)
    }

    /// The first value given for the option.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.found
            .iter()
            .filter(|(n, _)| *n == name)
            .find_map(|(_, v)| v.as_deref())
    }
}

const PKG: &str = "org.apache.commons.cli";

fn unrecognized(token: &str) -> String {
    format!("{PKG}.UnrecognizedOptionException: Unrecognized option: {token}")
}

struct State<'a> {
    spec: &'a Spec,
    out: Parsed,
    /// Index in `out.found` of an option still waiting for its value.
    current: Option<usize>,
    selected: Option<&'static str>,
}

impl State<'_> {
    fn check_required_arg(&self) -> Result<(), String> {
        match self.current {
            Some(i) => Err(format!(
                "{PKG}.MissingArgumentException: Missing argument for option: {}",
                self.out.found[i].0
            )),
            None => Ok(()),
        }
    }

    fn handle_option(&mut self, name: &str) -> Result<(), String> {
        self.check_required_arg()?;
        let Some(opt) = self.spec.get(name).copied() else {
            return Err(unrecognized(name));
        };
        if let Some((members, _)) = self.spec.group {
            if members.contains(&opt.name) {
                match self.selected {
                    Some(sel) if sel != opt.name => {
                        return Err(format!(
                            "{PKG}.AlreadySelectedException: The option '{}' was specified but an \
                             option from this group has already been selected: '{sel}'",
                            opt.name
                        ))
                    }
                    _ => self.selected = Some(opt.name),
                }
            }
        }
        self.out.found.push((opt.name, None));
        self.current = opt.arg.then_some(self.out.found.len() - 1);
        Ok(())
    }

    fn set_value(&mut self, value: String) {
        if let Some(i) = self.current.take() {
            self.out.found[i].1 = Some(value);
        }
    }

    /// `-abc`: flags one after the other; an option with a value takes the rest.
    fn concatenated(&mut self, token: &str) -> Result<(), String> {
        let chars: Vec<char> = token.chars().collect();
        for i in 1..chars.len() {
            let ch = chars[i].to_string();
            if !self.spec.has(&ch) {
                return Err(unrecognized(token));
            }
            self.handle_option(&ch)?;
            if self.current.is_some() && i + 1 != chars.len() {
                self.set_value(chars[i + 1..].iter().collect());
                break;
            }
        }
        Ok(())
    }

    fn short_option(&mut self, token: &str) -> Result<(), String> {
        let t = &token[1..];
        match t.find('=') {
            _ if t.chars().count() == 1 => {
                if self.spec.has(t) {
                    self.handle_option(t)
                } else {
                    Err(unrecognized(token))
                }
            }
            None if self.spec.has(t) => self.handle_option(t),
            None => self.concatenated(token),
            Some(pos) => {
                let (opt, value) = (&t[..pos], &t[pos + 1..]);
                if opt.chars().count() != 1 {
                    return Err(unrecognized(token));
                }
                if self.spec.get(opt).is_some_and(|o| o.arg) {
                    self.handle_option(opt)?;
                    self.set_value(value.to_string());
                    Ok(())
                } else {
                    self.concatenated(token)
                }
            }
        }
    }

    /// Whether a word would be taken as an option rather than as a value.
    fn is_option(&self, token: &str) -> bool {
        if !token.starts_with('-') || token.chars().count() < 2 {
            return false;
        }
        let name = &token[1..];
        let name = name.split('=').next().unwrap_or(name);
        if self.spec.has(name.trim_start_matches('-')) {
            return true;
        }
        name.chars()
            .next()
            .is_some_and(|c| c != '-' && self.spec.has(&c.to_string()))
    }
}

/// Commons CLI's `stripLeadingAndTrailingQuotes`, applied to a value given as its own word.
fn strip_quotes(s: &str) -> String {
    if s.len() > 1 && s.starts_with('"') && s.ends_with('"') && !s[1..s.len() - 1].contains('"') {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

/// Parses a command's words (the command name included) against its options.
pub fn parse(spec: &Spec, tokens: &[String]) -> Result<Parsed, String> {
    let mut st = State {
        spec,
        out: Parsed::default(),
        current: None,
        selected: None,
    };
    let mut rest_are_args = false;
    for token in tokens {
        if rest_are_args {
            st.out.args.push(token.clone());
        } else if st.current.is_some() && (!st.is_option(token) || token.parse::<f64>().is_ok()) {
            st.set_value(strip_quotes(token));
        } else if token == "--" {
            rest_are_args = true;
        } else if token == "-" || !token.starts_with('-') {
            st.out.args.push(token.clone());
        } else if token.starts_with("--") {
            return Err(unrecognized(token));
        } else {
            st.short_option(token)?;
        }
    }
    st.check_required_arg()?;
    if let Some((members, true)) = spec.group {
        if st.selected.is_none() {
            let list: Vec<String> = members
                .iter()
                .filter_map(|m| spec.get(m))
                .map(|o| format!("-{} {}", o.name, o.desc))
                .collect();
            return Err(format!(
                "{PKG}.MissingOptionException: Missing required option: [{}]",
                list.join(", ")
            ));
        }
    }
    Ok(st.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SET: Spec = Spec::new(&[flag("s", "stats"), valued("v", "version")]);
    const QUOTA: Spec = Spec {
        opts: &[
            valued("n", "num soft quota"),
            valued("b", "bytes soft quota"),
        ],
        group: Some((&["n", "b"], true)),
    };

    fn p(spec: &Spec, line: &str) -> Result<Parsed, String> {
        let words: Vec<String> = line.split(' ').map(String::from).collect();
        parse(spec, &words)
    }

    #[test]
    fn values_flags_and_positions() {
        let r = p(&SET, "set /a -s data -v 3").unwrap_or_default();
        assert_eq!(r.args, ["set", "/a", "data"]);
        assert!(r.has("s"));
        assert_eq!(r.value("v"), Some("3"));
        assert_eq!(
            p(&SET, "set -v5 /a d").unwrap_or_default().value("v"),
            Some("5")
        );
        assert_eq!(
            p(&SET, "set -v=0 /a d").unwrap_or_default().value("v"),
            Some("0")
        );
        assert_eq!(
            p(&SET, "set -v -1 /a d").unwrap_or_default().value("v"),
            Some("-1")
        );
        assert_eq!(
            p(&SET, "set -sv7 /a d").unwrap_or_default().value("v"),
            Some("7")
        );
        assert_eq!(
            p(&SET, "set -v \"2\" /a d").unwrap_or_default().value("v"),
            Some("2")
        );
        assert_eq!(
            p(&SET, "set -v 1 -v 2 /a d").unwrap_or_default().value("v"),
            Some("1")
        );
        let r = p(&SET, "set -- /a -s").unwrap_or_default();
        assert_eq!(r.args, ["set", "/a", "-s"]);
        assert!(!r.has("s"));
    }

    #[test]
    fn errors_read_as_commons_cli_prints_them() {
        let err = |spec, line| p(spec, line).err().unwrap_or_default();
        assert_eq!(
            err(&SET, "set -x /a d"),
            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -x"
        );
        assert_eq!(
            err(&SET, "set -sx /a d"),
            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -sx"
        );
        assert_eq!(
            err(&SET, "set /a d -1"),
            "org.apache.commons.cli.UnrecognizedOptionException: Unrecognized option: -1"
        );
        assert_eq!(
            err(&SET, "set -v"),
            "org.apache.commons.cli.MissingArgumentException: Missing argument for option: v"
        );
        assert_eq!(
            err(&SET, "set -v -s /a d"),
            "org.apache.commons.cli.MissingArgumentException: Missing argument for option: v"
        );
        assert_eq!(
            err(&QUOTA, "setquota /a"),
            "org.apache.commons.cli.MissingOptionException: Missing required option: \
             [-n num soft quota, -b bytes soft quota]"
        );
        assert_eq!(
            err(&QUOTA, "setquota -n 1 -b 2 /a"),
            "org.apache.commons.cli.AlreadySelectedException: The option 'b' was specified but \
             an option from this group has already been selected: 'n'"
        );
        assert!(p(&QUOTA, "setquota -n 1 -n 2 /a").is_ok());
    }
}
