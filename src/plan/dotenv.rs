//! The production env file read exactly as Compose reads it.
//!
//! A port of compose-go's `dotenv` parser (`dotenv/parser.go`, the reader
//! behind `docker compose --env-file`): statements start at the first
//! non-space character, `#` opens a comment line, `export ` is dropped,
//! `KEY=` or `KEY:` opens a value; single quotes are literal except that a
//! backslash keeps the quote; double quotes take the escapes `\a \b \f \n
//! \r \t \v \\ \" \$` and `\0NNN` (octal) and may span lines; both quoted
//! and bare values are then interpolated (`$$` is a dollar, `$NAME` and
//! `${...}` are variables); a bare value ends at the line's end or at
//! ` #`, and loses its trailing space.
//!
//! Where Compose's reading depends on something outside the file (the
//! environment of whoever runs `docker compose`: `$NAME`, `${NAME}`, a key
//! alone on its line), or where Compose reads a line as something other
//! than what it looks like (text after a closing quote is another
//! statement; a key twice, the last one wins; a byte that is not UTF-8),
//! this reader refuses the file and says where: ragc never holds a value
//! Compose would read differently.

use std::ops::Range;

/// One `KEY=value` of the file, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub key: String,
    /// The value as Compose reads it.
    pub value: String,
    /// Bytes of the lines the statement spans: from the start of the
    /// key's line to just after the line end that follows the value.
    pub lines: Range<usize>,
    /// The 1-based line of the key.
    pub line: usize,
}

/// Why a file is refused: where, what, and the way out. Never holds a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    /// 1-based line and column (in characters).
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub help: String,
}

/// Compose's `isSpace`: space but not a line break.
fn is_space(c: char) -> bool {
    matches!(c, '\t' | '\u{0b}' | '\u{0c}' | '\r' | ' ' | '\u{85}' | '\u{a0}')
}

/// A name Compose interpolates, and one ragc accepts as a key.
pub fn is_var(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Reads every statement of `bytes`, or says why Compose's reading can't be
/// held identically.
///
/// # Errors
/// See the module's documentation.
pub fn parse(bytes: &[u8]) -> Result<Vec<Statement>, Unreadable> {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.valid_up_to();
            let (line, column) = position(&String::from_utf8_lossy(&bytes[..at]), at);
            return Err(Unreadable {
                line,
                column,
                message: "a byte that is not UTF-8".to_string(),
                help: "ragc keeps secrets as UTF-8 text; write the value in UTF-8 (or encode binary material, e.g. base64)".to_string(),
            });
        }
    };
    let start = if text.starts_with('\u{feff}') { '\u{feff}'.len_utf8() } else { 0 };
    let mut statements: Vec<Statement> = Vec::new();
    let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut pos = start;
    // The line at `pos`, counted as the reader goes (not from the start for each statement).
    let mut line = 1;
    while let Some(at) = statement_start(text, pos) {
        line += newlines(&text[pos..at]);
        let statement = statement_at(text, at, line)?;
        if let Some(first) = seen.get(&statement.key) {
            return Err(unreadable(
                text,
                at,
                format!("`{}` is set twice (lines {first} and {}); Compose uses the last", statement.key, statement.line),
                "keep one line for each variable",
            ));
        }
        seen.insert(statement.key.clone(), statement.line);
        line += newlines(&text[at..statement.lines.end]);
        pos = statement.lines.end;
        statements.push(statement);
    }
    Ok(statements)
}

fn newlines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count()
}

/// Compose's `getStatementStart`: past white space and comment lines.
fn statement_start(text: &str, mut pos: usize) -> Option<usize> {
    loop {
        pos += text[pos..].find(|c: char| !c.is_whitespace())?;
        if !text[pos..].starts_with('#') {
            return Some(pos);
        }
        pos += text[pos..].find('\n')?;
    }
}

/// 1-based line and column of byte `at`.
fn position(text: &str, at: usize) -> (usize, usize) {
    let before = &text[..at];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (before.matches('\n').count() + 1, before[line_start..].chars().count() + 1)
}

fn unreadable(text: &str, at: usize, message: String, help: &str) -> Unreadable {
    let (line, column) = position(text, at);
    Unreadable { line, column, message, help: help.to_string() }
}

/// The byte just after the end of the line holding `at` (its `\n` included).
fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i + 1)
}

/// One statement starting at `at` (not white space, not a comment), on `line`.
///
/// # Errors
/// See the module's documentation.
pub fn statement_at(text: &str, at: usize, line: usize) -> Result<Statement, Unreadable> {
    let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    // Compose's `^export\s+`, then its isSpace trimmed.
    let mut key_at = at;
    if let Some(rest) = text[at..].strip_prefix("export") {
        if rest.starts_with(['\t', '\n', '\u{0c}', '\r', ' ']) {
            key_at = text.len() - rest.trim_start_matches(is_space).len();
        }
    }
    // Compose's locateKeyName: the key ends at `=`, `:` or a line break.
    let mut end = None;
    for (i, c) in text[key_at..].char_indices() {
        match c {
            '=' | ':' | '\n' => {
                end = Some((key_at + i, c));
                break;
            }
            c if is_space(c) || c.is_ascii_alphanumeric() || c == '_' => {}
            c => {
                return Err(unreadable(
                    text,
                    key_at + i,
                    format!("unexpected character {c:?} in a variable name"),
                    "a line is `NAME=value`, NAME of letters, digits and `_`; comment lines start with `#`",
                ))
            }
        }
    }
    let Some((sep, how)) = end else {
        return Err(unreadable(text, at, "a line with no `=`".to_string(), "write `NAME=value`"));
    };
    let key = text[key_at..sep].trim_end();
    if how == '\n' {
        return Err(unreadable(
            text,
            at,
            format!("`{key}` alone takes its value from the environment of whoever runs `docker compose`"),
            "write `NAME=value`, or remove the line",
        ));
    }
    if !is_var(key) {
        return Err(unreadable(
            text,
            key_at,
            if key.is_empty() { "a value with no name".to_string() } else { format!("`{key}` is not a variable name") },
            "a line is `NAME=value`, NAME of letters, digits and `_`, not starting with a digit",
        ));
    }
    let value_at = text.len() - text[sep + 1..].trim_start_matches(is_space).len();
    let (value, end) = value_of(text, value_at, key)?;
    Ok(Statement { key: key.to_string(), value, lines: line_start..end, line })
}

/// Compose's extractVarValue: the value at `at`, and the end of its last line.
fn value_of(text: &str, at: usize, key: &str) -> Result<(String, usize), Unreadable> {
    let bytes = text.as_bytes();
    let quote = match bytes.get(at) {
        Some(&q @ (b'\'' | b'"')) => q,
        _ => {
            let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            let raw = &text[at..end];
            let raw = raw.split_once(" #").map_or(raw, |(value, _)| value).trim_end();
            let value = interpolate(raw).map_err(|offset| dollar(text, at + offset, key, false))?;
            return Ok((value, line_end(text, at)));
        }
    };
    let mut escaped = false;
    let mut chars: Vec<u8> = Vec::new();
    for (i, &c) in bytes.iter().enumerate().skip(at + 1) {
        if c != quote {
            if !escaped && c == b'\\' {
                escaped = true;
                continue;
            }
            if escaped {
                escaped = false;
                chars.push(b'\\');
            }
            chars.push(c);
            continue;
        }
        if escaped {
            escaped = false;
            chars.push(c);
            continue;
        }
        // Only ASCII backslashes were dropped: still UTF-8.
        let inner = String::from_utf8(chars).expect("UTF-8 in, ASCII removed");
        let value = if quote == b'"' { interpolate(&unescape(&inner)).map_err(|_| dollar(text, at, key, true))? } else { inner };
        // After the closing quote: white space and a comment only. Compose
        // reads anything else as the start of another statement.
        let after = i + 1;
        let end = line_end(text, after);
        let rest = text[after..end].trim_start();
        if !rest.is_empty() && !rest.starts_with('#') {
            return Err(unreadable(
                text,
                end - text[after..end].trim_start().len(),
                format!("text after the closing quote of `{key}`: Compose reads it as another variable"),
                "end the line after the closing quote, or with a comment (` # ...`)",
            ));
        }
        return Ok((value, end));
    }
    Err(unreadable(
        text,
        at,
        format!("the quoted value of `{key}` is never closed"),
        "close the quote; a value that spans lines is written in double quotes, or with `\\n`",
    ))
}

fn dollar(text: &str, at: usize, key: &str, quoted: bool) -> Unreadable {
    unreadable(
        text,
        at,
        format!("`{key}` holds `$NAME` or `${{...}}`, which Compose replaces from the environment of whoever runs it"),
        if quoted {
            "for a literal dollar write `$$` or `\\$`, or put the value in single quotes"
        } else {
            "for a literal dollar write `$$`, or put the value in single quotes"
        },
    )
}

/// compose-go's template pattern applied with nothing to look up: `$$` is a
/// dollar, a `$` before anything but a name or `{` stays; a name or `{`
/// is refused (the byte offset of its `$`).
fn interpolate(text: &str) -> Result<String, usize> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text.char_indices().peekable();
    while let Some((i, c)) = rest.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        match rest.peek() {
            Some((_, '$')) => {
                rest.next();
                out.push('$');
            }
            // Go's case-insensitive `[_a-z]` also takes `ſ` and the Kelvin sign.
            Some((_, next)) if next.is_ascii_alphabetic() || matches!(next, '_' | '{' | '\u{17f}' | '\u{212a}') => return Err(i),
            _ => out.push('$'),
        }
    }
    Ok(out)
}

/// compose-go's expandEscapes: `\\(?:[abcfnrtv$"\\]|0\d{0,3})`, each match
/// read as Go reads the character (`\$` becomes `$$`, for interpolation);
/// anything else keeps its backslash.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c != b'\\' || i + 1 == bytes.len() {
            let ch = text[i..].chars().next().expect("in bounds");
            out.push(ch);
            i += ch.len_utf8();
            continue;
        }
        let next = bytes[i + 1];
        match next {
            b'a' => out.push('\u{07}'),
            b'b' => out.push('\u{08}'),
            b'f' => out.push('\u{0c}'),
            b'n' => out.push('\n'),
            b'r' => out.push('\r'),
            b't' => out.push('\t'),
            b'v' => out.push('\u{0b}'),
            b'\\' => out.push('\\'),
            b'"' => out.push('"'),
            // Matched by the pattern, refused by Go's UnquoteChar: kept.
            b'c' => out.push_str("\\c"),
            b'$' => out.push_str("$$"),
            b'0' => {
                let digits = bytes[i + 2..].iter().take(3).take_while(|b| b.is_ascii_digit()).count();
                let octal = &text[i + 2..i + 2 + digits];
                // `\0NNN` is read as Go's `\NNN`: three octal digits up to 255.
                match u32::from_str_radix(octal, 8) {
                    Ok(v) if digits == 3 && v <= 255 => out.push(char::from_u32(v).expect("below 256")),
                    _ => {
                        out.push('\\');
                        out.push_str(octal);
                    }
                }
                i += 2 + digits;
                continue;
            }
            _ => {
                out.push('\\');
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Vec<(String, String)> {
        parse(text.as_bytes()).unwrap().into_iter().map(|s| (s.key, s.value)).collect()
    }

    fn one(text: &str) -> String {
        let all = read(text);
        assert_eq!(all.len(), 1, "{text:?}: {all:?}");
        all[0].1.clone()
    }

    fn refused(text: &str) -> Unreadable {
        parse(text.as_bytes()).expect_err(text)
    }

    #[test]
    fn values_read_as_compose_reads_them() {
        assert_eq!(one("K='v' # note\n"), "v");
        assert_eq!(one("K=\"a\\tb\"\n"), "a\tb");
        assert_eq!(one("K='it\\'s'\n"), "it's");
        assert_eq!(one("K='a\\\\b'\n"), "a\\\\b");
        assert_eq!(one("K=\"p#ss$$word\"\n"), "p#ss$word");
        assert_eq!(one("K=p#ss$$word\n"), "p#ss$word");
        assert_eq!(one("K=a #comment\n"), "a");
        assert_eq!(one("K= #x\n"), "#x");
        assert_eq!(one("K=  spaced out  \r\n"), "spaced out");
        assert_eq!(one("export K=1"), "1");
        assert_eq!(one("K: 1\n"), "1");
        assert_eq!(one("K='$HOME'\n"), "$HOME");
        assert_eq!(one("K=\"\\$HOME\"\n"), "$HOME");
        assert_eq!(one("K=\"\\0123\\08\\q\\c\"\n"), "S\\8\\q\\c");
        assert_eq!(one("K=5$ $1 $é\n"), "5$ $1 $é");
        assert_eq!(one("\u{feff}K=1\n"), "1");
    }

    #[test]
    fn multi_line_values_are_one_statement() {
        let text = "A=\"-----BEGIN KEY-----\nMIIE=abc\n# not a comment\n-----END KEY-----\"\nB=2\n";
        let all = parse(text.as_bytes()).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].value, "-----BEGIN KEY-----\nMIIE=abc\n# not a comment\n-----END KEY-----");
        assert_eq!(&text[all[0].lines.clone()], "A=\"-----BEGIN KEY-----\nMIIE=abc\n# not a comment\n-----END KEY-----\"\n");
        assert_eq!((all[1].key.as_str(), all[1].line), ("B", 5));
    }

    #[test]
    fn what_compose_reads_otherwise_is_refused_with_its_line() {
        assert_eq!(refused("A=1\nK=\"x\n").line, 2);
        assert_eq!(refused("A=1\n\nK=$HOME\n").line, 3);
        assert_eq!(refused("K=\"${X}\"\n").line, 1);
        assert_eq!(refused("K=$\u{212a}\n").column, 3);
        assert_eq!(refused("K=\"\\0044HOME\"\n").line, 1);
        assert_eq!(refused("K='v' B=2\n").column, 7);
        assert_eq!(refused("A=1\nB\n").line, 2);
        assert_eq!(refused("A=1\nA=2\n").line, 2);
        assert_eq!(refused("K-1=2\n").column, 2);
        assert_eq!(refused("1K=2\n").line, 1);
        let bad = parse(b"A=1\nK=\xff\n").unwrap_err();
        assert_eq!((bad.line, bad.column), (2, 3));
        for bad in [refused("K=$HOME\n"), refused("K='v' x\n")] {
            assert!(bad.message.contains('K') && !bad.help.is_empty(), "{bad:?}");
        }
    }
}
