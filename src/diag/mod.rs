//! Diagnostics as data: a stable code, a severity, a message, labelled spans
//! and help lines. Rendered in exactly one place ([`Sources::render`]) for
//! people, and serialised as JSON for machines.
//!
//! Invariant: codes are never renumbered or reused; every code has a long
//! explanation under `docs/diagnostics/` printed by `ragc explain`.

use codespan_reporting::diagnostic::{Diagnostic as CsDiagnostic, Label as CsLabel};
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term::{self, termcolor};
use serde::Serialize;

use crate::syntax::Span;

mod code;

pub use code::Code;

/// How bad a diagnostic is: errors stop the compile, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A span with a short explanation attached to it.
#[derive(Debug, Clone, Serialize)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One finding about the input.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: Code,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub help: Vec<String>,
    /// A file that is not a source (one under the output directory): the
    /// diagnostic is shown at its path, without source lines, and the
    /// primary label is not shown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Diagnostic {
    /// An error at `span`, labelled with `label`.
    pub fn error(code: Code, message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            primary: Label { span, message: label.into() },
            secondary: Vec::new(),
            help: Vec::new(),
            path: None,
        }
    }

    /// An error about the file at `path` (under the output directory,
    /// not a source), with one help line.
    pub fn at_path(code: Code, message: impl Into<String>, path: impl Into<String>, help: impl Into<String>) -> Self {
        Self { path: Some(path.into()), ..Self::error(code, message, Span::default(), "").with_help(help) }
    }

    /// A warning at `span`, labelled with `label`.
    pub fn warning(code: Code, message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(code, message, span, label) }
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help.push(help.into());
        self
    }

    /// The same finding under another code: a value's error found in a
    /// kind file is the kind's (E0401), not the stack's.
    #[must_use]
    pub fn with_code(self, code: Code) -> Self {
        Self { code, ..self }
    }

    #[must_use]
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label { span, message: message.into() });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Every source file a compile read (the stack, the stdlib kinds, the user's
/// kinds), so that spans can be rendered with their lines.
pub struct Sources {
    files: SimpleFiles<String, String>,
}

impl Default for Sources {
    fn default() -> Self {
        Self { files: SimpleFiles::new() }
    }
}

impl Sources {
    pub fn add(&mut self, name: impl Into<String>, text: impl Into<String>) -> usize {
        // A NUL would reach the terminal raw; a space keeps every byte offset.
        let text = text.into();
        let text = if text.contains('\0') { text.replace('\0', " ") } else { text };
        self.files.add(name.into(), text)
    }

    /// The text of file `id`.
    pub fn text(&self, id: usize) -> &str {
        self.files.get(id).map(|file| file.source().as_str()).unwrap_or("")
    }

    /// The name of file `id`, as given to [`Sources::add`].
    pub fn name(&self, id: usize) -> &str {
        self.files.get(id).map(|file| file.name().as_str()).unwrap_or("")
    }

    /// 1-based line and column of a byte offset.
    pub fn line_col(&self, id: usize, offset: usize) -> (usize, usize) {
        let text = self.text(id);
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let column = before.rfind('\n').map_or(before.chars().count(), |nl| before[nl + 1..].chars().count()) + 1;
        (line, column)
    }

    /// Renders diagnostics the way rustc does: code, location, source line,
    /// carets, labels, help. `color` is decided by the caller (terminal and
    /// `NO_COLOR`), never here. Control characters from the input (a
    /// terminal escape in a string, a file name) are shown escaped
    /// (`\u{1b}`), never sent to the terminal.
    pub fn render(&self, diagnostics: &[Diagnostic], color: bool) -> String {
        let mut buffer = if color { termcolor::Buffer::ansi() } else { termcolor::Buffer::no_color() };
        let config = term::Config::default();
        // Sources with control characters are rendered from escaped copies,
        // spans moved by what the escapes add; the others as they are.
        let escaped = self.escaped_copies();
        let files = escaped.as_ref().map_or(&self.files, |(files, _)| files);
        let range = |span: &Span| match &escaped {
            Some((_, shifts)) => {
                let range = span.range();
                let shift = |offset: usize| {
                    offset + shifts[span.file].iter().take_while(|(at, _)| *at < offset).map(|(_, extra)| extra).sum::<usize>()
                };
                shift(range.start)..shift(range.end)
            }
            None => span.range(),
        };
        for diagnostic in diagnostics {
            if let Some(path) = &diagnostic.path {
                // No source to show: the codespan layout's header, path and help lines alone.
                let _ = std::io::Write::write_all(&mut buffer, render_at_path(diagnostic, path, color).as_bytes());
                continue;
            }
            let severity = match diagnostic.severity {
                Severity::Error => CsDiagnostic::error(),
                Severity::Warning => CsDiagnostic::warning(),
            };
            let mut labels = vec![CsLabel::primary(diagnostic.primary.span.file, range(&diagnostic.primary.span))
                .with_message(escape_controls(&diagnostic.primary.message))];
            labels.extend(
                diagnostic
                    .secondary
                    .iter()
                    .map(|label| CsLabel::secondary(label.span.file, range(&label.span)).with_message(escape_controls(&label.message))),
            );
            let rendered = severity
                .with_code(diagnostic.code.as_str())
                .with_message(escape_controls(&diagnostic.message))
                .with_labels(labels)
                .with_notes(diagnostic.help.iter().map(|help| format!("help: {}", escape_controls(help))).collect());
            // Rendering into an in-memory buffer cannot fail for files we own.
            let _ = term::emit(&mut buffer, &config, files, &rendered);
        }
        String::from_utf8_lossy(buffer.as_slice()).into_owned()
    }

    /// Every source with its control characters escaped, and per file where
    /// each escape sits (byte offset in the original) and the bytes it adds;
    /// `None` when no name or text has one (nearly always).
    #[allow(clippy::type_complexity)]
    fn escaped_copies(&self) -> Option<(SimpleFiles<String, String>, Vec<Vec<(usize, usize)>>)> {
        let mut count = 0;
        let mut any = false;
        while let Ok(file) = self.files.get(count) {
            any |= has_controls(file.name()) || source_controls(file.source()).next().is_some();
            count += 1;
        }
        if !any {
            return None;
        }
        let mut files = SimpleFiles::new();
        let mut shifts = Vec::with_capacity(count);
        for id in 0..count {
            let file = self.files.get(id).ok()?;
            let source = file.source();
            let mut text = String::with_capacity(source.len() + 16);
            let mut shift = Vec::new();
            let mut copied = 0;
            for (at, ch) in source_controls(source) {
                let escape = format!("\\u{{{:x}}}", u32::from(ch));
                text.push_str(&source[copied..at]);
                text.push_str(&escape);
                shift.push((at, escape.len() - ch.len_utf8()));
                copied = at + ch.len_utf8();
            }
            text.push_str(&source[copied..]);
            files.add(escape_controls(file.name()).into_owned(), text);
            shifts.push(shift);
        }
        Some((files, shifts))
    }

    /// The JSON form for editors and CI annotations.
    pub fn to_json(&self, diagnostics: &[Diagnostic]) -> serde_json::Value {
        let items: Vec<_> = diagnostics
            .iter()
            .map(|diagnostic| {
                let span = diagnostic.primary.span;
                let (line, column) = self.line_col(span.file, span.start as usize);
                serde_json::json!({
                    "severity": diagnostic.severity,
                    "code": diagnostic.code,
                    "message": diagnostic.message,
                    "file": self.name(span.file),
                    "line": line,
                    "column": column,
                    "label": diagnostic.primary.message,
                    "help": diagnostic.help,
                })
            })
            .collect();
        serde_json::Value::Array(items)
    }
}

/// A diagnostic about a file that is not a source: `error[CODE]: message`,
/// the path, and the help lines.
fn render_at_path(diagnostic: &Diagnostic, path: &str, color: bool) -> String {
    let (bold_red, blue, bold, reset) = if color { ("\u{1b}[1;31m", "\u{1b}[34m", "\u{1b}[1m", "\u{1b}[0m") } else { ("", "", "", "") };
    let mut text = format!(
        "{bold_red}error[{}]{reset}{bold}: {}{reset}\n  {blue}┌─{reset} {path}\n  {blue}│{reset}\n",
        diagnostic.code, diagnostic.message
    );
    for help in &diagnostic.help {
        text.push_str(&format!("  {blue}={reset} help: {help}\n"));
    }
    text.push('\n');
    text
}

/// Characters shown escaped in rendered diagnostics: controls a terminal
/// could act on (ESC, BEL, CSI, backspace, carriage return, ...); line
/// breaks and tabs lay the text out and stay.
fn is_escaped(ch: char) -> bool {
    ch.is_control() && !matches!(ch, '\n' | '\t')
}

fn has_controls(text: &str) -> bool {
    text.chars().any(is_escaped)
}

/// The characters of a source file shown escaped: as [`is_escaped`], but a
/// carriage return that ends a line (`\r\n`) stays.
fn source_controls(text: &str) -> impl Iterator<Item = (usize, char)> + '_ {
    text.char_indices().filter(|&(at, ch)| is_escaped(ch) && !(ch == '\r' && text[at + 1..].starts_with('\n')))
}

/// `text` with every control character but line breaks and tabs written as
/// `\u{HEX}`, so that input echoed in a diagnostic cannot drive the terminal.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    escape_chars(text, is_escaped)
}

/// `text` with every character `escaped` picks written as `\u{HEX}`;
/// borrowed when there is none.
pub fn escape_chars(text: &str, escaped: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(&escaped) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for ch in text.chars() {
        if escaped(ch) {
            out.push_str(&format!("\\u{{{:x}}}", u32::from(ch)));
        } else {
            out.push(ch);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The closest candidate to `name`, if one is close enough to be a likely typo.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// A `did you mean` help line, or a fallback listing the valid choices.
pub fn did_you_mean<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str> + Clone) -> String {
    match suggest(name, candidates.clone()) {
        Some(best) => format!("did you mean `{best}`?"),
        None => {
            // Every field of a kind helps; a stack's thousands of services don't.
            const ALL_UP_TO: usize = 32;
            const LISTED: usize = 8;
            let total = candidates.clone().into_iter().count();
            let shown = if total > ALL_UP_TO { LISTED } else { total };
            let listed: Vec<String> = candidates.into_iter().take(shown).map(|c| format!("`{c}`")).collect();
            match total {
                0 => "nothing of that kind is declared".to_string(),
                n if n > shown => format!("expected one of {}, … ({} more)", listed.join(", "), n - shown),
                _ => format!("expected one of {}", listed.join(", ")),
            }
        }
    }
}
