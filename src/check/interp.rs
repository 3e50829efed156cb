//! Interpolation in kind files: `"postgres:{{ version }}-alpine"`. Kind
//! strings are minijinja templates rendered with the instance's fields;
//! user strings are never templates.
//!
//! Secrets cross a template as sentinels (private-use characters that no
//! checked input may contain) and come out as [`Part::Secret`], so a secret
//! can flow into a URL without its value ever being known here.

use indexmap::IndexMap;
use minijinja::{Environment, UndefinedBehavior, Value};

use crate::model::{Part, Text};

const OPEN: char = '\u{E000}';
const CLOSE: char = '\u{E001}';

/// The sentinel standing for the secret held in environment variable `var`.
pub fn secret_sentinel(var: &str) -> String {
    format!("{OPEN}{var}{CLOSE}")
}

/// True when `text` contains characters reserved for sentinels.
pub fn has_reserved(text: &str) -> bool {
    text.contains([OPEN, CLOSE])
}

/// Splits rendered output back into literal and secret parts. A sentinel
/// without its pair (which only input the checker rejects can hold) stays
/// literal text rather than becoming a secret.
pub fn to_text(rendered: &str) -> Text {
    let mut parts = Vec::new();
    let mut rest = rendered;
    while let Some(open) = rest.find(OPEN) {
        let after = &rest[open + OPEN.len_utf8()..];
        let Some(close) = after.find(CLOSE) else { break };
        if open > 0 {
            parts.push(Part::Literal(rest[..open].to_string()));
        }
        parts.push(Part::Secret(after[..close].to_string()));
        rest = &after[close + CLOSE.len_utf8()..];
    }
    if !rest.is_empty() || parts.is_empty() {
        parts.push(Part::Literal(rest.to_string()));
    }
    Text(parts)
}

/// Instructions one kind string may run: a loop over a list of 1,000 items
/// takes some 10,000 (docs/LIMITS.md).
pub const KIND_STRING_FUEL: u64 = 1_000_000;

/// The environment kind strings are rendered in.
pub struct Interpolator {
    env: Environment<'static>,
}

impl Default for Interpolator {
    fn default() -> Self {
        let mut env = Environment::new();
        // A kind that names a field it does not have is a bug in the kind file;
        // truthiness tests on absent optional fields are allowed.
        env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        // A kind string is one line; nested loops in one must not run for minutes.
        env.set_fuel(Some(KIND_STRING_FUEL));
        Self { env }
    }
}

impl Interpolator {
    /// Renders one kind string.
    ///
    /// # Errors
    /// The template error's message, for a diagnostic on the kind file.
    pub fn render(&self, template: &str, context: &IndexMap<String, Value>) -> Result<Text, String> {
        if has_reserved(template) {
            // Only secrets may carry these characters through a template.
            return Err("the string contains a reserved character (U+E000 or U+E001)".into());
        }
        if !template.contains("{{") && !template.contains("{%") {
            return without_controls(template).map(|()| Text::literal(template));
        }
        if let Some(value) = sole_variable(template).and_then(|name| context.get(name)).and_then(Value::as_str) {
            return rendered(value);
        }
        let context: std::collections::BTreeMap<&str, &Value> = context.iter().map(|(k, v)| (k.as_str(), v)).collect();
        let text = self.env.render_str(template, &context).map_err(|error| match error.detail() {
            Some(detail) => format!("{}: {detail}", error.kind()),
            None => error.kind().to_string(),
        })?;
        if has_reserved(&text) {
            return genuine(rendered(&text)?, context.values().copied());
        }
        self::rendered(&text)
    }
}

/// The variable a template made of `{{ name }}` alone prints. Most kind
/// strings are that (`export host = "{{ name }}"`); when the variable holds
/// a string, the string is what minijinja would print, so it needs no
/// template compiled (a tenth of a large stack's checking time).
pub fn sole_variable(template: &str) -> Option<&str> {
    let name = template.strip_prefix("{{")?.strip_suffix("}}")?.trim_matches(' ');
    let mut bytes = name.bytes();
    let starts_a_name = bytes.next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_');
    // Jinja's literals are names too, but print themselves.
    let literal = matches!(name, "true" | "false" | "none" | "True" | "False" | "None");
    (starts_a_name && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_') && !literal).then_some(name)
}

/// A rendered kind string whose secrets are all genuine: each names a
/// secret the template was given (a sentinel in one of its context values),
/// and no reserved character is left over. A template can write the
/// reserved characters itself (`"\uE000HOME\uE001"` in a Jinja string),
/// which would otherwise come out as a secret `${HOME}` written raw into
/// Compose, past its `$$` escaping.
fn genuine<'a>(text: Text, context: impl Iterator<Item = &'a Value>) -> Result<Text, String> {
    let mut given = Vec::new();
    for value in context {
        sentinels_in(value, &mut given, 0);
    }
    for part in &text.0 {
        match part {
            Part::Literal(literal) if has_reserved(literal) => {
                return Err("the template wrote a reserved character (U+E000 or U+E001) that is not a secret it was given".into());
            }
            Part::Secret(var) if !given.iter().any(|known| known == var) => {
                return Err(format!("the template made up a secret reference (`{var}`): only secrets it is given can reach a file"));
            }
            _ => {}
        }
    }
    Ok(text)
}

/// The secrets a template value holds, as sentinels in its strings.
fn sentinels_in(value: &Value, found: &mut Vec<String>, depth: usize) {
    if depth > 16 {
        return;
    }
    if let Some(text) = value.as_str() {
        if has_reserved(text) {
            found.extend(to_text(text).secrets().map(str::to_string));
        }
        return;
    }
    if let Ok(items) = value.try_iter() {
        let is_map = value.kind() == minijinja::value::ValueKind::Map;
        for item in items {
            if is_map {
                if let Ok(inner) = value.get_item(&item) {
                    sentinels_in(&inner, found, depth + 1);
                }
            } else {
                sentinels_in(&item, found, depth + 1);
            }
        }
    }
}

/// What a kind string rendered to, checked and split into parts.
///
/// # Errors
/// The rendered string holds a control character.
pub fn rendered(text: &str) -> Result<Text, String> {
    without_controls(text)?;
    Ok(to_text(text))
}

/// A kind string lands in generated files as it renders: a line break or
/// another control character (tab aside) would break them.
fn without_controls(text: &str) -> Result<(), String> {
    match text.chars().find(|c| (c.is_control() && *c != '\t') || matches!(c, '\u{2028}' | '\u{2029}')) {
        Some(bad) => Err(format!("the string contains a control character (`{}`)", bad.escape_unicode())),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unpaired_sentinel_stays_literal() {
        assert_eq!(to_text("a\u{E000}b"), Text::literal("a\u{E000}b"));
        assert_eq!(
            to_text(&format!("x{}y", secret_sentinel("V"))),
            Text(vec![Part::Literal("x".into()), Part::Secret("V".into()), Part::Literal("y".into())])
        );
    }

    #[test]
    fn a_sole_variable_renders_as_minijinja_would() {
        assert_eq!(sole_variable("{{ name }}"), Some("name"));
        assert_eq!(sole_variable("{{name}}"), Some("name"));
        for not_sole in ["{{ a.b }}", "{{ a }}x", "{{- a }}", "{{ none }}", "{{ True }}", "{{ 1a }}", "{{ }}", "{{ a|upper }}"] {
            assert_eq!(sole_variable(not_sole), None, "{not_sole}");
        }
        let interp = Interpolator::default();
        let context: IndexMap<String, Value> = [
            ("name".to_string(), Value::from("db")),
            ("url".to_string(), Value::from(format!("postgres://{}@db", secret_sentinel("PW")))),
            ("port".to_string(), Value::from(5432)),
        ]
        .into_iter()
        .collect();
        for template in ["{{ name }}", "{{url}}", "{{ port }}"] {
            let inner = template.trim_start_matches("{{").trim_end_matches("}}").trim();
            let through_minijinja = interp.render(&format!("{{{{ {inner} }}}}{{# #}}"), &context);
            assert_eq!(interp.render(template, &context), through_minijinja, "{template}");
        }
        assert_eq!(interp.render("{{ name }}", &context), Ok(Text::literal("db")));
        assert!(interp.render("{{ missing }}", &context).is_err());
    }

    #[test]
    fn reserved_characters_never_enter_a_template() {
        let interp = Interpolator::default();
        assert!(interp.render("{{ name }}\u{E000}", &IndexMap::new()).is_err());
        assert!(interp.render("plain \u{E001}", &IndexMap::new()).is_err());
    }
}
