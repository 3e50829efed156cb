//! One reading of a block's `name = value` entries, for every block the
//! checker reads (the stack's settings, `limits`, a proxy, a profile, `env`).
//!
//! Input: a block. Output: each assignment, in order, handed to the caller.
//! Invariant: a name reaches the caller once; an entry of another form is
//! reported with the caller's message, a name set again is E0103.

use indexmap::IndexMap;

use crate::diag::{Code, Diagnostic};
use crate::syntax::{Block, Entry, EntryKind, Expr, Ident, Span};

/// Somewhere a pass puts the problems it finds.
pub(super) trait Report {
    fn report(&mut self, diagnostic: Diagnostic);
}

impl Report for Vec<Diagnostic> {
    fn report(&mut self, diagnostic: Diagnostic) {
        self.push(diagnostic);
    }
}

/// The names a block has set so far, with where each was first set.
#[derive(Default)]
pub(super) struct Seen(IndexMap<String, Span>);

impl Seen {
    /// Claims `key`; when it was claimed before, the span of the first claim.
    pub(super) fn claim(&mut self, key: &str, span: Span) -> Result<(), Span> {
        if let Some(first) = self.0.get(key) {
            return Err(*first);
        }
        self.0.insert(key.to_string(), span);
        Ok(())
    }
}

/// Hands each `name = value` entry of `block` to `each`, once per name.
/// Returns whether every entry was an assignment and no name came twice.
pub(super) fn assignments<'b, R: Report>(
    reporter: &mut R,
    block: &'b Block,
    not_assignment: impl Fn(&Entry) -> Diagnostic,
    mut each: impl FnMut(&mut R, &'b Ident, &'b Expr),
) -> bool {
    let mut seen = Seen::default();
    let mut ok = true;
    for entry in &block.entries {
        let EntryKind::Assign { name, value } = &entry.kind else {
            reporter.report(not_assignment(entry));
            ok = false;
            continue;
        };
        if let Err(first) = seen.claim(&name.name, name.span) {
            reporter.report(duplicate_field(name, first));
            ok = false;
            continue;
        }
        each(reporter, name, value);
    }
    ok
}

/// E0103: a name set a second time in one block.
pub(super) fn duplicate_field(name: &Ident, first: Span) -> Diagnostic {
    Diagnostic::error(Code::E0103, format!("`{}` is set twice", name.name), name.span, "set again here")
        .with_label(first, "first set here")
        .with_help("remove one of them")
}
