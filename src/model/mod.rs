//! The deployment, resolved: kinds applied, defaults filled in, references
//! bound, dependencies, networks and start order derived. Everything an
//! emitter needs and nothing it has to work out again.
//!
//! Invariant: every map is an `IndexMap` in declaration order, so anything
//! rendered from the model is byte-deterministic.

use indexmap::IndexMap;
use serde::Serialize;

use crate::syntax::Span;

pub mod cron;
mod field;

pub use field::FieldValue;

/// A string that may contain secret material. Emitters render the literal
/// parts through their syntax's escaping filter and each secret part as a
/// reference (`${VAR}` in Compose), so secret values never reach an artifact
/// other than the production env file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text(pub Vec<Part>);

/// A text without secrets serialises as a plain string (most of them: it keeps
/// template contexts small); one with secrets as its list of parts.
impl Serialize for Text {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0.as_slice() {
            [] => serializer.serialize_str(""),
            [Part::Literal(text)] => serializer.serialize_str(text),
            parts => parts.serialize(serializer),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Part {
    Literal(String),
    /// The environment variable that holds the secret.
    Secret(String),
}

impl Text {
    pub fn literal(value: impl Into<String>) -> Self {
        Text(vec![Part::Literal(value.into())])
    }

    /// The secrets this text depends on.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|part| match part {
            Part::Secret(var) => Some(var.as_str()),
            Part::Literal(_) => None,
        })
    }

    pub fn is_secret(&self) -> bool {
        self.secrets().next().is_some()
    }

    /// The text when it holds no secret.
    pub fn as_literal(&self) -> Option<String> {
        if self.is_secret() {
            return None;
        }
        Some(self.0.iter().map(|part| if let Part::Literal(s) = part { s.as_str() } else { "" }).collect())
    }

    /// Joins parts, writing each secret as `render_secret(var)`.
    pub fn render(&self, mut literal: impl FnMut(&str) -> String, mut secret: impl FnMut(&str) -> String) -> String {
        self.0
            .iter()
            .map(|part| match part {
                Part::Literal(s) => literal(s),
                Part::Secret(var) => secret(var),
            })
            .collect()
    }
}

/// The whole deployment.
#[derive(Debug, Clone, Serialize)]
pub struct Stack {
    pub name: String,
    /// The stack file's name, for generated-file headers.
    pub source: String,
    pub settings: Settings,
    /// Keyed by environment variable name.
    pub secrets: IndexMap<String, Secret>,
    pub services: IndexMap<String, Service>,
    pub proxy: Option<Proxy>,
    pub networks: IndexMap<String, Network>,
    /// Services in an order where each comes after everything it depends on.
    pub start_order: Vec<String>,
    /// Every field each kind in use declares, in declaration order: templates
    /// see the ones a service leaves unset as null (see `Service::fields`).
    pub kind_fields: IndexMap<String, Vec<String>>,
}

impl Stack {
    /// The services that are backed up, by name, in stack order.
    pub fn backed_up(&self) -> Vec<&str> {
        self.services.values().filter(|s| s.backup.is_some()).map(|s| s.name.as_str()).collect()
    }

    /// The proxy's TLS certificate file, when it has one.
    pub fn certificate(&self) -> Option<&str> {
        self.proxy.as_ref()?.site.certificate.as_deref()
    }
}

/// The `stack { ... }` block.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub domain: Option<String>,
    pub acme_email: Option<String>,
    pub offsite: Option<String>,
    /// Where the output directory lives on the server (cron needs absolute paths).
    pub path: String,
    pub backup_root: String,
    /// The build context, relative to the stack file.
    pub context: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Secret {
    pub var: String,
    pub source: SecretSource,
    /// Services whose environment reads it.
    pub used_by: Vec<String>,
    #[serde(skip)]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SecretSource {
    Generate { alphabet: Alphabet, length: usize },
    Required { help: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Alphabet {
    Hex,
    Alnum,
    Base64url,
}

/// The characters a secret of `bytes` bytes of entropy takes in `alphabet`:
/// the fewest whose combinations reach 2^(8 × bytes) (hex: 2 per byte, as
/// `openssl rand -hex`; base64url: 4 per 3 bytes, rounded up).
pub fn characters_for(alphabet: Alphabet, bytes: usize) -> usize {
    let size = alphabet.characters().len();
    if size.is_power_of_two() {
        let bits_per_char = size.trailing_zeros() as usize;
        return (8 * bytes).div_ceil(bits_per_char);
    }
    // 62^c is never a power of two, so the bound is never met exactly.
    #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let characters = ((8 * bytes) as f64 / (size as f64).log2()).ceil() as usize;
    characters
}

impl Alphabet {
    const ALL: [Alphabet; 3] = [Alphabet::Hex, Alphabet::Alnum, Alphabet::Base64url];
    pub const NAMES: [&'static str; 3] = [Self::ALL[0].name(), Self::ALL[1].name(), Self::ALL[2].name()];

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alphabet| alphabet.name() == name)
    }

    /// The name as written in a stack file (and as serde writes it).
    pub const fn name(self) -> &'static str {
        match self {
            Alphabet::Hex => "hex",
            Alphabet::Alnum => "alnum",
            Alphabet::Base64url => "base64url",
        }
    }

    pub fn characters(self) -> &'static [u8] {
        match self {
            Alphabet::Hex => b"0123456789abcdef",
            Alphabet::Alnum => b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
            Alphabet::Base64url => b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_",
        }
    }
}

/// One service of the deployment.
#[derive(Debug, Clone, Serialize)]
pub struct Service {
    pub name: String,
    pub kind: String,
    /// The image reference (with `@digest` when pinned); `None` for built
    /// services, whose images Compose names.
    pub image: Option<String>,
    /// The base image a built service's Dockerfile starts from.
    pub base_image: Option<String>,
    /// True when `image` is pinned by digest.
    pub digest: bool,
    pub build: Option<Build>,
    pub command: Option<Vec<Text>>,
    pub workdir: Option<String>,
    pub port: Option<u16>,
    /// Host port on 127.0.0.1 (routed services and explicit `publish`).
    pub publish: Option<u16>,
    pub health: Option<Health>,
    pub route: Option<String>,
    /// A one-shot command run before the service starts (migrations).
    pub release: Option<Vec<Text>>,
    pub stateful: bool,
    pub read_only: bool,
    pub tmpfs: Vec<String>,
    pub cap_add: Vec<String>,
    pub user: Option<String>,
    pub env: IndexMap<String, Text>,
    /// Volume name (as declared) → mount path in the container.
    pub volumes: IndexMap<String, String>,
    /// File name → contents, for files the container reads under
    /// `/run/secrets/` (the kind's `file NAME = "..."`): how a secret
    /// reaches an image that reads it from a file.
    pub files: IndexMap<String, Text>,
    pub limits: Limits,
    pub backup: Option<Schedule>,
    pub depends_on: IndexMap<String, Condition>,
    pub networks: Vec<String>,
    pub dev: Profile,
    pub prod: Profile,
    /// The kind's fields the service sets or that have defaults, for the
    /// kind's own templates; unset optional ones are not stored per service
    /// (`Stack::kind_fields` has them).
    pub fields: IndexMap<String, FieldValue>,
    /// `backup = none()`: no backup, said on purpose (no warning).
    #[serde(skip)]
    pub no_backup: bool,
    #[serde(skip)]
    pub span: Span,
}

impl Service {
    /// Development differs from production for this service: its `dev`
    /// profile overrides something, or its build's working directory is
    /// mounted from the checkout.
    pub fn has_dev_override(&self) -> bool {
        let dev = &self.dev;
        dev.command.is_some()
            || dev.release.is_some()
            || !dev.env.is_empty()
            || dev.limits.is_some()
            || (self.build.is_some() && self.workdir.is_some())
    }

    /// The Compose volume name of one of this service's volumes.
    pub fn volume_name(&self, volume: &str) -> String {
        format!("{}-{volume}", self.name)
    }

    /// The Compose name of this service's one-shot release service.
    pub fn release_name(&self) -> String {
        format!("{}-release", self.name)
    }
}

/// How to build a service's image.
#[derive(Debug, Clone, Serialize)]
pub struct Build {
    /// The Dockerfile template under `stdlib/templates/dockerfile/`.
    pub template: String,
    /// The service whose Dockerfile builds this image (itself, or its `from`).
    pub owner: String,
    pub ignore: Vec<String>,
    /// The Dockerfile stage development builds (`compose.override.yaml`):
    /// one with every dependency, dev ones included, under the mounted source.
    pub dev_target: Option<String>,
    /// Paths under `workdir` that development keeps from the image, not the
    /// mounted source (`node_modules`): each gets an anonymous volume.
    pub dev_keep: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Health {
    pub test: HealthTest,
    pub interval: u64,
    pub timeout: u64,
    pub retries: u32,
    pub start_period: u64,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum HealthTest {
    /// Exec form, no shell.
    Cmd(Vec<String>),
    /// Run by the image's `/bin/sh -c`.
    Shell(String),
    /// An HTTP GET to the service's own port, through the kind's `http_probe`.
    Http { path: String, probe: Vec<String> },
    /// Inherited healthchecks switched off (a worker running another service's image).
    Disabled,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Limits {
    pub cpus: Option<f64>,
    pub memory: Option<u64>,
}

/// A backup schedule as a cron expression plus retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    pub cron: String,
    pub keep_days: u64,
    /// The longest a healthy schedule goes between two runs ([`cron`]):
    /// how old the last good backup may be before the health check fails.
    pub longest_gap_minutes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Condition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

impl Condition {
    /// The name Compose reads (and serde writes).
    pub const fn as_str(self) -> &'static str {
        match self {
            Condition::ServiceStarted => "service_started",
            Condition::ServiceHealthy => "service_healthy",
            Condition::ServiceCompletedSuccessfully => "service_completed_successfully",
        }
    }
}

/// Overrides for the dev or prod profile.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Profile {
    pub command: Option<Vec<Text>>,
    /// The release job's command in this profile (development runs the
    /// migration from the mounted source, not from a build output).
    pub release: Option<Vec<Text>>,
    pub env: IndexMap<String, Text>,
    pub limits: Option<Limits>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Network {
    /// No route out of the host: stateful services are reachable only by their users.
    pub internal: bool,
    pub members: Vec<String>,
}

/// The reverse proxy.
#[derive(Debug, Clone, Serialize)]
pub struct Proxy {
    pub kind: String,
    /// Every field of the proxy's kind, for its templates.
    pub fields: IndexMap<String, FieldValue>,
    pub routes: Vec<Route>,
    /// What the targets read of those fields, bound once by the checker.
    #[serde(skip)]
    pub site: ProxySite,
}

/// The proxy's settings a target needs, typed.
#[derive(Debug, Clone, Default)]
pub struct ProxySite {
    /// `tls = letsencrypt`: certificates from Let's Encrypt (certbot).
    pub letsencrypt: bool,
    pub certificate: Option<String>,
    pub certificate_key: Option<String>,
    /// The proxy's version, like `1.27.3`.
    pub version: String,
    /// Largest request body, in bytes.
    pub max_body: u64,
    /// Upstream timeout, in seconds.
    pub timeout: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub path: String,
    pub service: String,
    pub port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names templates write by hand are the ones serde writes.
    #[test]
    fn hand_written_names_are_serde_names() {
        for alphabet in Alphabet::ALL {
            assert_eq!(serde_json::to_value(alphabet).unwrap(), alphabet.name());
            assert_eq!(Alphabet::parse(alphabet.name()), Some(alphabet));
        }
        for condition in [Condition::ServiceStarted, Condition::ServiceHealthy, Condition::ServiceCompletedSuccessfully] {
            assert_eq!(serde_json::to_value(condition).unwrap(), condition.as_str());
        }
    }
}
