//! The JAAS login configuration file (`-Djava.security.auth.login.config=FILE`), as Java's
//! `ConfigFile` reads it, and the DIGEST-MD5 users of its `Server` section:
//!
//! ```text
//! // or /* */ comments
//! Server {
//!     org.apache.zookeeper.server.auth.DigestLoginModule required
//!     user_super="adminsecret"
//!     user_bob="bobsecret";
//! };
//! Client { ... };
//! ```
//!
//! A section is a name, `{`, login-module entries each ending with `;`, then `};`. An entry is
//! a class name, a flag (`required`, `requisite`, `sufficient`, `optional`, any case) and
//! `key=value` options; names and values are words (letters, digits, `. _ - $ *`, not starting
//! with a digit or `.`) or quoted strings (`"..."` or `'...'`, with `\n \t \\ \"` and octal
//! escapes). A name may not name two sections. Java's `${property}` expansion in values is not
//! done: such a value is taken as written.

use std::collections::BTreeMap;

/// A JAAS file that could not be read, with the line (from 1) where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct JaasError {
    /// The line of the offending token.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

/// A login module's control flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlFlag {
    /// `required`
    Required,
    /// `requisite`
    Requisite,
    /// `sufficient`
    Sufficient,
    /// `optional`
    Optional,
}

/// One login-module entry of a section.
#[derive(Clone, PartialEq, Eq)]
pub struct LoginModule {
    /// The module's class, e.g. `org.apache.zookeeper.server.auth.DigestLoginModule`.
    pub class: String,
    /// Its flag.
    pub flag: ControlFlag,
    /// Its options (a later repeat of a key replaces the earlier value, as in Java's map).
    pub options: BTreeMap<String, String>,
    /// The line its class name is on.
    pub line: usize,
}

impl std::fmt::Debug for LoginModule {
    /// Option values are left out: they are passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginModule")
            .field("class", &self.class)
            .field("flag", &self.flag)
            .field("options", &self.options.keys().collect::<Vec<_>>())
            .field("line", &self.line)
            .finish()
    }
}

/// A named section: the login modules an application (ZooKeeper's server: `Server`) uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasSection {
    /// The section's name.
    pub name: String,
    /// Its entries, in file order.
    pub modules: Vec<LoginModule>,
}

/// A parsed JAAS file: its sections in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JaasConfig {
    /// The sections.
    pub sections: Vec<JaasSection>,
}

impl JaasConfig {
    /// Parses the text of a JAAS file.
    pub fn parse(text: &str) -> Result<JaasConfig, JaasError> {
        Parser::new(text)?.file()
    }

    /// The section called `name` (names are case-sensitive).
    pub fn section(&self, name: &str) -> Option<&JaasSection> {
        self.sections.iter().find(|s| s.name == name)
    }
}

/// The one login module a ZooKeeper server section may use for DIGEST-MD5.
pub const DIGEST_LOGIN_MODULE: &str = "org.apache.zookeeper.server.auth.DigestLoginModule";

/// The users DIGEST-MD5 may authenticate, and their passwords.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct DigestCredentials {
    users: BTreeMap<String, String>,
}

impl std::fmt::Debug for DigestCredentials {
    /// Passwords are left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestCredentials")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl DigestCredentials {
    /// The users of a server section, as ZooKeeper's `SaslServerCallbackHandler` collects
    /// them: every option `user_<name>="<password>"` of every entry (a later one wins).
    /// Entries of another login module than [`DIGEST_LOGIN_MODULE`] are refused, naming their
    /// line: with one (e.g. Kerberos' Krb5LoginModule) ZooKeeper would serve GSSAPI, which
    /// Corral does not.
    pub fn from_section(section: &JaasSection) -> Result<DigestCredentials, JaasError> {
        let mut users = BTreeMap::new();
        for module in &section.modules {
            if module.class != DIGEST_LOGIN_MODULE {
                return Err(JaasError {
                    line: module.line,
                    message: format!(
                        "section {}: login module {} is not supported (Corral serves \
                         DIGEST-MD5 only, with {DIGEST_LOGIN_MODULE})",
                        section.name, module.class
                    ),
                });
            }
            for (key, value) in &module.options {
                if let Some(user) = key.strip_prefix("user_") {
                    users.insert(user.to_string(), value.clone());
                }
            }
        }
        Ok(DigestCredentials { users })
    }

    /// Credentials from `(user, password)` pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        DigestCredentials {
            users: pairs
                .into_iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
        }
    }

    /// Sets (or replaces) a user's password.
    pub fn set_password(&mut self, user: &str, password: &str) {
        self.users.insert(user.to_string(), password.to_string());
    }

    /// The password of `user`, if it is one.
    pub fn password(&self, user: &str) -> Option<&str> {
        self.users.get(user).map(String::as_str)
    }

    /// The user names, sorted.
    pub fn users(&self) -> impl Iterator<Item = &str> {
        self.users.keys().map(String::as_str)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Number(String),
    Char(char),
    End,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(w) => format!("{w:?}"),
            Token::Quoted(q) => format!("quoted string {q:?}"),
            Token::Number(n) => format!("number {n}"),
            Token::Char(c) => format!("'{c}'"),
            Token::End => "end of file".to_string(),
        }
    }
}

/// Java's StreamTokenizer as ConfigFile sets it up: words, quoted strings, numbers (a token
/// starting with a digit or `.`), `//` and `/* */` comments, a lone `/` comments out the rest
/// of its line, every other character stands for itself.
fn tokenize(text: &str) -> Result<Vec<(Token, usize)>, JaasError> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let is_word = |c: char| c.is_ascii_alphanumeric() || "._-$*".contains(c) || u32::from(c) >= 160;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c == '\r' {
            if chars.get(i + 1) != Some(&'\n') {
                line += 1;
            }
            i += 1;
        } else if u32::from(c) <= 32 {
            i += 1;
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            let start = line;
            i += 2;
            loop {
                match chars.get(i) {
                    None => {
                        return Err(JaasError {
                            line: start,
                            message: "comment /* is never closed".into(),
                        })
                    }
                    Some('*') if chars.get(i + 1) == Some(&'/') => {
                        i += 2;
                        break;
                    }
                    Some('\n') => {
                        line += 1;
                        i += 1;
                    }
                    Some(_) => i += 1,
                }
            }
        } else if c == '/' {
            // `//` comment, or a lone '/' (StreamTokenizer's default comment character).
            while i < chars.len() && chars[i] != '\n' && chars[i] != '\r' {
                i += 1;
            }
        } else if c == '"' || c == '\'' {
            let (s, next) = quoted(&chars, i, line)?;
            out.push((Token::Quoted(s), line));
            i = next;
        } else if c.is_ascii_digit() || c == '.' {
            let start = i;
            while i < chars.len() && is_word(chars[i]) {
                i += 1;
            }
            out.push((Token::Number(chars[start..i].iter().collect()), line));
        } else if is_word(c) {
            let start = i;
            while i < chars.len() && is_word(chars[i]) {
                i += 1;
            }
            out.push((Token::Word(chars[start..i].iter().collect()), line));
        } else {
            out.push((Token::Char(c), line));
            i += 1;
        }
    }
    out.push((Token::End, line));
    Ok(out)
}

/// A quoted string starting at `chars[start]` (its quote): the text and the index after it.
fn quoted(chars: &[char], start: usize, line: usize) -> Result<(String, usize), JaasError> {
    let quote = chars[start];
    let mut s = String::new();
    let mut i = start + 1;
    let unterminated = || JaasError {
        line,
        message: format!("quoted string starting with {quote} is not closed on its line"),
    };
    loop {
        let c = *chars.get(i).ok_or_else(unterminated)?;
        i += 1;
        match c {
            '\n' | '\r' => return Err(unterminated()),
            c if c == quote => return Ok((s, i)),
            '\\' => {
                let e = *chars.get(i).ok_or_else(unterminated)?;
                i += 1;
                match e {
                    'a' => s.push('\u{7}'),
                    'b' => s.push('\u{8}'),
                    'f' => s.push('\u{c}'),
                    'n' => s.push('\n'),
                    'r' => s.push('\r'),
                    't' => s.push('\t'),
                    'v' => s.push('\u{b}'),
                    '0'..='7' => {
                        // Up to three octal digits (at most \377).
                        let max = if e <= '3' { 2 } else { 1 };
                        let mut value = e as u32 - '0' as u32;
                        for _ in 0..max {
                            match chars.get(i) {
                                Some(d @ '0'..='7') => {
                                    value = value * 8 + (*d as u32 - '0' as u32);
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        s.push(char::from_u32(value).unwrap_or('\u{fffd}'));
                    }
                    other => s.push(other),
                }
            }
            c => s.push(c),
        }
    }
}

struct Parser {
    tokens: Vec<(Token, usize)>,
    pos: usize,
}

impl Parser {
    fn new(text: &str) -> Result<Parser, JaasError> {
        Ok(Parser {
            tokens: tokenize(text)?,
            pos: 0,
        })
    }

    fn peek(&self) -> &(Token, usize) {
        // tokenize always ends with Token::End, and `next` never moves past it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn next(&mut self) -> (Token, usize) {
        let t = self.peek().clone();
        if t.0 != Token::End {
            self.pos += 1;
        }
        t
    }

    fn error(line: usize, expected: &str, found: &Token) -> JaasError {
        JaasError {
            line,
            message: format!("expected {expected}, found {}", found.describe()),
        }
    }

    /// A word or quoted string.
    fn name(&mut self, expected: &str) -> Result<(String, usize), JaasError> {
        match self.next() {
            (Token::Word(s) | Token::Quoted(s), line) => Ok((s, line)),
            (other, line) => Err(Parser::error(line, expected, &other)),
        }
    }

    fn punct(&mut self, c: char) -> Result<(), JaasError> {
        match self.next() {
            (Token::Char(x), _) if x == c => Ok(()),
            (other, line) => Err(Parser::error(line, &format!("'{c}'"), &other)),
        }
    }

    fn at(&self, c: char) -> bool {
        self.peek().0 == Token::Char(c)
    }

    fn file(&mut self) -> Result<JaasConfig, JaasError> {
        let mut config = JaasConfig::default();
        while self.peek().0 != Token::End {
            let (name, line) = self.name("a section name")?;
            if config.section(&name).is_some() {
                return Err(JaasError {
                    line,
                    message: format!("section {name} is given twice"),
                });
            }
            self.punct('{')?;
            let mut modules = Vec::new();
            while !self.at('}') {
                modules.push(self.module()?);
            }
            self.punct('}')?;
            self.punct(';')?;
            config.sections.push(JaasSection { name, modules });
        }
        Ok(config)
    }

    fn module(&mut self) -> Result<LoginModule, JaasError> {
        let (class, line) = self.name("a login module class name or '}'")?;
        let (flag_text, flag_line) = self.name("a control flag")?;
        let flag = match flag_text.to_ascii_uppercase().as_str() {
            "REQUIRED" => ControlFlag::Required,
            "REQUISITE" => ControlFlag::Requisite,
            "SUFFICIENT" => ControlFlag::Sufficient,
            "OPTIONAL" => ControlFlag::Optional,
            _ => {
                return Err(JaasError {
                    line: flag_line,
                    message: format!(
                        "invalid control flag {flag_text:?} (required, requisite, sufficient \
                         or optional)"
                    ),
                })
            }
        };
        let mut options = BTreeMap::new();
        while !self.at(';') {
            let (key, _) = self.name("an option name or ';'")?;
            self.punct('=')?;
            let (value, _) = self.name("an option value")?;
            options.insert(key, value);
        }
        self.punct(';')?;
        Ok(LoginModule {
            class,
            flag,
            options,
            line,
        })
    }
}
