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

use crate::diag::{Code, Diagnostic, Severity};
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
    let watchdog = (!input.templates.is_empty()).then(MemoryWatchdog::start);
    let (compilation, plan) = crate::compile(&input, &options);
    drop(watchdog);
    if format == Format::Human {
        report(&compilation, color, format);
    }
    Ok(Compiled { compilation, plan, out_dir })
}

/// Most memory a compile with user templates may hold. Fuel bounds a
/// template's work and the output limit what it prints, but nothing in
/// minijinja bounds a string built in variables (`{% set b = a ~ a %}`,
/// thirty times over) that is never printed; the stdlib's templates for
/// 10,000 services stay under 200 MiB.
const TEMPLATE_MEMORY_LIMIT: u64 = 1 << 30;

/// Watches the process's resident memory while user templates render, and
/// ends the process with E0404 past [`TEMPLATE_MEMORY_LIMIT`] (Linux; a
/// no-op elsewhere). Stops when dropped.
struct MemoryWatchdog {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl MemoryWatchdog {
    fn start() -> Self {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = std::sync::Arc::clone(&stop);
        #[cfg(target_os = "linux")]
        std::thread::spawn(move || {
            // SAFETY: sysconf has no preconditions.
            let page = u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096);
            while !stopped.load(std::sync::atomic::Ordering::Relaxed) {
                let resident = std::fs::read_to_string("/proc/self/statm")
                    .ok()
                    .and_then(|statm| statm.split_whitespace().nth(1).and_then(|pages| pages.parse::<u64>().ok()));
                if resident.is_some_and(|pages| pages * page > TEMPLATE_MEMORY_LIMIT) {
                    eprintln!(
                        "error[E0404]: a template passed a limit: the compile holds more than {} MiB of memory\n  = help: a kind's template builds values without bound (a string concatenated with itself in a `set`); see docs/LIMITS.md and `ragc explain E0404`",
                        TEMPLATE_MEMORY_LIMIT >> 20
                    );
                    std::process::exit(i32::from(EXIT_USER));
                }
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        });
        #[cfg(not(target_os = "linux"))]
        drop(stopped);
        MemoryWatchdog { stop }
    }
}

impl Drop for MemoryWatchdog {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Takes the output directory's write lock for `compile` and `rotate`,
/// waiting (and saying so) while another run holds it: up to
/// `RAGC_LOCK_TIMEOUT` seconds, 60 by default.
fn lock_out_dir(out_dir: &Path, color: bool) -> Result<crate::plan::lock::DirLock, u8> {
    let wait = std::env::var("RAGC_LOCK_TIMEOUT")
        .ok()
        .and_then(|seconds| seconds.parse::<u64>().ok())
        .map_or(crate::plan::lock::DEFAULT_WAIT, std::time::Duration::from_secs);
    let waiting = || eprintln!("note: another ragc is writing to {}; waiting for it to finish", out_dir.display());
    crate::plan::lock::lock(out_dir, wait, waiting).map_err(|problem| {
        report_problems(std::slice::from_ref(&problem), color);
        problem_exit(std::slice::from_ref(&problem))
    })
}

/// The exit code for problems found before writing: 1 when they are the
/// user's to settle (another stack's directory, a run still going, a secrets
/// file Compose reads otherwise), else 2: the machine failed.
fn problem_exit(problems: &[Diagnostic]) -> u8 {
    if problems.iter().any(|p| matches!(p.code, Code::E0605 | Code::E0606)) || problems.iter().all(|p| p.code == Code::E0607) {
        EXIT_USER
    } else {
        EXIT_INTERNAL
    }
}

/// Prints problems with the output directory, human-readable, to stderr.
fn report_problems(problems: &[Diagnostic], color: bool) {
    eprint!("{}", crate::diag::Sources::default().render(problems, color));
}

/// Reads the stack, or reports why it can't be read.
fn load(path: &Path) -> Result<Input, u8> {
    Input::load(path).map_err(|error| {
        eprintln!("error[{}]: can't read the stack: {error}", error.code);
        if let Some(help) = &error.help {
            eprintln!("  = help: {help}");
        }
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
            for code in Code::ALL {
                println!("{code}  {}", code.summary());
            }
            EXIT_OK
        }
        Some(code) => match Code::parse(code) {
            Some(code) => {
                print!("{}", code.page());
                EXIT_OK
            }
            None => {
                eprintln!("error: no diagnostic code `{code}`; `ragc explain` lists them");
                EXIT_USER
            }
        },
    }
}
