//! ragc: a compiler for deployment stacks.
//!
//! The pipeline, one module per phase, in order:
//! [`syntax`] (text → AST) → [`check`] (AST + kinds → [`model::Stack`] and
//! diagnostics) → [`emit`] (the targets: model → [`artifact::Plan`], no IO)
//! → [`plan`] (the disk: compare, diff, the only writer) → [`cli`]. A module
//! imports only from its phase or an earlier one. Beside them: [`input`]
//! reads the stack file and the user's kinds, [`stdlib`] holds the embedded
//! kinds and templates, [`diag`] the diagnostics and their codes, and
//! [`artifact`] what every target and the writer share.

// Diagnostics are large and travel only on the error path, which is cold.
#![allow(clippy::result_large_err)]

pub mod artifact;
pub mod check;
pub mod cli;
pub mod diag;
pub mod emit;
pub mod input;
pub mod model;
pub mod plan;
pub mod stdlib;
pub mod syntax;

use crate::diag::{Code, Diagnostic, Sources};
use crate::emit::EmitOptions;
use crate::input::Input;
use crate::model::Stack;
use crate::plan::Plan;
use crate::syntax::Span;

/// The result of reading and checking a stack: every source read (for
/// rendering diagnostics), the model when there were no errors, and every
/// diagnostic found.
pub struct Compilation {
    pub sources: Sources,
    pub stack: Option<std::sync::Arc<Stack>>,
    pub diagnostics: Vec<Diagnostic>,
    /// The stack file's id in `sources`.
    pub stack_file: usize,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses and checks a stack with the stdlib kinds and the user's own.
pub fn analyze(input: &Input) -> Compilation {
    let mut sources = Sources::default();
    let mut diagnostics = Vec::new();
    let stack_file = sources.add(input.stack_name.clone(), input.stack_text.clone());
    let file_span = Span::new(stack_file, 0, 0);
    if let Some(offset) = input.invalid_utf8_at {
        diagnostics.push(
            Diagnostic::error(Code::E0002, "file is not valid UTF-8", Span::new(stack_file, offset, offset + 1), "invalid byte here")
                .with_help("save the stack file as UTF-8"),
        );
        return Compilation { sources, stack: None, diagnostics, stack_file };
    }
    let parsed = match syntax::parse(stack_file, &input.stack_text) {
        Ok(parsed) => parsed,
        Err(errors) => return Compilation { sources, stack: None, diagnostics: errors, stack_file },
    };

    let (stack, mut found) = check::check(input, parsed, stack_file, &mut sources);
    diagnostics.append(&mut found);
    if diagnostics.len() > MAX_DIAGNOSTICS && diagnostics.iter().any(Diagnostic::is_error) {
        // Thousands of diagnostics help no one, and rendering each with its
        // source line could take minutes and gigabytes on hostile input.
        let hidden = diagnostics.len() - MAX_DIAGNOSTICS;
        diagnostics.truncate(MAX_DIAGNOSTICS);
        diagnostics.push(
            Diagnostic::error(Code::E0701, format!("{hidden} more diagnostics are not shown"), file_span, "the first ones are above")
                .with_help("fix these and check again"),
        );
    }
    Compilation { sources, stack: stack.map(std::sync::Arc::new), diagnostics, stack_file }
}

/// Threads set by [`set_jobs`]; 0 when not set.
static JOBS_SET: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Sets how many threads a phase may use (`ragc --jobs`), over `RAGC_JOBS`.
pub fn set_jobs(jobs: usize) {
    JOBS_SET.store(jobs, std::sync::atomic::Ordering::Relaxed);
}

/// How many threads a phase may use, at most `cap`: what [`set_jobs`] set,
/// else `RAGC_JOBS` when it is a positive number, else the machine's
/// parallelism. At 10,000 services one thread is 10% slower for about the
/// same peak memory (docs/PERFORMANCE.md's table: 192.5 vs 174.8 ms, 83.1 vs
/// 83.3 MiB; each thread's allocator arena keeps memory the others cannot
/// reuse, which mattered more before rendering was cheap).
pub fn threads(cap: usize) -> usize {
    static DEFAULT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let set = JOBS_SET.load(std::sync::atomic::Ordering::Relaxed);
    let jobs = if set > 0 {
        set
    } else {
        *DEFAULT.get_or_init(|| {
            std::env::var("RAGC_JOBS")
                .ok()
                .and_then(|jobs| jobs.parse::<usize>().ok())
                .filter(|&jobs| jobs > 0)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
        })
    };
    jobs.min(cap)
}

/// Most diagnostics one compile reports (see docs/LIMITS.md).
pub const MAX_DIAGNOSTICS: usize = 200;

/// Analyzes and, when there are no errors, emits the plan.
pub fn compile(input: &Input, options: &EmitOptions) -> (Compilation, Option<Plan>) {
    let mut compilation = analyze(input);
    let Some(stack) = &compilation.stack else { return (compilation, None) };
    match emit::emit(stack, options, &input.templates) {
        Ok(plan) => (compilation, Some(plan)),
        Err(error) => {
            // At the service whose artifact failed, else at the start of the stack file.
            let (span, label) = match error.span {
                Some(span) => (span, "while rendering this service's files"),
                None => (Span::new(compilation.stack_file, 0, 0), "while compiling this stack"),
            };
            // A template over a limit (E0404) needs a kind's template files,
            // so tests/environment.rs triggers it, not a fixture.
            let diagnostic = if error.over_limit() {
                Diagnostic::error(error.code, format!("a template passed a limit: {error}"), span, label).with_help(format!(
                    "a kind's template loops or grows without bound; see docs/LIMITS.md and `ragc explain {}`",
                    error.code
                ))
            } else {
                Diagnostic::error(error.code, format!("a template failed: {error}"), span, label)
                    .with_help("a value could not be written safely, or a kind's template is broken; `ragc explain E0403`")
            };
            compilation.diagnostics.push(diagnostic);
            (compilation, None)
        }
    }
}
