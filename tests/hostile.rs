//! Hostile input: every stack under `tests/fixtures/hostile/`, and the big
//! ones generated here (a 10 MB file, 10,000 nesting levels, 100,000
//! services, ...), must end in at least one error diagnostic, quickly,
//! without a panic or a stack overflow. The rendered diagnostics are
//! snapshot-tested in `snapshots/hostile/`; a few go through the binary for
//! exit code 1 (never 101).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use ragc::emit::EmitOptions;
use ragc::input::Input;

/// The release binary does each of these in about a second at most
/// (docs/LIMITS.md has the measurements); unoptimised test builds of the
/// parser are some 30 times slower.
const BUDGET: Duration = Duration::from_secs(if cfg!(debug_assertions) { 120 } else { 10 });

/// Compiles in memory and renders the diagnostics; asserts the run was quick
/// and reported an error.
fn diagnose(input: &Input, what: &str) -> String {
    let start = Instant::now();
    let (compilation, plan) = ragc::compile(input, &EmitOptions::default());
    let rendered = compilation.sources.render(&compilation.diagnostics, false);
    let elapsed = start.elapsed();
    assert!(elapsed < BUDGET, "{what} took {elapsed:?}");
    assert!(plan.is_none(), "{what} compiled:\n{rendered}");
    assert!(compilation.diagnostics.iter().any(ragc::diag::Diagnostic::is_error), "{what} reported no error");
    assert!(rendered.contains("error["), "{what}: {rendered}");
    rendered
}

fn snapshot(name: &str, rendered: &str) {
    insta::with_settings!({ snapshot_path => "../snapshots/hostile", prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_snapshot!(name, rendered);
    });
}

/// Long diagnostics lists are summarised: the first few in full, then counts
/// by code; lines past 300 bytes are cut, so that a snapshot stays readable.
fn summarise(rendered: &str, compilation_codes: &[&str]) -> String {
    let rendered: String = rendered
        .lines()
        .map(|line| match line.char_indices().nth(200) {
            Some((cut, _)) if line.len() > 300 => format!("{}…[{} more bytes]\n", &line[..cut], line.len() - cut),
            _ => format!("{line}\n"),
        })
        .collect();
    let blocks: Vec<&str> = rendered.split("\n\n").collect();
    let mut out: String = blocks.iter().take(6).copied().collect::<Vec<_>>().join("\n\n");
    if blocks.len() > 6 {
        let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for code in compilation_codes {
            *counts.entry(code).or_default() += 1;
        }
        out.push_str(&format!("\n\n[... {} diagnostics in all: {counts:?}]\n", compilation_codes.len()));
    }
    out
}

#[test]
fn every_hostile_fixture_is_a_diagnostic() {
    insta::glob!("fixtures/hostile/*.rag", |path| {
        let relative = Path::new("tests/fixtures/hostile").join(path.file_name().unwrap());
        let rendered = match Input::load(&relative) {
            Ok(input) => diagnose(&input, &relative.display().to_string()),
            Err(error) => format!("error[E0002]: can't read the stack: {error}"),
        };
        insta::with_settings!({ snapshot_path => "../snapshots/hostile", prepend_module_to_snapshot => false, omit_expression => true }, {
            insta::assert_snapshot!(rendered);
        });
    });
}

fn generated(text: &str, name: &str) -> String {
    let input = Input::from_text(&format!("{name}.rag"), text);
    let start = Instant::now();
    let (compilation, _) = ragc::compile(&input, &EmitOptions::default());
    let rendered = diagnose(&input, name);
    let codes: Vec<&str> = compilation.diagnostics.iter().map(|d| d.code.as_str()).collect();
    eprintln!("{name}: {} bytes, {:?}", text.len(), start.elapsed());
    summarise(&rendered, &codes)
}

#[test]
fn generated_10mb_file() {
    let text = format!("stack demo {{}}\n{}", "# padding padding padding padding padding padding padding padding\n".repeat(160_000));
    assert!(text.len() > 10_000_000);
    snapshot("generated_10mb_file", &generated(&text, "generated_10mb_file"));
}

#[test]
fn generated_10000_nesting_levels_of_lists() {
    let text = format!(
        "stack demo {{}}\nservice web: image {{\n  image = \"nginx:1.27\"\n  tmpfs = {}{}\n}}\n",
        "[\n".repeat(10_000),
        "]\n".repeat(10_000)
    );
    snapshot("generated_10000_nesting_levels_of_lists", &generated(&text, "generated_10000_nesting_levels_of_lists"));
}

#[test]
fn generated_10000_nesting_levels_of_blocks() {
    let text = format!("stack demo {}\n", "{ x\n".repeat(10_000) + &"}\n".repeat(10_000));
    snapshot("generated_10000_nesting_levels_of_blocks", &generated(&text, "generated_10000_nesting_levels_of_blocks"));
}

#[test]
fn generated_10000_nesting_levels_of_calls() {
    let text = format!("stack demo {{}}\nsecret s = {}1{}\n", "f(\n".repeat(10_000), ")\n".repeat(10_000));
    snapshot("generated_10000_nesting_levels_of_calls", &generated(&text, "generated_10000_nesting_levels_of_calls"));
}

#[test]
fn generated_100000_services() {
    let mut text = String::from("stack demo {}\n");
    for i in 0..100_000 {
        text.push_str(&format!("service s{i}: image {{ image = \"n:1\" }}\n"));
    }
    snapshot("generated_100000_services", &generated(&text, "generated_100000_services"));
}

#[test]
fn generated_100000_environment_variables() {
    let mut text = String::from("stack demo {}\nservice web: image {\n  image = \"nginx:1.27\"\n  env {\n");
    for i in 0..100_000 {
        text.push_str(&format!("    V{i} = \"x\"\n"));
    }
    text.push_str("  }\n}\n");
    snapshot("generated_100000_environment_variables", &generated(&text, "generated_100000_environment_variables"));
}

#[test]
fn generated_100000_secrets() {
    let mut text = String::from("stack demo {}\n");
    for i in 0..100_000 {
        text.push_str(&format!("secret k{i} = generate(hex, 32)\n"));
    }
    snapshot("generated_100000_secrets", &generated(&text, "generated_100000_secrets"));
}

#[test]
fn generated_100000_list_items() {
    let text = format!(
        "stack demo {{}}\nservice web: image {{\n  image = \"nginx:1.27\"\n  tmpfs = [\n{}\n  ]\n}}\n",
        vec!["    \"/tmp\""; 100_000].join(",\n")
    );
    snapshot("generated_100000_list_items", &generated(&text, "generated_100000_list_items"));
}

#[test]
fn generated_100000_references_in_one_file() {
    let mut text = String::from("stack demo {}\nservice web: image {\n  image = \"nginx:1.27\"\n");
    for block in 0..100 {
        text.push_str("  dev { env {\n");
        for i in 0..1_000 {
            text.push_str(&format!("    V{block}_{i} = missing{i}.url\n"));
        }
        text.push_str("  } }\n");
    }
    text.push_str("}\n");
    snapshot("generated_100000_references_in_one_file", &generated(&text, "generated_100000_references_in_one_file"));
}

/// 200 services with 9 unknown references each: 1,800 errors, of which the
/// first 200 are reported.
#[test]
fn generated_1800_errors() {
    let mut text = String::from("stack demo {}\n");
    for i in 0..200 {
        text.push_str(&format!("service s{i}: image {{\n  image = \"n:1\"\n  env {{\n"));
        for j in 0..9 {
            text.push_str(&format!("    V{j} = missing{j}.url\n"));
        }
        text.push_str("  }\n}\n");
    }
    snapshot("generated_1800_errors", &generated(&text, "generated_1800_errors"));
}

#[test]
fn generated_string_of_4mb() {
    let text = format!("stack demo {{}}\nservice web: image {{\n  image = \"{}\"\n}}\n", "a".repeat(4 * 1024 * 1024));
    snapshot("generated_string_of_4mb", &generated(&text, "generated_string_of_4mb"));
}

#[test]
fn generated_line_of_1mb() {
    let text = format!("stack demo {{}}\nservice web: image {{\n  image = \"{}\"\n}}\n", "a".repeat(1024 * 1024));
    snapshot("generated_line_of_1mb", &generated(&text, "generated_line_of_1mb"));
}

/// Every example cut short at every token boundary: never a panic, and every
/// cut that leaves an incomplete file is an error. The snapshot is the
/// histogram of first codes over all cuts.
#[test]
fn generated_truncations_of_every_example() {
    let mut summary = String::new();
    for example in ["examples/minimal.rag", "examples/node-postgres.rag", "examples/rag-engine-mini.rag"] {
        let text = std::fs::read_to_string(example).unwrap();
        let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        let mut cuts = 0;
        let start = Instant::now();
        for (offset, _) in text.char_indices().filter(|(i, c)| *i > 0 && (c.is_whitespace() || "{}[]()=:,\"".contains(*c))) {
            cuts += 1;
            let input = Input::from_text("cut.rag", &text[..offset]);
            let (compilation, plan) = ragc::compile(&input, &EmitOptions::default());
            let first = compilation.diagnostics.iter().find(|d| d.is_error()).map_or("compiles", |d| d.code.as_str());
            // A cut between two whole declarations leaves a shorter, valid stack.
            assert_eq!(plan.is_some(), first == "compiles");
            *counts.entry(first.to_string()).or_default() += 1;
        }
        summary.push_str(&format!("{example}: {cuts} cuts: {counts:?}\n"));
        assert!(start.elapsed() < BUDGET * 3);
    }
    snapshot("generated_truncations_of_every_example", &summary);
}

fn ragc_binary(path: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_ragc")).args(["check"]).arg(path).env("NO_COLOR", "1").output().expect("ragc runs")
}

/// Through the binary: exit code 1 (never 101, never a signal) and a
/// diagnostic on stderr, for a sample of fixtures and the big generated files.
#[test]
fn the_binary_exits_1_on_hostile_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut files: Vec<std::path::PathBuf> = [
        "truncated_inside_string",
        "unbalanced_missing_close_brace",
        "invalid_utf8_in_string",
        "utf16_file",
        "nul_byte_in_string",
        "service_name_of_300_characters",
        "size_past_64_bits",
        "wrong_call_as_string",
        "health_path_with_command_substitution",
        "fuzz_unpaired_sentinel_in_kind_string",
        "volume_names_collide_across_services",
    ]
    .iter()
    .map(|name| Path::new("tests/fixtures/hostile").join(format!("{name}.rag")))
    .collect();
    let big = dir.path().join("big.rag");
    std::fs::write(&big, format!("stack demo {{}}\n{}", "#".repeat(10 * 1024 * 1024))).unwrap();
    files.push(big);
    let deep = dir.path().join("deep.rag");
    std::fs::write(&deep, format!("stack demo {}\n", "{ x\n".repeat(10_000) + &"}\n".repeat(10_000))).unwrap();
    files.push(deep);
    let many = dir.path().join("many.rag");
    let mut text = String::from("stack demo {}\n");
    for i in 0..100_000 {
        text.push_str(&format!("service s{i}: image {{ image = \"n:1\" }}\n"));
    }
    std::fs::write(&many, text).unwrap();
    files.push(many);
    for file in files {
        let start = Instant::now();
        let output = ragc_binary(&file);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{}: {stderr}", file.display());
        assert!(stderr.contains("error["), "{}: {stderr}", file.display());
        assert!(start.elapsed() < BUDGET, "{} took {:?}", file.display(), start.elapsed());
    }
}

/// Every input the fuzzers found a bug with stays fixed: no panic, and the
/// one that compiles (a U+FFFE in an environment value) yields YAML that parses.
#[test]
fn fuzz_regressions_stay_fixed() {
    let mut paths: Vec<_> = std::fs::read_dir("fuzz/regressions").unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    assert!(paths.len() >= 5);
    for path in paths {
        let input = Input::load(&path).unwrap();
        let (compilation, plan) = ragc::compile(&input, &EmitOptions::default());
        let _ = compilation.sources.render(&compilation.diagnostics, false);
        if let Some(plan) = plan {
            for artifact in &plan.artifacts {
                let ragc::plan::Contents::Text(text) = &artifact.contents else { continue };
                assert!(!text.chars().any(|c| (c.is_control() && c != '\n' && c != '\t') || c == '\u{2028}'), "{}", artifact.path);
                if artifact.path.ends_with(".yaml") {
                    serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text).unwrap_or_else(|e| panic!("{}: {e}", artifact.path));
                }
            }
        } else {
            assert!(compilation.has_errors(), "{}", path.display());
        }
    }
}
