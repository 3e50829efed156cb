//! `ragc-fuzz`: an in-process, structure-aware fuzzer for ragc that runs on
//! the stable toolchain.
//!
//! ```text
//! ragc-fuzz [--seconds N] [--seed S] [--out DIR] [--root DIR]   fuzz for N seconds (default 60)
//! ragc-fuzz --replay FILE...                                   run inputs once, report each
//! ragc-fuzz --generate N [--seed S]                            print N generated stacks
//! ```
//!
//! The supervisor starts a worker process and watches it. The worker
//! generates stacks and mutates the seeds (examples and fixtures), runs each
//! through parse → check → emit under `catch_unwind` and a time budget, and
//! saves any input that panics, breaks an invariant or is slow to
//! `OUT/findings/`. An input that kills the worker outright (a stack
//! overflow, an abort) or hangs it is saved by the supervisor, which then
//! starts a new worker. Exit status: 0 when nothing was found, 1 otherwise.

use std::collections::HashSet;
use std::io::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ragc_fuzz::rng::Rng;
use ragc_fuzz::{exercise, generate, mutate, seeds, Outcome};

/// An input slower than this is a finding: nothing a stack file says should
/// take seconds to compile.
const SLOW: Duration = Duration::from_secs(2);
/// A worker whose current input has not changed for this long is hung.
const HUNG: Duration = Duration::from_secs(30);

struct Args {
    seconds: u64,
    seed: u64,
    out: PathBuf,
    root: PathBuf,
    worker: bool,
    replay: Vec<PathBuf>,
    generate: usize,
}

fn parse_args() -> Args {
    let mut args = Args {
        seconds: 60,
        seed: 1,
        out: PathBuf::from("fuzz/out"),
        root: PathBuf::from("."),
        worker: false,
        replay: Vec::new(),
        generate: 0,
    };
    let mut iter = std::env::args().skip(1);
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => args.seconds = value().parse().expect("--seconds N"),
            "--seed" => args.seed = value().parse().expect("--seed N"),
            "--out" => args.out = PathBuf::from(value()),
            "--root" => args.root = PathBuf::from(value()),
            "--worker" => args.worker = true,
            "--generate" => args.generate = value().parse().expect("--generate N"),
            "--replay" => args.replay.extend(iter.by_ref().map(PathBuf::from)),
            other => {
                eprintln!("unknown argument `{other}`; see the doc comment of fuzz/src/main.rs");
                std::process::exit(2);
            }
        }
    }
    args
}

fn main() {
    let args = parse_args();
    if !args.replay.is_empty() {
        std::process::exit(replay(&args.replay));
    }
    if args.generate > 0 {
        // Prints generated stacks, to see what the generator makes.
        let mut rng = Rng::new(args.seed);
        for _ in 0..args.generate {
            println!("{}\n# ----", String::from_utf8_lossy(&generate::stack(&mut rng)));
        }
        return;
    }
    if args.worker {
        std::process::exit(worker(&args));
    }
    std::process::exit(supervise(&args));
}

/// Runs each file once; exit 1 if any of them is a finding.
fn replay(files: &[PathBuf]) -> i32 {
    let panics = install_hook();
    let mut status = 0;
    for file in files {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let start = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| exercise(&bytes)));
        let elapsed = start.elapsed();
        let verdict = match result {
            Ok(Ok((outcome, _))) if elapsed < SLOW => format!("ok ({outcome:?})"),
            Ok(Ok(_)) => {
                status = 1;
                "SLOW".to_string()
            }
            Ok(Err(broken)) => {
                status = 1;
                format!("INVARIANT: {broken}")
            }
            Err(_) => {
                status = 1;
                format!("PANIC: {}", panics.lock().unwrap().take().unwrap_or_default())
            }
        };
        println!("{} ({} bytes, {:.3}s): {verdict}", file.display(), bytes.len(), elapsed.as_secs_f64());
    }
    status
}

/// Panics are findings, not noise on stderr: the hook records the message
/// and location for the report.
fn install_hook() -> Arc<Mutex<Option<String>>> {
    let last = Arc::new(Mutex::new(None));
    let sink = Arc::clone(&last);
    panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let location = info.location().map(|l| format!("{}:{}", l.file(), l.line())).unwrap_or_default();
        *sink.lock().unwrap() = Some(format!("{location}: {message}"));
    }));
    last
}

fn supervise(args: &Args) -> i32 {
    let findings = args.out.join("findings");
    std::fs::create_dir_all(&findings).expect("create the output directory");
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let exe = std::env::current_exe().expect("own path");
    let mut seed = args.seed;
    let (mut execs, mut compiled, mut found, mut workers) = (0u64, 0u64, 0u64, 0u64);
    let started = Instant::now();
    while Instant::now() < deadline {
        let remaining = deadline.saturating_duration_since(Instant::now()).as_secs().max(1);
        let current = args.out.join(format!("current-{seed}.rag"));
        let mut child = Command::new(&exe)
            .args(["--worker", "--seconds", &remaining.to_string(), "--seed", &seed.to_string()])
            .arg("--out")
            .arg(&args.out)
            .arg("--root")
            .arg(&args.root)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start a worker");
        workers += 1;
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait for the worker") {
                break Some(status);
            }
            let stale = std::fs::metadata(&current).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
            if stale.is_some_and(|age| age > HUNG) {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let output = child.wait_with_output().expect("worker output");
        let stdout = String::from_utf8_lossy(&output.stdout);
        if let Some(line) = stdout.lines().rev().find(|l| l.starts_with("execs=")) {
            let field =
                |name: &str| line.split_whitespace().find_map(|kv| kv.strip_prefix(name)).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
            execs += field("execs=");
            compiled += field("compiled=");
            found += field("findings=");
        }
        let died = match status {
            None => Some("hang".to_string()),
            Some(status) if status.code().is_none() || status.code() == Some(134) || status.code() == Some(101) => {
                Some(format!("worker died: {status}\n{}", String::from_utf8_lossy(&output.stderr)))
            }
            Some(_) => None,
        };
        if let Some(reason) = died {
            found += 1;
            if let Ok(bytes) = std::fs::read(&current) {
                let name = format!("crash-{:016x}", fingerprint(&bytes));
                let _ = std::fs::write(findings.join(format!("{name}.rag")), &bytes);
                let _ = std::fs::write(findings.join(format!("{name}.txt")), &reason);
                eprintln!("finding: {name}: {}", reason.lines().next().unwrap_or_default());
            }
        }
        let _ = std::fs::remove_file(&current);
        seed += 1;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "ragc-fuzz: {execs} executions in {elapsed:.0}s ({:.0}/s), {compiled} compiled to a plan, {workers} worker(s), {found} finding(s) in {}",
        execs as f64 / elapsed.max(0.001),
        findings.display()
    );
    i32::from(found > 0)
}

fn fingerprint(bytes: &[u8]) -> u64 {
    // FNV-1a: stable names for saved inputs.
    bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

fn save(dir: &Path, prefix: &str, bytes: &[u8], note: &str) -> String {
    let name = format!("{prefix}-{:016x}", fingerprint(bytes));
    let _ = std::fs::write(dir.join(format!("{name}.rag")), bytes);
    let _ = std::fs::write(dir.join(format!("{name}.txt")), note);
    name
}

#[allow(clippy::too_many_lines)]
fn worker(args: &Args) -> i32 {
    let panics = install_hook();
    let findings = args.out.join("findings");
    std::fs::create_dir_all(&findings).expect("create the output directory");
    let current = args.out.join(format!("current-{}.rag", args.seed));
    let mut rng = Rng::new(args.seed);
    let mut corpus = seeds(&args.root);
    // A custom kind's file and its stack, as one file: kinds may be declared inline.
    if let (Ok(kind), Ok(stack)) = (
        std::fs::read(args.root.join("examples/custom-kind/kinds/minio.rag")),
        std::fs::read(args.root.join("examples/custom-kind/stack.rag")),
    ) {
        corpus.push([kind, stack].concat());
    }
    if corpus.is_empty() {
        corpus.push(b"stack s {}\n".to_vec());
    }
    let seeds_len = corpus.len();
    let mut signatures: HashSet<String> = HashSet::new();
    let mut seen_findings: HashSet<String> = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let (mut execs, mut compiled, mut found) = (0u64, 0u64, 0u64);
    let mut last_report = Instant::now();
    while Instant::now() < deadline {
        let bytes = match rng.below(10) {
            0..=2 => generate::stack(&mut rng),
            3 => {
                let generated = generate::stack(&mut rng);
                let other = corpus[rng.below(corpus.len())].clone();
                mutate::mutate(&mut rng, &generated, &other)
            }
            _ => {
                let base = &corpus[rng.below(corpus.len())];
                let other = &corpus[rng.below(corpus.len())];
                mutate::mutate(&mut rng, base, other)
            }
        };
        // The supervisor saves this file if the run kills or hangs the process.
        std::fs::write(&current, &bytes).expect("write the current input");
        let start = Instant::now();
        let result = panic::catch_unwind(AssertUnwindSafe(|| exercise(&bytes)));
        let elapsed = start.elapsed();
        execs += 1;
        let finding = match &result {
            Err(_) => Some(format!("panic: {}", panics.lock().unwrap().take().unwrap_or_default())),
            Ok(Err(broken)) => Some(format!("invariant: {broken}")),
            Ok(Ok(_)) if elapsed > SLOW => Some(format!("slow: {:.1}s for {} bytes", elapsed.as_secs_f64(), bytes.len())),
            Ok(Ok(_)) => None,
        };
        if let Some(note) = finding {
            // One saved input per distinct message (first line, numbers stripped).
            let key: String = note.lines().next().unwrap_or_default().chars().filter(|c| !c.is_ascii_digit()).take(160).collect();
            if seen_findings.insert(key) {
                found += 1;
                let name = save(&findings, "finding", &bytes, &note);
                eprintln!("finding: {name}: {}", note.lines().next().unwrap_or_default());
            }
            continue;
        }
        if let Ok(Ok((outcome, signature))) = result {
            if outcome == Outcome::Compiled {
                compiled += 1;
            }
            // Crude feedback: keep inputs whose diagnostics differ from any seen so far.
            if signatures.insert(format!("{outcome:?}|{signature}")) && bytes.len() < 64 * 1024 {
                if corpus.len() < seeds_len + 20_000 {
                    corpus.push(bytes);
                } else {
                    let slot = seeds_len + rng.below(corpus.len() - seeds_len);
                    corpus[slot] = bytes;
                }
            }
        }
        if last_report.elapsed() > Duration::from_secs(30) {
            last_report = Instant::now();
            eprintln!("worker {}: {execs} execs, {compiled} compiled, corpus {}, {found} finding(s)", args.seed, corpus.len());
        }
    }
    let _ = std::fs::remove_file(&current);
    println!("execs={execs} compiled={compiled} findings={found} corpus={}", corpus.len());
    let _ = std::io::stdout().flush();
    0
}
