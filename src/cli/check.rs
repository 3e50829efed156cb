//! `ragc check`: the generated-files check for CI. Type-checks the stack,
//! then compares what it compiles to with the output directory; exit 1
//! listing every file that drifted, is missing, was edited by hand or is no
//! longer generated, 0 when everything matches.
//!
//! The production env file holds secrets and is not meant for version
//! control: it is checked when present, and required only with `--env`
//! (which also fails while a `required(...)` secret is unset).

use std::path::{Path, PathBuf};

use super::{compile_stack, Compiled, Format, EXIT_OK, EXIT_USER};
use crate::diag::{Code, Diagnostic};
use crate::plan::diff;
use crate::plan::disk::{self, Change, Status};

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The stack file.
    pub stack: PathBuf,
    /// Output directory [default: `deploy/` next to the stack file].
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How to print the result: human, or JSON on stdout (for CI annotations and editors).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Also require `.env.production`, up to date, with every required secret set.
    #[arg(long)]
    pub env: bool,
}

/// One file that does not match, as reported.
struct Finding {
    path: String,
    file: String,
    status: Status,
    code: Option<Code>,
    message: String,
    help: String,
}

pub fn run(args: &CheckArgs, color: bool) -> u8 {
    let json = args.format == Format::Json;
    let Compiled { compilation, plan, out_dir } = match compile_stack(&args.stack, args.out.as_deref(), color, args.format) {
        Ok(compiled) => compiled,
        Err(code) => return code,
    };
    let stack_json = args.stack.display().to_string();
    let out_json = out_dir.display().to_string();
    let print_json = |ok: bool, diagnostics: &[Diagnostic], files: Vec<serde_json::Value>, checked: usize| {
        let value = serde_json::json!({
            "ok": ok,
            "stack": stack_json,
            "out_dir": out_json,
            "checked": checked,
            "diagnostics": compilation.sources.to_json(diagnostics),
            "files": files,
        });
        println!("{}", serde_json::to_string_pretty(&value).expect("JSON serialises"));
    };
    let Some(plan) = plan else {
        if json {
            print_json(false, &compilation.diagnostics, Vec::new(), 0);
        }
        return EXIT_USER;
    };
    let changes = match disk::compare(&plan, &out_dir) {
        Ok(changes) => changes,
        Err(problems) => {
            if json {
                let files = problems.iter().map(problem_json).collect();
                print_json(false, &compilation.diagnostics, files, 0);
            } else {
                super::report_problems(&problems, color);
            }
            return super::problem_exit(&problems);
        }
    };
    // Without --env, an absent env file is expected (it stays out of version control).
    // Nor are the secret files it would make: without it, their values are
    // not known (a compile would draw new ones).
    let env_absent = changes.changes.iter().any(|c| c.secrets && c.status == Status::Create);
    let considered: Vec<&Change> = changes
        .changes
        .iter()
        .filter(|c| args.env || !(c.secrets && c.status == Status::Create) && !(c.hidden && (env_absent || c.status == Status::Create)))
        .collect();
    let skipped_env = considered.len() < changes.changes.len();
    let again = command_tail(args);
    let refusals = changes.refusals();
    let findings: Vec<Finding> = considered
        .iter()
        .filter(|c| c.status != Status::Unchanged)
        .map(|change| finding(change, &diff::display(&out_dir, &change.path), &refusals, &again))
        .collect();
    let unset = match (&compilation.stack, args.env) {
        (Some(stack), true) => crate::plan::unset_required(stack, &plan, &changes),
        _ => Vec::new(),
    };
    let ok = findings.is_empty() && unset.is_empty();

    if json {
        let mut diagnostics = compilation.diagnostics.clone();
        diagnostics.extend(unset);
        let files = findings
            .iter()
            .map(|f| {
                serde_json::json!({
                    "path": f.path,
                    "file": f.file,
                    "status": f.status.label(),
                    "code": f.code,
                    "message": f.message,
                    "help": f.help,
                })
            })
            .collect();
        print_json(ok, &diagnostics, files, considered.len());
        return if ok { EXIT_OK } else { EXIT_USER };
    }

    if !unset.is_empty() {
        eprint!("{}", compilation.sources.render(&unset, color));
        let (red, reset) = if color { ("\u{1b}[1;31m", "\u{1b}[0m") } else { ("", "") };
        let count = if unset.len() == 1 { "1 required secret is".to_string() } else { format!("{} required secrets are", unset.len()) };
        eprintln!("{red}error{reset}: {count} not set in {}", out_dir.join(".env.production").display());
    }
    if !findings.is_empty() {
        print_findings(&findings, considered.len(), &out_dir, &args.stack, &again, color);
    }
    if ok {
        let stack = compilation.stack.as_ref();
        let name = stack.map_or("", |s| s.name.as_str());
        let count = stack.map_or(0, |s| s.services.len());
        let note = if skipped_env { "; no .env.production here (`--env` requires it)" } else { "" };
        eprintln!(
            "ok: stack `{name}` checks ({count} service{}) and {} matches it ({} files){note}",
            if count == 1 { "" } else { "s" },
            out_dir.display(),
            considered.len()
        );
        EXIT_OK
    } else {
        EXIT_USER
    }
}

/// The drift report: which files differ, and how to bring them in line.
fn print_findings(findings: &[Finding], considered: usize, out_dir: &Path, stack: &Path, again: &str, color: bool) {
    let (red, reset) = if color { ("\u{1b}[1;31m", "\u{1b}[0m") } else { ("", "") };
    eprintln!(
        "{red}error{reset}: {} does not match {}: {} of {} files differ",
        out_dir.display(),
        stack.display(),
        findings.len(),
        considered
    );
    let width = findings.iter().map(|f| f.status.label().len()).max().unwrap_or(0);
    for f in findings {
        let code = f.code.map(|code| format!("  [{code}]")).unwrap_or_default();
        eprintln!("  {:<width$}  {}{code}", f.status.label(), f.file);
    }
    eprintln!("  = help: `ragc diff {again}` shows the differences; `ragc compile {again}` writes them");
    if findings.iter().any(|f| f.status.blocks()) {
        eprintln!(
            "  = help: files marked [E0601]/[E0602] are refused by a compile: move hand edits into the stack, or `ragc compile --force {again}` (keeps a copy of each)"
        );
    }
}

/// A problem with the output directory, as `--format json` lists it.
fn problem_json(problem: &Diagnostic) -> serde_json::Value {
    serde_json::json!({
        "path": null,
        "file": problem.path,
        "status": "error",
        "code": problem.code,
        "message": problem.message,
        "help": problem.help.join("\n"),
    })
}

/// The stack and `-o` as the user gave them, for commands to suggest.
fn command_tail(args: &CheckArgs) -> String {
    let quote = |path: &std::path::Path| shlex::try_quote(&path.display().to_string()).map(|q| q.into_owned()).unwrap_or_default();
    match &args.out {
        Some(out) => format!("{} -o {}", quote(&args.stack), quote(out)),
        None => quote(&args.stack),
    }
}

fn finding(change: &Change, file: &str, refusals: &[Diagnostic], again: &str) -> Finding {
    let refusal = refusals.iter().find(|p| p.path.as_deref() == Some(file));
    let mode = match change.old_mode {
        Some(old) if change.new.is_some() && old & 0o777 != change.mode => format!(" (mode {:o}, expected {:o})", old & 0o777, change.mode),
        _ => String::new(),
    };
    let message = match change.status {
        Status::Create => format!("{file} is missing"),
        Status::Update if change.mode_only() => format!("{file} has the wrong permissions{mode}"),
        Status::Update => format!("{file} differs from what the stack compiles to{mode}"),
        Status::Remove => format!("{file} is no longer generated by the stack"),
        _ => refusal.map_or_else(String::new, |p| p.message.clone()),
    };
    let help = refusal.map_or_else(|| format!("run `ragc compile {again}`"), |p| p.help.join("\n"));
    Finding { path: change.path.clone(), file: file.to_string(), status: change.status, code: refusal.map(|p| p.code), message, help }
}
