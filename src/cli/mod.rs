//! The command line: clap definitions and one `run` per subcommand. Maps
//! library results to exit codes; holds no compiler logic.

// The std print macros panic when a stream is a closed pipe (`ragc diff | head`,
// a CI runner that stopped reading stderr); exit codes must not turn into 101
// because nobody listens. These shadow them for every module below.
macro_rules! eprint {
    ($($arg:tt)*) => {{ use std::io::Write as _; let _ = write!(std::io::stderr(), $($arg)*); }};
}
macro_rules! eprintln {
    ($($arg:tt)*) => {{ use std::io::Write as _; let _ = writeln!(std::io::stderr(), $($arg)*); }};
}
macro_rules! print {
    ($($arg:tt)*) => {{ use std::io::Write as _; let _ = write!(std::io::stdout(), $($arg)*); }};
}
macro_rules! println {
    ($($arg:tt)*) => {{ use std::io::Write as _; let _ = writeln!(std::io::stdout(), $($arg)*); }};
}

mod check;
mod compile;
mod diff;
mod rotate;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diag::Severity;
use crate::input::Input;
use crate::Compilation;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: the input has errors, a compile refused to touch a file, or
/// (for `check` and `diff`) the output directory differs from the plan.
pub const EXIT_USER: u8 = 1;
/// Exit code: ragc itself failed (a bug, or the machine: disk, permissions).
pub const EXIT_INTERNAL: u8 = 2;

const EXAMPLES: &str = "\
Examples:
  ragc compile examples/rag-engine-mini.rag          write every artifact to examples/deploy/
  ragc compile stack.rag -o /srv/app/deploy          write them elsewhere
  ragc diff stack.rag                                what a compile would change, secrets masked
  ragc check stack.rag                               fail (exit 1) when deploy/ drifted from the stack: for CI
  ragc check --env stack.rag                         ... and when a required secret is still unset: on the server
  ragc rotate stack.rag JWT_SECRET                   draw a new value for one generated secret
  ragc explain E0203                                 what a diagnostic code means

Exit codes: 0 success, 1 errors in the input, a refused compile, or (check, diff)
differences found, 2 ragc or the machine failed.";

/// ragc — compile one stack.rag into Dockerfiles, Compose files, env files,
/// an nginx site, backup scripts and an ops health check.
#[derive(Debug, Parser)]
#[command(name = "ragc", version, after_help = EXAMPLES, max_term_width = 100)]
pub struct Cli {
    /// When to color output: on a terminal only by default, never with NO_COLOR set.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// Most threads to parse and render with (default: RAGC_JOBS, else one
    /// per CPU). Only stacks of hundreds of services use more than one.
    #[arg(short, long, global = true, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the stack and write every artifact; never touches hand edits without --force.
    Compile(compile::CompileArgs),
    /// Show what a compile would change, as a unified diff (exit 1 when anything would).
    Diff(diff::DiffArgs),
    /// Check the stack and that the output directory matches it (exit 1 when not): for CI.
    Check(check::CheckArgs),
    /// Replace one generated secret with a fresh value and say which services to restart.
    Rotate(rotate::RotateArgs),
    /// Print the long explanation of a diagnostic code, like E0102.
    Explain(ExplainArgs),
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A diagnostic code (E0102), or nothing for the list of codes.
    pub code: Option<String>,
}

/// Runs the command line and returns the process exit code. Once per
/// process: a successful compile leaves its memory to the process's exit.
pub fn run(cli: Cli) -> ExitCode {
    if let Some(jobs) = cli.jobs {
        crate::set_jobs(usize::from(jobs));
    }
    let color = colored(cli.color, std::io::stderr().is_terminal());
    let code = match cli.command {
        Command::Compile(args) => compile::run(&args, color),
        Command::Diff(args) => diff::run(&args, color, colored(cli.color, std::io::stdout().is_terminal())),
        Command::Check(args) => check::run(&args, color),
        Command::Rotate(args) => rotate::run(&args, color),
        Command::Explain(args) => explain(&args),
    };
    ExitCode::from(code)
}

/// Whether to color a stream: asked for, or a terminal and no `NO_COLOR`.
fn colored(choice: ColorChoice, terminal: bool) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && terminal,
    }
}

/// A stack checked and emitted, with where its output goes.
struct Compiled {
    compilation: Compilation,
    plan: Option<crate::plan::Plan>,
    out_dir: PathBuf,
}

/// Reads and compiles the stack, reporting diagnostics in `format` (JSON
/// reports are left to the caller, which adds to them).
fn compile_stack(stack: &Path, out: Option<&Path>, color: bool, format: Format) -> Result<Compiled, u8> {
    let input = load(stack)?;
    let (out_dir, options) = compile::out_dir(stack, out);
    let (compilation, plan) = crate::compile(&input, &options);
    if format == Format::Human {
        report(&compilation, color, format);
    }
    Ok(Compiled { compilation, plan, out_dir })
}

/// Prints problems with the output directory, human-readable, to stderr.
/// The exit code for problems found before writing: 1 when they are all in
/// what the user wrote (E0605, the secrets file), 2 when the machine failed.
fn problems_exit(problems: &[crate::plan::disk::Problem]) -> u8 {
    if problems.iter().all(|p| p.code == "E0605") {
        EXIT_USER
    } else {
        EXIT_INTERNAL
    }
}

fn report_problems(problems: &[crate::plan::disk::Problem], color: bool) {
    for problem in problems {
        eprint!("{}", problem.render(color));
    }
}

/// Reads the stack, or reports why it can't be read.
fn load(path: &Path) -> Result<Input, u8> {
    Input::load(path).map_err(|error| {
        eprintln!("error[E0002]: can't read the stack: {error}");
        EXIT_USER
    })
}

/// Prints diagnostics to stderr (human) or stdout (JSON), with a summary line.
fn report(compilation: &Compilation, color: bool, format: Format) {
    if format == Format::Json {
        println!("{}", serde_json::to_string_pretty(&compilation.sources.to_json(&compilation.diagnostics)).expect("JSON serialises"));
        return;
    }
    eprint!("{}", compilation.sources.render(&compilation.diagnostics, color));
    let errors = compilation.diagnostics.iter().filter(|d| d.severity == Severity::Error).count();
    let warnings = compilation.diagnostics.len() - errors;
    if errors > 0 {
        eprintln!("{}", summary(errors, warnings, color));
    }
}

fn summary(errors: usize, warnings: usize, color: bool) -> String {
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut text = format!("error: stopped with {}", plural(errors, "error"));
    if warnings > 0 {
        text.push_str(&format!(" and {}", plural(warnings, "warning")));
    }
    if color {
        format!("\u{1b}[1;31m{text}\u{1b}[0m")
    } else {
        text
    }
}

fn explain(args: &ExplainArgs) -> u8 {
    match &args.code {
        None => {
            for (code, title) in crate::explain::codes() {
                println!("{code}  {title}");
            }
            EXIT_OK
        }
        Some(code) => match crate::explain::explain(code) {
            Some(text) => {
                print!("{text}");
                EXIT_OK
            }
            None => {
                eprintln!("error: no diagnostic code `{code}`; `ragc explain` lists them");
                EXIT_USER
            }
        },
    }
}
