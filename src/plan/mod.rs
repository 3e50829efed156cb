//! The plan: every artifact a compile produces, in memory, deterministic.
//! `compile`, `diff` and `check` are three sinks of the same plan.
//!
//! Invariant: a plan holds no secret material. The production env file is a
//! list of secret entries; [`secrets::materialize`] fills in values from the
//! existing file (or the OS random source, the first time) at write time.

pub mod diff;
pub mod disk;
pub mod dotenv;
pub mod lock;
mod manifest;
pub mod secrets;
pub mod write;

pub use crate::artifact::{Artifact, Contents, Plan, SecretEntry, SecretsFile, SECRETS_DIR};

use crate::diag::{Code, Diagnostic};
use crate::model::Stack;

impl Plan {
    /// All artifacts as one text, `--- path (mode) ---` before each: the
    /// form snapshot tests review. Secret entries show their source, never a value.
    pub fn render_for_review(&self) -> String {
        let mut out = String::new();
        for artifact in &self.artifacts {
            out.push_str(&format!("--- {} ({:o}) ---\n", artifact.path, artifact.mode));
            match &artifact.contents {
                Contents::Text(text) => out.push_str(text),
                Contents::Secrets(file) => out.push_str(&secrets::render_placeholder(file)),
                Contents::SecretFile(text) => out.push_str(&text.render(str::to_string, |var| format!("<{var}>"))),
            }
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }
}

/// E0604 for every required secret the env file leaves unset, at its declaration.
pub fn unset_required(stack: &Stack, plan: &Plan, changes: &disk::Changes) -> Vec<Diagnostic> {
    let Some(Contents::Secrets(file)) = plan.get(".env.production").map(|a| &a.contents) else { return Vec::new() };
    let existing = changes.get(".env.production").and_then(|c| c.old.as_deref()).map(String::from_utf8_lossy).unwrap_or_default();
    let path = changes.out_dir.join(".env.production");
    secrets::unset_required(file, &existing)
        .into_iter()
        .filter_map(|entry| {
            let secret = stack.secrets.get(&entry.var)?;
            Some(
                Diagnostic::error(Code::E0604, format!("required secret `{}` is not set", entry.var), secret.span, "required here")
                    .with_help(format!("set {}=... in {}: ragc never invents a required secret", entry.var, path.display())),
            )
        })
        .collect()
}
