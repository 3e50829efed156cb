//! Helpers the integration tests share: a checked compile of a stack given as
//! text, and an artifact's text. (Each test file uses what it needs.)
#![allow(dead_code)]

use ragc::emit::EmitOptions;
use ragc::input::Input;
use ragc::plan::{Contents, Plan};

/// Compiles a stack given as text; it must have no errors.
pub fn compile_text(stack: &str) -> Plan {
    let input = Input::from_text("s.rag", stack);
    let (compilation, plan) = ragc::compile(&input, &EmitOptions::default());
    assert!(!compilation.has_errors(), "{}", compilation.sources.render(&compilation.diagnostics, false));
    plan.expect("no errors, so a plan")
}

/// The text of one artifact of a plan (never the secrets file).
pub fn text_of(plan: &Plan, path: &str) -> String {
    match &plan.get(path).unwrap_or_else(|| panic!("no artifact {path}")).contents {
        Contents::Text(text) => text.clone(),
        Contents::Secrets(_) | Contents::SecretFile(_) => panic!("{path} holds secrets"),
    }
}
