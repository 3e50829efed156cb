//! AST + kinds → [`model::Stack`] and diagnostics.
//!
//! Input: the parsed stack file and every kind (stdlib first, then the
//! user's, which shadow stdlib kinds of the same name). Output: a resolved
//! model, or the full list of problems found: the checker collects every
//! error it can rather than stopping at the first.
//!
//! Invariant: when no error is reported, the model is complete and every
//! cross-reference in it names something that exists.

mod block;
mod interp;
mod kinds;
mod resolve;
pub mod types;

pub use kinds::{stdlib_kinds, KindDef, Origin};
pub use resolve::resolve;
