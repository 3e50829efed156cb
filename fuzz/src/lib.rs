//! The fuzzing harness shared by the in-process driver (`ragc-fuzz`) and the
//! AFL++ target: turn bytes into an [`Input`], run parse → check → emit on
//! it, and check what must hold for every input.
//!
//! What must hold: no panic (the callers catch it), a compile with errors
//! renders at least one `error[` diagnostic, a compile without errors yields
//! a plan, and every artifact of a plan is clean text: no control character
//! but `\n` and `\t`, no Unicode line separator, and every YAML artifact
//! parses.

pub mod generate;
pub mod mutate;
pub mod rng;

use ragc::emit::EmitOptions;
use ragc::input::Input;
use ragc::plan::Contents;

/// Bytes as `ragc` would read them from a file: invalid UTF-8 becomes a
/// lossy copy with the offset of the first bad byte, like `Input::load`.
pub fn input_from_bytes(bytes: &[u8]) -> Input {
    match std::str::from_utf8(bytes) {
        Ok(text) => Input::from_text("fuzz.rag", text),
        Err(error) => {
            let mut input = Input::from_text("fuzz.rag", &String::from_utf8_lossy(bytes));
            input.invalid_utf8_at = Some(error.valid_up_to());
            input
        }
    }
}

/// What one run did, for statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The input was rejected with diagnostics.
    Rejected,
    /// The input compiled into a plan.
    Compiled,
}

/// Runs the whole pipeline on `bytes`. A panic propagates; a broken
/// invariant is an `Err` with what broke.
///
/// # Errors
/// The invariant that does not hold.
pub fn exercise(bytes: &[u8]) -> Result<(Outcome, String), String> {
    let input = input_from_bytes(bytes);
    let (compilation, plan) = ragc::compile(&input, &EmitOptions::default());
    let rendered = compilation.sources.render(&compilation.diagnostics, false);
    let _ = compilation.sources.render(&compilation.diagnostics, true);
    let json = compilation.sources.to_json(&compilation.diagnostics);
    if json.as_array().map(Vec::len) != Some(compilation.diagnostics.len()) {
        return Err("JSON diagnostics lost an entry".into());
    }
    if compilation.has_errors() {
        if plan.is_some() {
            return Err("a plan was produced despite errors".into());
        }
        if !rendered.contains("error[") {
            return Err(format!("errors rendered without `error[`:\n{rendered}"));
        }
        return Ok((Outcome::Rejected, signature(&compilation.diagnostics)));
    }
    let Some(plan) = plan else { return Err(format!("no errors, but no plan:\n{rendered}")) };
    for artifact in &plan.artifacts {
        check_path(&artifact.path)?;
        let Contents::Text(text) = &artifact.contents else { continue };
        if let Some(bad) = text.chars().find(|c| (c.is_control() && *c != '\n' && *c != '\t') || matches!(c, '\u{2028}' | '\u{2029}')) {
            return Err(format!("{} contains {:?}", artifact.path, bad));
        }
        if artifact.path.ends_with(".yaml") || artifact.path.ends_with(".yml") {
            if let Err(error) = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text) {
                return Err(format!("{} is not YAML: {error}\n{text}", artifact.path));
            }
        }
    }
    let _ = plan.render_for_review();
    Ok((Outcome::Compiled, signature(&compilation.diagnostics)))
}

/// The diagnostics' codes and labels: what "new behaviour" means to the
/// worker's crude feedback.
fn signature(diagnostics: &[ragc::diag::Diagnostic]) -> String {
    let mut codes: Vec<String> = diagnostics.iter().map(|d| format!("{}:{}", d.code, d.primary.message)).collect();
    codes.sort();
    codes.dedup();
    codes.join(",")
}

/// Artifact paths stay inside the output directory.
fn check_path(path: &str) -> Result<(), String> {
    if path.is_empty() || path.starts_with('/') || path.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
        return Err(format!("artifact path `{path}` escapes the output directory"));
    }
    Ok(())
}

/// The seeds: every example, every diagnostic fixture, every hostile fixture.
pub fn seeds(root: &std::path::Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in [
        "examples",
        "examples/custom-kind",
        "examples/custom-kind/kinds",
        "tests/fixtures/err",
        "tests/fixtures/hostile",
        "fuzz/regressions",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else { continue };
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
        paths.sort();
        for path in paths {
            if let Ok(bytes) = std::fs::read(&path) {
                if bytes.len() <= 256 * 1024 {
                    out.push(bytes);
                }
            }
        }
    }
    out
}
