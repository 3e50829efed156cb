//! Rules: what holds across the whole stack once it is resolved.
//!
//! Input: the resolved [`Stack`] (and the user's templates). Output:
//! diagnostics only; a rule never changes the model.

use indexmap::IndexMap;

use super::resolve::{Instance, Resolver};
use crate::diag::{Code, Diagnostic};
use crate::input::UserTemplates;
use crate::model::{Proxy, Secret, Service, Settings, Stack, Text};
use crate::syntax::Span;

/// Backups need the kind's backup and restore templates.
pub(super) fn backups_have_templates(stack: &Stack, templates: &UserTemplates) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for service in stack.services.values().filter(|s| s.backup.is_some()) {
        let missing: Vec<String> = ["backup", "restore"]
            .iter()
            .map(|script| format!("kinds/{}/{script}.sh.j2", service.kind))
            .filter(|name| !crate::stdlib::has_template(name, templates))
            .collect();
        if !missing.is_empty() {
            let list = missing.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(" and ");
            out.push(
                Diagnostic::error(
                    Code::E0403,
                    format!("kind `{}` can't be backed up: {list} missing", service.kind),
                    service.span,
                    "backup requested here",
                )
                .with_help(format!("write {list} next to the kind file, or remove `backup`")),
            );
        }
    }
    out
}

impl<'k> Resolver<'k> {
    /// The rules across services, service by service, then the proxy's.
    pub(super) fn cross_checks(
        &mut self,
        services: &IndexMap<String, Service>,
        instances: &IndexMap<String, Instance<'_>>,
        proxy: Option<&Proxy>,
        proxy_span: Option<Span>,
        settings: &Settings,
    ) {
        self.compose_names(services);
        let mut published: IndexMap<u16, &Service> = IndexMap::new();
        let mut routes: IndexMap<&str, &Service> = IndexMap::new();
        for service in services.values() {
            self.published_port(service, instances, proxy.is_some(), &mut published);
            self.route_taken(service, instances, proxy.is_some(), &mut routes);
            self.backup_warnings(service);
        }
        if let (Some(proxy), Some(span)) = (proxy, proxy_span) {
            self.proxy_rules(proxy, span, settings);
        }
    }

    /// Names Compose sees: a release job and a volume are named after their
    /// service, so two different declarations can produce the same name.
    fn compose_names(&mut self, services: &IndexMap<String, Service>) {
        let mut compose_names: IndexMap<String, &Service> = services.values().map(|s| (s.name.clone(), s)).collect();
        let mut volume_names: IndexMap<String, &Service> = IndexMap::new();
        for service in services.values() {
            if service.release.is_some() {
                let job = format!("{}-release", service.name);
                if let Some(other) = compose_names.get(&job) {
                    self.error(
                        Diagnostic::error(
                            Code::E0108,
                            format!("service `{job}` has the name of `{}`'s release job", service.name),
                            other.span,
                            "same name",
                        )
                        .with_label(service.span, "its release job is named `<service>-release`")
                        .with_help("rename one of the services"),
                    );
                } else {
                    compose_names.insert(job, service);
                }
            }
            for volume in service.volumes.keys() {
                let name = service.volume_name(volume);
                if let Some(other) = volume_names.get(&name) {
                    self.error(
                        Diagnostic::error(
                            Code::E0108,
                            format!("the volume `{volume}` of `{}` and a volume of `{}` are both named `{name}`", service.name, other.name),
                            service.span,
                            "same volume name",
                        )
                        .with_label(other.span, "the other one")
                        .with_help("volumes are named `<service>-<volume>`; rename a volume or a service"),
                    );
                } else {
                    volume_names.insert(name, service);
                }
            }
        }
    }

    /// E0301: a host port published twice, or one the proxy listens on.
    fn published_port<'s>(
        &mut self,
        service: &'s Service,
        instances: &IndexMap<String, Instance<'_>>,
        has_proxy: bool,
        published: &mut IndexMap<u16, &'s Service>,
    ) {
        let field_span = |field: &str| instances[&service.name].values.get(field).map_or(service.span, |(_, span)| *span);
        if let Some(port) = service.publish {
            let publish_span = field_span(if instances[&service.name].values.contains_key("publish") { "publish" } else { "port" });
            if has_proxy && (port == 80 || port == 443) {
                self.error(
                    Diagnostic::error(
                        Code::E0301,
                        format!("host port {port} belongs to the proxy"),
                        publish_span,
                        format!("`{}` would publish 127.0.0.1:{port}", service.name),
                    )
                    .with_help("nginx listens on 80 and 443 on the host; publish the service on another port: `publish = 8080`"),
                );
            } else if let Some(first) = published.get(&port) {
                self.error(
                    Diagnostic::error(
                        Code::E0301,
                        format!("host port {port} is published by both `{}` and `{}`", first.name, service.name),
                        field_span(if service.route.is_some() && !instances[&service.name].values.contains_key("publish") {
                            "port"
                        } else {
                            "publish"
                        }),
                        format!("`{}` publishes 127.0.0.1:{port}", service.name),
                    )
                    .with_label(first.span, format!("`{}` publishes it first", first.name))
                    .with_help(format!("give one of them another host port: `publish = {}`", port.saturating_add(1))),
                );
            } else {
                published.insert(port, service);
            }
        }
    }

    /// E0302 and E0304: a route needs the proxy, and each has one service.
    fn route_taken<'s>(
        &mut self,
        service: &'s Service,
        instances: &IndexMap<String, Instance<'_>>,
        has_proxy: bool,
        routes: &mut IndexMap<&'s str, &'s Service>,
    ) {
        let field_span = |field: &str| instances[&service.name].values.get(field).map_or(service.span, |(_, span)| *span);
        if let Some(route) = &service.route {
            if !has_proxy {
                self.error(
                    Diagnostic::error(
                        Code::E0302,
                        format!("service `{}` has a route but the stack has no proxy", service.name),
                        field_span("route"),
                        "routed here",
                    )
                    .with_help("add `proxy nginx { tls = letsencrypt }` to the stack, or remove the route"),
                );
            }
            if let Some(first) = routes.get(route.as_str()) {
                self.error(
                    Diagnostic::error(
                        Code::E0304,
                        format!("route `{route}` is taken by both `{}` and `{}`", first.name, service.name),
                        field_span("route"),
                        "same route",
                    )
                    .with_label(field_span_of(instances, first, "route"), format!("`{}` has it first", first.name))
                    .with_help("give each service its own path prefix, like \"/api/\""),
                );
            } else {
                routes.insert(route, service);
            }
        }
    }

    /// W0005, W0006 and W0001: data in no backup, a secret in plain sight.
    fn backup_warnings(&mut self, service: &Service) {
        let no_backup = service.no_backup;
        if !service.stateful && service.backup.is_none() && !no_backup && !service.volumes.is_empty() {
            let names: Vec<String> = service.volumes.keys().map(|volume| format!("`{volume}`")).collect();
            self.diagnostics.push(
                Diagnostic::warning(
                    Code::W0005,
                    format!("the {} {} of service `{}` {} never backed up", if names.len() == 1 { "volume" } else { "volumes" }, names.join(", "), service.name, if names.len() == 1 { "is" } else { "are" }),
                    service.span,
                    "its files are in no backup",
                )
                .with_help("add `backup = daily(at: \"02:00\", keep: 7d)` (each volume is archived with tar), or `backup = none()` if it holds nothing worth keeping"),
            );
        }
        self.secrets_in_configuration(service);
        if service.stateful && service.backup.is_none() && !no_backup {
            self.diagnostics.push(
                Diagnostic::warning(
                    Code::W0001,
                    format!("stateful service `{}` has no backup", service.name),
                    service.span,
                    "its data is never backed up",
                )
                .with_help("add `backup = daily(at: \"02:00\", keep: 7d)`, or `backup = none()` if its data can be lost"),
            );
        }
    }

    /// The proxy needs the stack's domain, and Let's Encrypt an address.
    fn proxy_rules(&mut self, proxy: &Proxy, span: Span, settings: &Settings) {
        if settings.domain.is_none() {
            self.error(
                Diagnostic::error(Code::E0106, "the proxy needs the stack's `domain`", span, "proxy declared here")
                    .with_help("add `domain = \"app.example.com\"` to the `stack` block"),
            );
        }
        if proxy.site.letsencrypt && settings.acme_email.is_none() {
            self.error(
                Diagnostic::error(Code::E0106, "Let's Encrypt needs the stack's `acme_email`", span, "tls = letsencrypt")
                    .with_help("add `acme_email = \"ops@example.com\"` to the `stack` block: expiry warnings go there"),
            );
        }
        if proxy.routes.is_empty() {
            self.diagnostics.push(
                Diagnostic::warning(Code::W0004, "the proxy routes no service", span, "proxy declared here")
                    .with_help("give the service users reach a `route = \"/\"`"),
            );
        }
    }

    /// W0006: a secret the Compose target can't deliver as a file. The
    /// images ragc builds read files through their entrypoint, and kinds
    /// say `file NAME = ...`; a prebuilt image's environment, a profile's
    /// environment and a command line stay visible to `docker inspect`.
    pub(super) fn secrets_in_configuration(&mut self, service: &Service) {
        let mut exposed: Vec<String> = Vec::new();
        if service.build.is_none() {
            exposed
                .extend(service.env.iter().filter(|(_, value)| value.is_secret()).map(|(name, _)| format!("`{name}` in its environment")));
        }
        exposed.extend(
            service.prod.env.iter().filter(|(_, value)| value.is_secret()).map(|(name, _)| format!("`{name}` in its `prod` environment")),
        );
        let commands = service.command.iter().chain(&service.prod.command).chain(&service.release);
        if commands.flatten().any(Text::is_secret) {
            exposed.push("its command line".to_string());
        }
        if exposed.is_empty() {
            return;
        }
        self.diagnostics.push(
            Diagnostic::warning(
                Code::W0006,
                format!("service `{}` gets a secret through {}", service.name, exposed.join(" and ")),
                service.span,
                "`docker inspect` shows this secret",
            )
            .with_help(
                "when the image reads the value from a file (many read `NAME_FILE`), give it one in a kind: `file NAME = \"{{ field }}\"`, mounted at /run/secrets/NAME (docs/LANGUAGE.md, \"Secrets as files\")",
            ),
        );
    }
}

pub(super) fn field_span_of(instances: &IndexMap<String, Instance<'_>>, service: &Service, field: &str) -> Span {
    instances.get(&service.name).and_then(|instance| instance.values.get(field)).map_or(service.span, |(_, span)| *span)
}

impl Resolver<'_> {
    /// The secrets, each with the services that use it; W0003 for one no
    /// service uses.
    pub(super) fn secret_users(&mut self, services: &IndexMap<String, Service>) -> IndexMap<String, Secret> {
        let mut secrets = std::mem::take(&mut self.secrets);
        for service in services.values() {
            for text in service.env.values().chain(service.dev.env.values()).chain(service.prod.env.values()) {
                for var in text.secrets() {
                    if let Some(secret) = secrets.get_mut(var) {
                        if !secret.used_by.contains(&service.name) {
                            secret.used_by.push(service.name.clone());
                        }
                    }
                }
            }
        }
        for secret in secrets.values() {
            if secret.used_by.is_empty() {
                self.diagnostics.push(
                    Diagnostic::warning(
                        Code::W0003,
                        format!("secret `{}` is never used", secret.var.to_ascii_lowercase()),
                        secret.span,
                        "declared here",
                    )
                    .with_help("pass it to a service (`env { NAME = secret_name }`) or remove it"),
                );
            }
        }
        secrets
    }
}
