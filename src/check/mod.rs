//! AST + kinds → [`crate::model::Stack`] and diagnostics.
//!
//! Input: the parsed stack file and every kind (stdlib first, then the
//! user's, which shadow stdlib kinds of the same name). Output: a resolved
//! model, or the full list of problems found: the checker collects every
//! error it can rather than stopping at the first.
//!
//! The passes, one file each, in order: `declare` (kinds, names, settings,
//! top-level secrets) → `instantiate` (an instance's entries against its
//! kind) → `bind` (references, `from` chains and images, profiles: the
//! `Service`) → `graph` (start order, networks, routes) → `rules` (what
//! holds across the stack).
//!
//! Invariant: when no error is reported, the model is complete and every
//! cross-reference in it names something that exists.

mod bind;
mod block;
mod declare;
mod graph;
mod image;
mod instantiate;
mod interp;
mod kinds;
mod properties;
mod resolve;
mod rules;
mod schedule;
pub mod types;

pub use kinds::KindDef;

use crate::diag::{Diagnostic, Sources};
use crate::input::Input;
use crate::model::Stack;
use crate::syntax::{File, Span};

/// Checks a parsed stack file (file `stack_file` in `sources`) against the
/// stdlib's kinds and the user's: the model when no error was found, and
/// every diagnostic.
pub fn check(input: &Input, file: File, stack_file: usize, sources: &mut Sources) -> (Option<Stack>, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let kinds = declare::kinds(input, &file, sources, &mut diagnostics);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return (None, diagnostics);
    }
    let (stack, mut found) = resolve::resolve(file, Span::new(stack_file, 0, 0), &input.source_label(), &kinds);
    diagnostics.append(&mut found);
    let stack = stack.and_then(|stack| {
        let missing = rules::backups_have_templates(&stack, &input.templates);
        diagnostics.extend(missing.iter().cloned());
        missing.is_empty().then_some(stack)
    });
    (stack, diagnostics)
}
