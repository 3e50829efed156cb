//! The artifact plumbing every target shares: the plan's types (what a
//! compile produces, in memory), the generated-file header and its digest,
//! and the escaping of values into the syntaxes more than one phase writes.
//!
//! Input: text a target rendered. Output: artifacts and headers. A target
//! (`emit`, the Compose target) builds a [`Plan`]; `plan` compares it with
//! the disk and writes it; neither imports the other.
//! Invariant: a plan holds no secret material (see [`Contents::Secrets`]).

mod escape;
mod header;

use serde::Serialize;

use crate::model::{SecretSource, Text};

pub use escape::dotenv_quote;
pub use header::{comment_text, digest, split_header, with_header, CommentStyle};

/// The output directory's subdirectory for production's secret files:
/// always mode 0700, whoever created it.
pub const SECRETS_DIR: &str = "secrets";

/// Everything one compile emits, in a fixed order.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Plan {
    pub artifacts: Vec<Artifact>,
    /// The stack's name: an output directory belongs to one stack (its
    /// manifest says which, see `plan::disk::MANIFEST`).
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
}
