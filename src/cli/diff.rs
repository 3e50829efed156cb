//! `ragc diff`: what a compile would change, as a unified diff or a summary.
//! Exit codes follow `git diff --exit-code`: 0 nothing would change, 1
//! something would, 2 the diff could not be computed (errors in the stack included).

use std::io::Write as _;
use std::path::PathBuf;

use super::{compile_stack, report_problems, Compiled, Format, EXIT_INTERNAL, EXIT_OK, EXIT_USER};
use crate::plan::{diff, disk};

#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The stack file.
    pub stack: PathBuf,
    /// Output directory [default: `deploy/` next to the stack file].
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A summary: one line per file with its number of changed lines.
    #[arg(long)]
    pub stat: bool,
}

/// `color` is for stderr (diagnostics), `color_out` for stdout (the diff).
pub fn run(args: &DiffArgs, color: bool, color_out: bool) -> u8 {
    let Compiled { plan, out_dir, .. } = match compile_stack(&args.stack, args.out.as_deref(), color, Format::Human) {
        Ok(compiled) => compiled,
        Err(_) => return EXIT_INTERNAL,
    };
    let Some(plan) = plan else { return EXIT_INTERNAL };
    let changes = match disk::compare(&plan, &out_dir) {
        Ok(changes) => changes,
        Err(problems) => {
            report_problems(&problems, color);
            // No diff can be shown: 2, as for a stack with errors.
            return EXIT_INTERNAL;
        }
    };
    let text = if args.stat { diff::stat(&changes, color_out) } else { diff::unified(&changes, color_out) };
    // A closed pipe (`ragc diff | head`) is not an error worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    if changes.in_sync() {
        EXIT_OK
    } else {
        EXIT_USER
    }
}
