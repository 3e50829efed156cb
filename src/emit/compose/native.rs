//! The stdlib templates every compile renders (the Compose files, the env
//! example, the ops health check), compiled into ragc by askama: they loop
//! over every service, and compiling them at run time was a fixed cost of
//! every compile (a fifth of a 10-service one). Users never replace these;
//! the other stdlib templates and users' kind templates stay minijinja.
//!
//! Values reach these templates through the same escaping functions as the
//! minijinja filters of the same names (`super::filters`).

use askama::Template;

use super::secret_files::{Delivery, DEVELOPMENT_DIR, LOADED_VAR, LOADER, PRODUCTION_DIR};
use super::{Paths, PRODUCTION_FILES};
use crate::emit::EmitOptions;
use indexmap::IndexMap;

use crate::model::{Alphabet, FieldValue, Health, HealthTest, SecretSource, Service, Stack, Text};

/// What the compiled templates read.
pub struct Data<'a> {
    pub stack: &'a Stack,
    pub paths: &'a Paths,
    /// Every secret file, by Compose name ([`super::secret_files::all`]):
    /// the Compose files and the operator's scripts name the same ones.
    pub files: &'a IndexMap<String, &'a Text>,
}

/// An HTTP healthcheck the ops script can run from the host.
struct HttpCheck<'a> {
    name: &'a str,
    path: &'a str,
    url: String,
}

/// One compiled template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Native {
    ComposeBase,
    ComposeOverride,
    ComposeProduction,
    ComposeLint,
    EnvExample,
    EnvDevelopment,
    HealthCheck,
    OpsCrontab,
    OpsDeploy,
    OpsRollback,
    OpsStatus,
    OpsInstall,
    OpsRestoreDrill,
}

impl Native {
    /// The template's file under `stdlib/templates/`, for errors.
    pub fn template(self) -> &'static str {
        match self {
            Native::ComposeBase => "compose/base.yaml.askama",
            Native::ComposeOverride => "compose/override.yaml.askama",
            Native::ComposeProduction => "compose/production.yaml.askama",
            Native::ComposeLint => "compose/lint.yaml.askama",
            Native::EnvExample => "env/example.askama",
            Native::EnvDevelopment => "env/development.askama",
            Native::HealthCheck => "ops/health-check.sh.askama",
            Native::OpsCrontab => "ops/crontab.askama",
            Native::OpsDeploy => "ops/deploy.sh.askama",
            Native::OpsRollback => "ops/rollback.sh.askama",
            Native::OpsStatus => "ops/status.sh.askama",
            Native::OpsInstall => "ops/install.sh.askama",
            Native::OpsRestoreDrill => "ops/restore-drill.sh.askama",
        }
    }

    /// Renders the template. askama drops a template file's last newline;
    /// every artifact ends with one.
    pub fn render(self, data: &Data<'_>) -> askama::Result<String> {
        let stack = data.stack;
        let mut out = match self {
            Native::ComposeBase => {
                let volumes = stack.services.values().flat_map(|s| s.volumes.keys().map(|v| s.volume_name(v))).collect();
                let services = stack.services.values().map(|service| (service, Delivery::of(service))).collect();
                ComposeBase { stack, paths: data.paths, services, volumes, files: data.files }.render()?
            }
            Native::ComposeOverride => {
                let dev_services = stack.services.values().filter(|service| service.has_dev_override()).collect();
                ComposeOverride { paths: data.paths, dev_services, files: data.files }.render()?
            }
            Native::ComposeProduction => ComposeProduction { stack }.render()?,
            Native::ComposeLint => {
                let pinned_by_tag = stack
                    .services
                    .values()
                    .filter(|service| !service.digest)
                    .filter_map(|service| service.image.as_deref().map(|image| (service, image)))
                    .collect();
                // A release job runs its service's image: excepted with it.
                let built = stack
                    .services
                    .values()
                    .filter(|service| service.build.is_some())
                    .flat_map(|service| {
                        let image = built_image(stack, service);
                        std::iter::once((service.name.clone(), image.clone()))
                            .chain(service.release.as_ref().map(|_| (service.release_name(), image)))
                    })
                    .collect();
                ComposeLint { pinned_by_tag, built }.render()?
            }
            Native::EnvExample => EnvExample { stack }.render()?,
            Native::EnvDevelopment => {
                let values = stack.secrets.values().map(|secret| (secret.var.as_str(), development_value(&secret.source))).collect();
                EnvDevelopment { stack, values }.render()?
            }
            Native::HealthCheck => {
                let http_checks = stack
                    .services
                    .values()
                    .filter_map(|service| match (&service.health, service.publish) {
                        (Some(Health { test: HealthTest::Http { path, .. }, .. }), Some(port)) => {
                            Some(HttpCheck { name: &service.name, path, url: format!("http://127.0.0.1:{port}{path}") })
                        }
                        _ => None,
                    })
                    .collect();
                let backups = stack
                    .services
                    .values()
                    .filter_map(|service| {
                        let gap = service.backup.as_ref()?.longest_gap_minutes;
                        Some(BackupCheck { name: &service.name, max_age: gap.saturating_mul(60).saturating_add(BACKUP_SLACK_SECONDS) })
                    })
                    .collect();
                HealthCheck { stack, http_checks, backups, certificate: stack.certificate() }.render()?
            }
            Native::OpsCrontab => OpsCrontab { stack, paths: data.paths }.render()?,
            Native::OpsDeploy => OpsDeploy::new(data).render()?,
            Native::OpsRollback => OpsRollback { ops: Ops::new(data) }.render()?,
            Native::OpsStatus => OpsStatus { ops: Ops::new(data) }.render()?,
            Native::OpsInstall => OpsInstall::new(data).render()?,
            Native::OpsRestoreDrill => {
                let stores = stack
                    .services
                    .values()
                    .filter(|service| service.backup.is_some())
                    .map(|service| DrillStore {
                        name: &service.name,
                        kind: &service.kind,
                        // The postgres kind's fields, as its own templates read them.
                        user: service.fields.get("user").and_then(FieldValue::as_str).unwrap_or_default(),
                        database: service.fields.get("database").and_then(FieldValue::as_str).unwrap_or_default(),
                    })
                    .collect();
                OpsRestoreDrill { ops: Ops::new(data), stores }.render()?
            }
        };
        out.push('\n');
        Ok(out)
    }
}

#[derive(Template)]
#[template(path = "compose/base.yaml.askama", escape = "none")]
struct ComposeBase<'a> {
    stack: &'a Stack,
    paths: &'a Paths,
    /// Every service, with how its secrets reach it.
    services: Vec<(&'a Service, Delivery<'a>)>,
    /// Every service's volumes, by Compose name.
    volumes: Vec<String>,
    /// Every secret file, by Compose name.
    files: &'a IndexMap<String, &'a Text>,
}

impl ComposeBase<'_> {
    fn secret_name(&self, service: &str, target: &str) -> String {
        super::secret_files::secret_name(service, target)
    }
}

#[derive(Template)]
#[template(path = "compose/override.yaml.askama", escape = "none")]
struct ComposeOverride<'a> {
    paths: &'a Paths,
    /// The services a development override is written for.
    dev_services: Vec<&'a Service>,
    /// Every secret file, by Compose name.
    files: &'a IndexMap<String, &'a Text>,
}

impl ComposeOverride<'_> {
    /// The variable a file's contents are, when they are one secret alone.
    fn single_secret<'t>(&self, contents: &'t Text) -> Option<&'t str> {
        super::secret_files::single_secret(contents)
    }
}

#[derive(Template)]
#[template(path = "compose/production.yaml.askama", escape = "none")]
struct ComposeProduction<'a> {
    stack: &'a Stack,
}

impl ComposeProduction<'_> {
    fn built_image(&self, stack: &Stack, service: &Service) -> String {
        built_image(stack, service)
    }
}

#[derive(Template)]
#[template(path = "compose/lint.yaml.askama", escape = "none")]
struct ComposeLint<'a> {
    /// Services whose image is pinned by tag, not digest, with that image.
    pinned_by_tag: Vec<(&'a Service, &'a str)>,
    /// Services (and release jobs) that run an image built on the host, by
    /// service name, with the image's name.
    built: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "env/example.askama", escape = "none")]
struct EnvExample<'a> {
    stack: &'a Stack,
}

#[derive(Template)]
#[template(path = "env/development.askama", escape = "none")]
struct EnvDevelopment<'a> {
    stack: &'a Stack,
    /// Every secret's development value, by variable.
    values: Vec<(&'a str, String)>,
}

/// A secret's value in development: of the alphabet and length of the real
/// one (an app may check its format), and plainly not a secret. The
/// characters are in every alphabet ragc generates; none needs quoting.
pub(super) fn development_value(source: &SecretSource) -> String {
    match source {
        SecretSource::Generate { alphabet, length } => {
            let characters = crate::model::characters_for(*alphabet, *length);
            let pattern = if *alphabet == Alphabet::Hex { "de" } else { "developmentonly" };
            pattern.chars().cycle().take(characters).collect()
        }
        SecretSource::Required { .. } => "development-only".to_string(),
    }
}

/// How late a backup may be past its schedule's longest gap before the
/// health check fails: a scheduled run may wait an hour for another's lock
/// (the crontab's BACKUP_LOCK_WAIT), and then takes its own time.
const BACKUP_SLACK_SECONDS: u64 = 2 * 3600;

/// A backed-up service whose newest good backup the health check dates.
struct BackupCheck<'a> {
    name: &'a str,
    /// Seconds a healthy schedule can go between two good backups, with slack.
    max_age: u64,
}

/// What the operator's scripts (`ops/deploy`, `ops/rollback`, `ops/status`) read.
struct Ops<'a> {
    stack: &'a Stack,
    /// The images ragc builds, by name without tag: one per Dockerfile.
    images: Vec<String>,
    /// The URL that proves the app serves: through the proxy when it is
    /// routed at `/`, else on its published port.
    probe: Option<String>,
    has_release: bool,
    backed_up: Vec<&'a str>,
    certificate: Option<&'a str>,
    /// The production secret files compose.yaml names (its top-level
    /// `secrets:`): `ops/deploy` and `ops/rollback` refuse while one is
    /// missing or stale.
    secret_files: Vec<SecretFile>,
    /// The checkout (the stack file's directory) seen from the output
    /// directory, on the server.
    checkout_from_out: String,
    /// What writes the secret files again from `.env.production`, run in the checkout.
    compile: String,
}

/// A production secret file, as the operator's scripts check it.
struct SecretFile {
    /// Relative to the output directory, as compose.yaml names it.
    path: String,
    /// The variables of `.env.production` it is made from, space-separated.
    vars: String,
}

impl<'a> Ops<'a> {
    fn new(data: &Data<'a>) -> Self {
        let (stack, paths) = (data.stack, data.paths);
        let images =
            stack.services.values().filter_map(|s| s.build.as_ref().filter(|b| b.owner == s.name).map(|_| built_image(stack, s))).collect();
        let probe = stack.services.values().find_map(|service| {
            let Some(Health { test: HealthTest::Http { path, .. }, .. }) = &service.health else { return None };
            match (&stack.settings.domain, service.route.as_deref(), service.publish) {
                (Some(domain), Some("/"), _) if stack.proxy.is_some() => Some(format!("https://{domain}{path}")),
                (_, _, Some(port)) => Some(format!("http://127.0.0.1:{port}{path}")),
                _ => None,
            }
        });
        // The stack's `path` folded as the output directory's is: both absolute.
        let checkout = super::output_on_server(&stack.settings.path, ".");
        let out = super::relative_to(&paths.output_on_server, &checkout);
        // Shown, not run: a control character in a name is shown escaped, on the one line.
        let word = |text: &str| super::filters::sh_quote(&crate::artifact::comment_text(text));
        let mut compile = format!("ragc compile {}", word(&stack.source));
        if out != EmitOptions::default().out_from_stack {
            compile.push_str(&format!(" -o {}", word(&out)));
        }
        Ops {
            stack,
            images,
            probe,
            has_release: stack.services.values().any(|s| s.release.is_some()),
            backed_up: stack.backed_up(),
            certificate: stack.certificate(),
            secret_files: data
                .files
                .iter()
                .map(|(name, contents)| {
                    let mut vars: Vec<&str> = Vec::new();
                    for var in contents.secrets() {
                        if !vars.contains(&var) {
                            vars.push(var);
                        }
                    }
                    SecretFile { path: format!("{PRODUCTION_DIR}/{name}"), vars: vars.join(" ") }
                })
                .collect(),
            checkout_from_out: super::relative_to(&checkout, &paths.output_on_server),
            compile,
        }
    }
}

/// The name, without tag, of the image built for `service` (its `from`'s when it has one).
pub(super) fn built_image(stack: &Stack, service: &Service) -> String {
    let owner = service.build.as_ref().map_or(service.name.as_str(), |build| build.owner.as_str());
    format!("{}-{owner}", stack.name)
}

#[derive(Template)]
#[template(path = "ops/deploy.sh.askama", escape = "none")]
struct OpsDeploy<'a> {
    ops: Ops<'a>,
    /// The services built from the stack's own images that have a
    /// healthcheck: what a deploy tries beside the serving version first.
    trial_services: Vec<&'a str>,
    /// The release jobs the trial runs first.
    release_services: Vec<String>,
}

impl<'a> OpsDeploy<'a> {
    fn new(data: &Data<'a>) -> Self {
        let services = data.stack.services.values();
        OpsDeploy {
            ops: Ops::new(data),
            trial_services: services.clone().filter(|s| s.build.is_some() && s.health.is_some()).map(|s| s.name.as_str()).collect(),
            release_services: services.filter(|s| s.release.is_some()).map(Service::release_name).collect(),
        }
    }
}

#[derive(Template)]
#[template(path = "ops/rollback.sh.askama", escape = "none")]
struct OpsRollback<'a> {
    ops: Ops<'a>,
}

#[derive(Template)]
#[template(path = "ops/status.sh.askama", escape = "none")]
struct OpsStatus<'a> {
    ops: Ops<'a>,
}

/// What `ops/install` reads: the nginx site's install steps, scripted.
#[derive(Template)]
#[template(path = "ops/install.sh.askama", escape = "none")]
struct OpsInstall<'a> {
    ops: Ops<'a>,
    paths: &'a Paths,
    /// The proxy's kind is nginx (the only one whose install is scripted).
    nginx: bool,
    /// `tls = letsencrypt`: the bootstrap form and certbot come first.
    letsencrypt: bool,
    /// certbot's `--cert-name`.
    cert_name: String,
}

impl<'a> OpsInstall<'a> {
    fn new(data: &Data<'a>) -> Self {
        let (stack, paths) = (data.stack, data.paths);
        let proxy = stack.proxy.as_ref().filter(|proxy| proxy.kind == "nginx");
        OpsInstall {
            ops: Ops::new(data),
            paths,
            nginx: proxy.is_some(),
            letsencrypt: proxy.is_some_and(|proxy| proxy.site.letsencrypt),
            cert_name: proxy.map(|proxy| super::certbot_name(stack, proxy).0).unwrap_or_default(),
        }
    }
}

/// A backed-up store the restore drill restores and checks.
struct DrillStore<'a> {
    name: &'a str,
    kind: &'a str,
    /// PostgreSQL's `user` and `database` (empty for other kinds).
    user: &'a str,
    database: &'a str,
}

#[derive(Template)]
#[template(path = "ops/restore-drill.sh.askama", escape = "none")]
struct OpsRestoreDrill<'a> {
    ops: Ops<'a>,
    stores: Vec<DrillStore<'a>>,
}

#[derive(Template)]
#[template(path = "ops/crontab.askama", escape = "none")]
struct OpsCrontab<'a> {
    stack: &'a Stack,
    paths: &'a Paths,
}

#[derive(Template)]
#[template(path = "ops/health-check.sh.askama", escape = "none")]
struct HealthCheck<'a> {
    stack: &'a Stack,
    http_checks: Vec<HttpCheck<'a>>,
    backups: Vec<BackupCheck<'a>>,
    /// The proxy's TLS certificate, whose expiry is checked.
    certificate: Option<&'a str>,
}

/// The filters these templates use, each a thin adapter over the escaping
/// function the minijinja filter of the same name uses.
mod filters {
    use std::fmt;

    use crate::emit::compose::filters::{sh_quote, write_comment, write_compose, write_plain, Pieces};

    /// A value written straight into the output by its syntax's escaping
    /// function, without a string in between.
    pub struct Escaped<T> {
        value: T,
        syntax: Syntax,
    }

    #[derive(Clone, Copy)]
    enum Syntax {
        Compose,
        Comment,
    }

    impl<T: Pieces> fmt::Display for Escaped<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self.syntax {
                Syntax::Compose => write_compose(f, self.value.pieces()),
                Syntax::Comment => write_comment(f, self.value.pieces()),
            }
        }
    }

    /// [`write_compose`]: a YAML double-quoted scalar, `$$`, secrets as `${VAR:?...}`.
    #[askama::filter_fn]
    pub fn compose<T: Pieces>(value: T, _: &dyn askama::Values) -> askama::Result<Escaped<T>> {
        Ok(Escaped { value, syntax: Syntax::Compose })
    }

    /// [`write_comment`]: text on one `#` line, secrets as `${VAR}`.
    #[askama::filter_fn]
    pub fn comment<T: Pieces>(value: T, _: &dyn askama::Values) -> askama::Result<Escaped<T>> {
        Ok(Escaped { value, syntax: Syntax::Comment })
    }

    #[askama::filter_fn]
    pub fn sh<T: Pieces>(value: T, _: &dyn askama::Values) -> askama::Result<String> {
        let mut text = String::new();
        write_plain(&mut text, value.pieces())?;
        Ok(sh_quote(&text))
    }

    /// A limit the checker always sets; a missing one is a bug, reported.
    fn required<T: Copy>(value: &Option<T>, what: &str) -> askama::Result<T> {
        value.ok_or_else(|| askama::Error::custom(format!("the {what} limit is not set")))
    }

    /// [`crate::emit::compose::filters::cron_text`]: `%` escaped, a newline refused.
    #[askama::filter_fn]
    pub fn cron<T: fmt::Display>(value: T, _: &dyn askama::Values) -> askama::Result<String> {
        crate::emit::compose::filters::cron_text(&value.to_string()).map_err(askama::Error::custom)
    }

    #[askama::filter_fn]
    pub fn cpus(value: &Option<f64>, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(format!("{}", required(value, "cpus")?))
    }

    #[askama::filter_fn]
    pub fn compose_size(value: &Option<u64>, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(crate::emit::compose::size_text(required(value, "memory")?))
    }

    #[askama::filter_fn]
    pub fn compose_duration(seconds: &u64, _: &dyn askama::Values) -> askama::Result<String> {
        Ok(format!("{seconds}s"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::emit::{emit, EmitOptions, UserTemplates};

    fn flagship() -> Arc<crate::model::Stack> {
        let input = crate::input::Input::load(std::path::Path::new("examples/rag-engine-mini.rag")).expect("the flagship");
        crate::analyze(&input).stack.expect("checks")
    }

    /// The checker always sets a service's limits; were one missing, the
    /// compile fails naming the template, and writes nothing.
    #[test]
    fn a_missing_limit_is_an_error_naming_the_template() {
        let mut stack = (*flagship()).clone();
        stack.services[0].limits.cpus = None;
        let error = emit(&Arc::new(stack), &EmitOptions::default(), &UserTemplates::new()).expect_err("no cpus limit");
        assert_eq!(error.template, "compose/base.yaml.askama");
        assert!(error.message.contains("the cpus limit is not set"), "{}", error.message);
    }

    /// askama drops a template file's last newline; every artifact has one,
    /// and no blank line after it.
    #[test]
    fn every_compiled_artifact_ends_with_one_newline() {
        let plan = emit(&flagship(), &EmitOptions::default(), &UserTemplates::new()).expect("renders");
        for path in [
            "compose.yaml",
            "compose.override.yaml",
            "compose.production.yaml",
            ".compose-lint.yml",
            ".env.example",
            ".env",
            "ops/health-check.sh",
        ] {
            let artifact = plan.get(path).expect(path);
            let crate::artifact::Contents::Text(text) = &artifact.contents else { panic!("{path} is text") };
            assert!(text.ends_with('\n') && !text.ends_with("\n\n"), "{path}");
        }
    }
}
