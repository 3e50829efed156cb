//! Text → [`ast::File`]. Knows nothing about Docker, kinds or types: it only
//! turns characters into a tree that mirrors them, with a span on every node.
//!
//! Invariant: the pest parse tree never leaves this module; spans are
//! converted once, here.

pub mod ast;
mod limits;
mod parser;

pub use ast::*;
pub use parser::parse;

use serde::Serialize;

/// A byte range in one source file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default)]
pub struct Span {
    pub file: usize,
    pub start: u32,
    pub end: u32,
}

impl Span {
    pub fn new(file: usize, start: usize, end: usize) -> Self {
        // Inputs are capped well below 4 GiB (see `MAX_SOURCE_BYTES`).
        #[allow(clippy::cast_possible_truncation)]
        Self { file, start: start as u32, end: end as u32 }
    }

    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// Largest source file ragc reads; bigger input is a diagnostic, not minutes of work.
pub const MAX_SOURCE_BYTES: usize = 4 * 1024 * 1024;
/// Deepest nesting of blocks, lists and calls; deeper input is a diagnostic,
/// never a stack overflow.
pub const MAX_NESTING: usize = 64;
/// Most top-level declarations (services, secrets, kinds) in one file. A
/// stack for one Docker host has tens; the limit leaves room for generated
/// stacks of 10,000 services (the benchmarks) and stops at twice that.
pub const MAX_DECLARATIONS: usize = 20_000;
/// Most entries in one block, items in one list or arguments in one call.
pub const MAX_ITEMS: usize = 1000;
/// Most values (strings, numbers, names, calls, lists, blocks) in one file.
/// Bounds the checker's work and the number of diagnostics one file can cause.
pub const MAX_VALUES: usize = 500_000;
/// Longest line, in bytes. Each diagnostic shows its whole line: a limit
/// keeps the output of a bad file proportional to its number of errors.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
