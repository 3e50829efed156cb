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
pub mod secrets;
pub mod write;

use serde::Serialize;

use crate::model::{SecretSource, Text};

/// The output directory's subdirectory for production's secret files:
/// always mode 0700, whoever created it.
pub const SECRETS_DIR: &str = "secrets";

/// Everything one compile emits, in a fixed order.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Plan {
    pub artifacts: Vec<Artifact>,
    /// The stack's name: an output directory belongs to one stack (its
    /// manifest says which, see [`disk::MANIFEST`]).
    pub stack: String,
}

/// One output file, its path relative to the output directory.
#[derive(Debug, Clone, Serialize)]
pub struct Artifact {
    pub path: String,
    pub contents: Contents,
    /// Unix permission bits.
    pub mode: u32,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Contents {
    Text(String),
    /// The production env file: one entry per secret, values filled in at write time.
    Secrets(SecretsFile),
    /// A production secret file (`secrets/NAME`): text with secrets in it,
    /// filled in from the production env file's values at write time.
    SecretFile(Text),
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretsFile {
    pub header: String,
    pub entries: Vec<SecretEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretEntry {
    pub var: String,
    pub source: SecretSource,
    pub used_by: Vec<String>,
}

impl Plan {
    /// The artifact at `path`, if the plan has one.
    pub fn get(&self, path: &str) -> Option<&Artifact> {
        self.artifacts.iter().find(|artifact| artifact.path == path)
    }

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
