//! One escaping filter per artifact syntax. Every value from the stack
//! reaches an artifact through exactly one of these; a value a syntax can't
//! hold safely is an error here, never a broken or injectable file.

use std::fmt;

use minijinja::{Error, ErrorKind, Value};

use crate::model::{Part, Text};

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// One piece of a value on its way into an artifact: text written in the
/// stack, or the variable that holds a secret.
#[derive(Debug, Clone, Copy)]
pub enum Piece<'a> {
    Literal(&'a str),
    Secret(&'a str),
}

/// What the escaping filters take: a model [`Text`], or a plain string.
/// Templates compiled into ragc pass these directly; minijinja templates
/// pass template values, read back by `value_text`.
pub trait Pieces {
    fn pieces(&self) -> impl Iterator<Item = Piece<'_>>;
}

impl Pieces for Text {
    fn pieces(&self) -> impl Iterator<Item = Piece<'_>> {
        self.0.iter().map(|part| match part {
            Part::Literal(text) => Piece::Literal(text),
            Part::Secret(var) => Piece::Secret(var),
        })
    }
}

impl Pieces for str {
    fn pieces(&self) -> impl Iterator<Item = Piece<'_>> {
        std::iter::once(Piece::Literal(self))
    }
}

impl Pieces for String {
    fn pieces(&self) -> impl Iterator<Item = Piece<'_>> {
        self.as_str().pieces()
    }
}

impl<T: Pieces + ?Sized> Pieces for &T {
    fn pieces(&self) -> impl Iterator<Item = Piece<'_>> {
        (**self).pieces()
    }
}

/// Reads a template value that is either a plain string/number or a
/// serialised [`Text`] (a list of `{kind, value}` parts) back into a [`Text`].
fn value_text(value: &Value) -> Result<Text, Error> {
    if let Some(text) = value.as_str() {
        return Ok(Text::literal(text));
    }
    if value.is_number() || value.kind() == minijinja::value::ValueKind::Bool {
        return Ok(Text::literal(value.to_string()));
    }
    let mut parts = Vec::new();
    for part in value.try_iter()? {
        let kind = part.get_attr("kind")?;
        let text = part.get_attr("value")?;
        let text = text.as_str().ok_or_else(|| invalid("text part is not a string".into()))?.to_string();
        match kind.as_str() {
            Some("literal") => parts.push(Part::Literal(text)),
            Some("secret") => parts.push(Part::Secret(text)),
            _ => return Err(invalid("unknown text part".into())),
        }
    }
    Ok(Text(parts))
}

/// Runs `write` over a template value read as a [`Text`], into a new string.
fn with_text(value: &Value, write: impl FnOnce(&mut String, &Text) -> fmt::Result) -> Result<String, Error> {
    let text = value_text(value)?;
    let mut out = String::new();
    write(&mut out, &text).expect("writing to a String never fails");
    Ok(out)
}

/// The pieces joined, each secret written as `${VAR}`.
pub fn write_plain<'a, W: fmt::Write + ?Sized>(out: &mut W, pieces: impl Iterator<Item = Piece<'a>>) -> fmt::Result {
    for piece in pieces {
        match piece {
            Piece::Literal(text) => out.write_str(text)?,
            Piece::Secret(var) => write!(out, "${{{var}}}")?,
        }
    }
    Ok(())
}

/// The inside of a YAML double-quoted scalar that every YAML parser reads
/// back byte for byte: `"` and `\\` escaped, and every character YAML does
/// not allow raw (controls, surrogates, U+FFFE/U+FFFF) or would fold as a
/// line break (NEL, U+2028, U+2029) or drop as a byte order mark (U+FEFF)
/// written as an escape; every `$` doubled when `double_dollars` is set
/// (Compose's escape, applied in the same pass). Runs of plain characters
/// are written in one piece.
fn write_yaml_escaped<W: fmt::Write + ?Sized>(out: &mut W, text: &str, double_dollars: bool) -> fmt::Result {
    let mut plain = 0;
    for (at, ch) in text.char_indices() {
        let escape = match ch {
            '$' if double_dollars => "$$",
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\t' => "\\t",
            '\r' => "\\r",
            ch if yaml_needs_escape(ch) => "",
            _ => continue,
        };
        out.write_str(&text[plain..at])?;
        if escape.is_empty() {
            write!(out, "\\u{:04x}", u32::from(ch))?;
        } else {
            out.write_str(escape)?;
        }
        plain = at + ch.len_utf8();
    }
    out.write_str(&text[plain..])
}

/// Characters outside YAML's printable set, and those a parser may turn into
/// something else (line breaks it folds, a byte order mark it drops).
fn yaml_needs_escape(ch: char) -> bool {
    let code = u32::from(ch);
    code < 0x20 || (0x7f..=0x9f).contains(&code) || matches!(code, 0x2028 | 0x2029 | 0xfeff | 0xfffe | 0xffff)
}

/// A value in a Compose file: `$` escaped as `$$` (Compose interpolates
/// every string), secrets as `${VAR:?...}` resolved from `.env.production`,
/// the whole as a YAML double-quoted scalar.
pub fn write_compose<'a, W: fmt::Write + ?Sized>(out: &mut W, pieces: impl Iterator<Item = Piece<'a>>) -> fmt::Result {
    out.write_char('"')?;
    for piece in pieces {
        match piece {
            Piece::Literal(text) => write_yaml_escaped(out, text, true)?,
            Piece::Secret(var) => write_yaml_escaped(out, &format!("${{{var}:?{var} is not set: see .env.production}}"), false)?,
        }
    }
    out.write_char('"')
}

/// Text inside a `#` comment: secrets shown as `${VAR}`, line breaks folded.
pub fn write_comment<'a, W: fmt::Write + ?Sized>(out: &mut W, pieces: impl Iterator<Item = Piece<'a>>) -> fmt::Result {
    for piece in pieces {
        match piece {
            Piece::Literal(text) => {
                for (index, line) in text.split(['\n', '\r']).enumerate() {
                    if index > 0 {
                        out.write_char(' ')?;
                    }
                    out.write_str(line)?;
                }
            }
            Piece::Secret(var) => write!(out, "${{{var}}}")?,
        }
    }
    Ok(())
}

/// [`write_comment`] for minijinja templates.
pub fn comment(value: &Value) -> Result<String, Error> {
    with_text(value, |out, text| write_comment(out, text.pieces()))
}

/// One shell word, single-quoted unless it is made only of safe characters.
pub fn sh(value: &Value) -> Result<String, Error> {
    Ok(sh_quote(&with_text(value, |out, text| write_plain(out, text.pieces()))?))
}

pub fn sh_quote(text: &str) -> String {
    let safe = !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c));
    if safe {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// A token in an nginx config. nginx has no escape for `$` in most
/// directives, so only plainly safe characters pass; the checker rejects
/// anything else first, and this is the backstop.
pub fn nginx(value: &Value) -> Result<String, Error> {
    let text = value.as_str().map_or_else(|| value.to_string(), ToString::to_string);
    if text.is_empty() || !text.chars().all(|c| c.is_ascii_alphanumeric() || "._/@:+=-~".contains(c)) {
        return Err(invalid(format!("`{text}` can't be written safely into an nginx config")));
    }
    Ok(text)
}

/// Text in the command part of a crontab line: `%` means newline to cron.
pub fn cron(value: &Value) -> Result<String, Error> {
    let text = value.as_str().map_or_else(|| value.to_string(), ToString::to_string);
    cron_text(&text).map_err(|message| invalid(message.into()))
}

/// [`cron`]'s rule, for both template engines.
pub fn cron_text(text: &str) -> Result<String, &'static str> {
    if text.contains(['\n', '\r']) {
        return Err("a crontab line can't contain a newline");
    }
    Ok(text.replace('%', "\\%"))
}

/// A Dockerfile exec-form array (`["a", "b"]`), the form that runs without a
/// shell. A secret can't be baked into an image: a word holding one is an
/// error, never an empty or partial word.
pub fn exec_form(value: &Value) -> Result<String, Error> {
    let mut words = Vec::new();
    for item in value.try_iter()? {
        let Some(word) = value_text(&item)?.as_literal() else {
            return Err(invalid("a secret can't be written into a Dockerfile; the service gets it from its environment".into()));
        };
        words.push(word);
    }
    Ok(serde_json::to_string(&words).expect("strings always serialise"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // A secret's `${VAR:?...}` is written without doubling its `$`: that
    // path of the escape must read back as plain YAML on its own.
    proptest::proptest! {
        #[test]
        fn a_yaml_escaped_scalar_reads_back(text in proptest::prelude::any::<String>()) {
            let mut quoted = String::from("k: \"");
            write_yaml_escaped(&mut quoted, &text, false).unwrap();
            quoted.push_str("\"\n");
            let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&quoted).unwrap();
            proptest::prop_assert_eq!(doc.get("k").and_then(serde_yaml_ng::Value::as_str), Some(text.as_str()));
        }
    }

    #[test]
    fn compose_escapes_dollars_and_quotes() {
        let compose = |text: &Text| {
            let mut out = String::new();
            write_compose(&mut out, text.pieces()).unwrap();
            out
        };
        assert_eq!(compose(&Text::literal("a$b\"c")), r#""a$$b\"c""#);
        // A secret part keeps its single `$`; literal parts around it are doubled.
        let text = Text(vec![Part::Literal("u:$".into()), Part::Secret("PW".into())]);
        assert_eq!(compose(&text), r#""u:$$${PW:?PW is not set: see .env.production}""#);
    }

    #[test]
    fn shell_words_are_quoted() {
        assert_eq!(sh_quote("db"), "db");
        assert_eq!(sh_quote("a b"), "'a b'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
        assert_eq!(sh_quote(""), "''");
    }

    #[test]
    fn nginx_rejects_variables() {
        assert!(nginx(&Value::from("/api/")).is_ok());
        assert!(nginx(&Value::from("/$host")).is_err());
        assert!(nginx(&Value::from("a;b")).is_err());
    }

    #[test]
    fn exec_form_refuses_secrets() {
        let word = Value::from_serialize(serde_json::json!([{"kind": "literal", "value": "--key="}, {"kind": "secret", "value": "KEY"}]));
        assert!(exec_form(&Value::from(vec![word])).is_err());
        assert_eq!(exec_form(&Value::from(vec![Value::from("a b"), Value::from("\"")])).unwrap(), r#"["a b","\""]"#);
    }

    #[test]
    fn cron_escapes_percent() {
        assert_eq!(cron(&Value::from("date +%F")).unwrap(), "date +\\%F");
    }
}
