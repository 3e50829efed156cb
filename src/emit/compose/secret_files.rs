//! How secrets reach the containers under Compose: as files mounted under
//! `/run/secrets/`, never through the environment or a command line, which
//! `docker inspect` and the as-run configuration show to anyone who can
//! read them (OWASP's Docker cheat sheet, rule 12; compose-lint CL-0020,
//! CL-0021).
//!
//! Two ways in:
//! - a kind's `file NAME = "..."` (PostgreSQL's `POSTGRES_PASSWORD_FILE`,
//!   Redis' configuration): the image reads the file itself;
//! - an environment variable of a service ragc builds, when its value holds
//!   a secret: the image's entrypoint (`ragc-env`, in the Dockerfile) reads
//!   `/run/secrets/NAME` into the variable just before the app starts, so
//!   the app's code reads its environment as before.
//!
//! Compose mounts each file read-only from the output directory:
//! `secrets/` for production (filled in from `.env.production` by the
//! plan, like that file never in the plan itself) and `secrets.dev/` for
//! development (development values, written here).

use indexmap::IndexMap;

use crate::model::{Part, Service, Stack, Text};

/// The entrypoint of the images ragc builds: it reads the files named in
/// [`LOADED_VAR`] into environment variables, then runs the command.
pub const LOADER: &str = "/usr/local/bin/ragc-env";

/// The variable naming, space-separated, the environment variables the
/// loader reads from `/run/secrets/` (its name says nothing secret, so that
/// compose-lint's credential-shaped names don't match it).
pub const LOADED_VAR: &str = "RAGC_ENV_FILES";

/// The production files' directory in the output directory (mode 0700).
pub const PRODUCTION_DIR: &str = crate::artifact::SECRETS_DIR;
/// The development files' directory in the output directory.
pub const DEVELOPMENT_DIR: &str = "secrets.dev";

/// One file mounted into one service's containers.
#[derive(Debug, Clone, Copy)]
pub struct Mount<'a> {
    /// The file's name under `/run/secrets/` in the container.
    pub target: &'a str,
    pub contents: &'a Text,
}

/// What one service's containers get, under Compose.
#[derive(Debug, Default)]
pub struct Delivery<'a> {
    /// The environment without its secrets.
    pub env: Vec<(&'a str, &'a Text)>,
    /// The variables the loader reads from files, in environment order.
    pub loaded: Vec<&'a str>,
    pub mounts: Vec<Mount<'a>>,
}

impl<'a> Delivery<'a> {
    pub fn of(service: &'a Service) -> Self {
        let mut delivery = Delivery::default();
        // Only an image ragc builds has the loader; a prebuilt one gets its
        // secrets in its environment (W0006 said so at check time).
        let loads = service.build.is_some();
        for (name, value) in &service.env {
            if loads && value.is_secret() {
                delivery.loaded.push(name);
                delivery.mounts.push(Mount { target: name, contents: value });
            } else {
                delivery.env.push((name, value));
            }
        }
        for (name, contents) in &service.files {
            delivery.mounts.push(Mount { target: name, contents });
        }
        delivery
    }

    /// The value of [`LOADED_VAR`].
    pub fn loaded_list(&self) -> String {
        self.loaded.join(" ")
    }
}

/// The Compose name of a service's file, which is also its file name in
/// the secrets directories: service names have no `.`, file names and
/// variables no `.` either, so no two files share one.
pub fn secret_name(service: &str, target: &str) -> String {
    format!("{service}.{target}")
}

/// The variable `contents` are, when they are one secret and nothing else:
/// development reads such a file from that variable (Compose's
/// `environment:` source), not from a written file.
pub fn single_secret(contents: &Text) -> Option<&str> {
    match contents.0.as_slice() {
        [Part::Secret(var)] => Some(var),
        _ => None,
    }
}

/// Every file of the stack, by Compose secret name, in stack order.
pub fn all(stack: &Stack) -> IndexMap<String, &Text> {
    let mut files = IndexMap::new();
    for service in stack.services.values() {
        for mount in Delivery::of(service).mounts {
            files.insert(secret_name(&service.name, mount.target), mount.contents);
        }
    }
    files
}
