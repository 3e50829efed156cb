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
    pub code: &'static str,
    pub message: String,
    pub primary: Label,
    pub secondary: Vec<Label>,
    pub help: Vec<String>,
}

impl Diagnostic {
    /// An error at `span`, labelled with `label`.
    pub fn error(code: &'static str, message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            code,
            message: message.into(),
            primary: Label { span, message: label.into() },
            secondary: Vec::new(),
            help: Vec::new(),
        }
    }

    /// A warning at `span`, labelled with `label`.
    pub fn warning(code: &'static str, message: impl Into<String>, span: Span, label: impl Into<String>) -> Self {
        Self { severity: Severity::Warning, ..Self::error(code, message, span, label) }
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help.push(help.into());
        self
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
    /// `NO_COLOR`), never here.
    pub fn render(&self, diagnostics: &[Diagnostic], color: bool) -> String {
        let mut buffer = if color { termcolor::Buffer::ansi() } else { termcolor::Buffer::no_color() };
        let config = term::Config::default();
        for diagnostic in diagnostics {
            let severity = match diagnostic.severity {
                Severity::Error => CsDiagnostic::error(),
                Severity::Warning => CsDiagnostic::warning(),
            };
            let mut labels =
                vec![CsLabel::primary(diagnostic.primary.span.file, diagnostic.primary.span.range())
                    .with_message(&diagnostic.primary.message)];
            labels.extend(
                diagnostic
                    .secondary
                    .iter()
                    .map(|label| CsLabel::secondary(label.span.file, label.span.range()).with_message(&label.message)),
            );
            let rendered = severity
                .with_code(diagnostic.code)
                .with_message(&diagnostic.message)
                .with_labels(labels)
                .with_notes(diagnostic.help.iter().map(|help| format!("help: {help}")).collect());
            // Rendering into an in-memory buffer cannot fail for files we own.
            let _ = term::emit(&mut buffer, &config, &self.files, &rendered);
        }
        String::from_utf8_lossy(buffer.as_slice()).into_owned()
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
