//! Targets: the model lowered to a [`Plan`], no IO. Each target is a
//! module of its own (today [`compose`]: Compose files, Dockerfiles, the
//! nginx site, backups and ops scripts); what every target needs is here:
//! the options, the error, the job runner ([`jobs`]) and bounded minijinja
//! rendering ([`jinja`]). The plan's types, headers and escaping shared
//! with the writer are in [`crate::artifact`].
//!
//! Input: a checked [`Stack`] (shared as an `Arc`, which template views
//! hold), the user's templates. Output: a [`Plan`].
//! Invariant: output is byte-deterministic (`IndexMap`, `preserve_order`,
//! no clock, no randomness, never dependent on thread timing), and every
//! value crosses into an artifact through the escaping filter of that
//! artifact's syntax.

pub mod compose;
pub mod jinja;
pub mod jobs;

use std::sync::Arc;

use crate::artifact::Plan;
use crate::diag::Code;
use crate::model::Stack;
use crate::syntax::Span;

pub use crate::input::UserTemplates;

/// Where the output directory sits relative to the stack file, so that
/// Compose can find the build context from there.
#[derive(Debug, Clone)]
pub struct EmitOptions {
    /// The output directory seen from the stack file's directory, `/`-separated.
    pub out_from_stack: String,
    /// The stack file's directory seen from the output directory, `/`-separated.
    pub stack_from_out: String,
}

impl Default for EmitOptions {
    fn default() -> Self {
        Self { out_from_stack: "deploy".into(), stack_from_out: "..".into() }
    }
}

/// A template that failed to render; a bug in a kind's templates.
#[derive(Debug)]
pub struct EmitError {
    pub template: String,
    pub message: String,
    /// E0403 (a template failed), or E0404 (a template passed a limit).
    pub code: Code,
    /// The service the failing artifact is made from, when it is one
    /// service's (its Dockerfile); else the error is the whole stack's.
    pub span: Option<Span>,
}

impl EmitError {
    /// The template passed a limit (fuel, output size) rather than failing.
    pub fn over_limit(&self) -> bool {
        self.code == TEMPLATE_LIMIT
    }
}

/// The code of a template over a limit.
pub(crate) const TEMPLATE_LIMIT: Code = Code::E0404;

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "template `{}`: {}", self.template, self.message)
    }
}

/// Renders every artifact of the Compose target.
///
/// # Errors
/// A template failed: a value could not be written safely, or a kind's
/// template is broken.
pub fn emit(stack: &Arc<Stack>, options: &EmitOptions, user: &UserTemplates) -> Result<Plan, EmitError> {
    compose::lower(stack, options, user)
}
