//! Bind: a service's references to other services and secrets resolved,
//! and its model built.
//!
//! Input: one [`Instance`] and every other. Output: a [`Service`] with its
//! environment, profiles, image (through `from` chains), ports, route,
//! health, volumes and `depends_on`.
//! Invariant: every service or secret a built service names exists.

use indexmap::IndexMap;
use minijinja::Value;

use super::block;
use super::image::ImageSource;
use super::interp;
use super::properties::PropertySource;
use super::resolve::{
    field_value, is_container_path, record_expected, string_problem, template_error, undeclared_secret, unknown_service, Instance, Resolver,
};
use super::schedule::NO_BACKUP;
use super::types::{check_value, HealthForm, Type, Val};
use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::model::{Condition, Health, HealthTest, Part, Profile, Service, Text};
use crate::syntax::{Block, Entry, EntryKind, Expr, ExprKind, Ident, Span};

impl<'k> Resolver<'k> {
    /// Pass two: binds references to other services and builds the model.
    pub(super) fn service(&mut self, instance: &Instance<'_>, all: &IndexMap<String, Instance<'_>>) -> Option<Service> {
        let errors_before = self.diagnostics.iter().filter(|d| d.is_error()).count();
        let name = instance.name.name.clone();
        let mut depends_on: IndexMap<String, Condition> = IndexMap::new();
        let env = self.environment(instance, all, &mut depends_on);
        let (dev, prod) = (
            self.profile(instance.dev.as_ref(), instance, all, &mut depends_on),
            self.profile(instance.prod.as_ref(), instance, all, &mut depends_on),
        );
        let ImageSource { build, image, base_image, workdir, digest } = self.image_source(instance, all);
        let port = self.port(instance);
        let (route, publish) = self.exposure(instance, port);
        let health = self.service_health(instance);
        let release = match instance.values.get("release") {
            Some((Val::Str(line), span)) => self.split_command(&Text::literal(line.clone()), *span),
            _ => None,
        };
        let command = self.command(instance, "command");
        let (volumes, files) = self.mounts(instance);
        let stateful = self.property_bool(instance, "stateful").unwrap_or(false);
        let backup = self.backup(instance, stateful, &volumes);
        release_dependencies(instance, all, release.is_some(), &mut depends_on);
        // Only the fields that have values: one map per service, and the
        // unset ones (null to templates) are the kind's, kept once per kind.
        let mut fields = IndexMap::with_capacity(instance.values.len());
        for (field_name, (val, _)) in &instance.values {
            fields.insert(field_name.clone(), field_value(val, instance.secret_vars.get(field_name).map(String::as_str)));
        }
        self.check_image_paths(instance, workdir.as_deref(), build.as_ref());
        let failed = self.diagnostics.iter().filter(|d| d.is_error()).count() > errors_before;
        if failed {
            return None;
        }
        Some(Service {
            name: name.clone(),
            kind: instance.kind.name.name.clone(),
            image,
            base_image,
            digest,
            build,
            command,
            workdir,
            port,
            publish,
            health,
            route,
            release,
            stateful,
            read_only: self.property_bool(instance, "read_only").unwrap_or(false),
            tmpfs: self.literal_list(instance, "tmpfs"),
            cap_add: self.literal_list(instance, "cap_add"),
            user: self.property_text(instance, "run_as").and_then(|t| t.as_literal()),
            env,
            volumes,
            files,
            limits: self.limits_with_defaults(instance),
            backup,
            depends_on,
            networks: Vec::new(),
            dev,
            prod,
            fields,
            no_backup: matches!(instance.values.get("backup"), Some((Val::Enum(none), _)) if none == NO_BACKUP),
            span: instance.span,
        })
    }

    /// The kind's environment, then the service's own (which may name
    /// other services: each one named becomes a dependency).
    fn environment(
        &mut self,
        instance: &Instance<'_>,
        all: &IndexMap<String, Instance<'_>>,
        depends_on: &mut IndexMap<String, Condition>,
    ) -> IndexMap<String, Text> {
        let mut env = IndexMap::new();
        if let Some(PropertySource::Kind(Expr { kind: ExprKind::Record(block), .. })) =
            instance.kind.properties.get("env").map(PropertySource::Kind)
        {
            for entry in &block.entries {
                if let EntryKind::Assign { name: var, value } = &entry.kind {
                    if let Some(text) = self.render(value, self.context(instance)) {
                        env.insert(var.name.clone(), text);
                    }
                }
            }
        }
        for (var, value) in &instance.env {
            if let Some(text) = self.env_value(value, instance, all, depends_on) {
                env.insert(var.name.clone(), text);
            }
        }
        env
    }

    /// The service's route and the host port it is published on.
    fn exposure(&mut self, instance: &Instance<'_>, port: Option<u16>) -> (Option<String>, Option<u16>) {
        let name = &instance.name.name;
        let route = match instance.values.get("route") {
            Some((Val::Str(route), span)) => {
                if !route.starts_with('/')
                    || route.contains(char::is_whitespace)
                    || route.contains(['{', '}', ';', '"', '\'', '\\', '$', '#'])
                {
                    self.error(Diagnostic::error(Code::E0107, format!("`{route}` is not a route path"), *span, "invalid route").with_help(
                        "a route is a URL path prefix like \"/\" or \"/api/\", without spaces, quotes, braces, `;`, `$` or `#`",
                    ));
                }
                if port.is_none() {
                    self.error(
                        Diagnostic::error(Code::E0106, format!("service `{name}` has a route but no `port`"), *span, "routed here")
                            .with_help("add `port = 8000`: the proxy needs to know where the service listens"),
                    );
                }
                Some(route.clone())
            }
            _ => None,
        };
        let publish = match instance.values.get("publish") {
            Some((Val::Int(host), span)) => {
                if port.is_none() {
                    self.error(
                        Diagnostic::error(
                            Code::E0106,
                            format!("service `{name}` publishes a port but has no `port`"),
                            *span,
                            "published here",
                        )
                        .with_help("add `port = ...`: the port the service listens on inside its container"),
                    );
                }
                u16::try_from(*host).ok()
            }
            _ => route.as_ref().and(port),
        };
        (route, publish)
    }

    /// The service's healthcheck, or for one running another's image a
    /// check that its main process is alive.
    fn service_health(&mut self, instance: &Instance<'_>) -> Option<Health> {
        let mut health = self.health(instance);
        if health.is_none() && instance.values.contains_key("from") {
            // The shared image's HEALTHCHECK probes the other service's port,
            // and a disabled one makes `up --wait` fail ("no healthcheck
            // configured"): without its own `health`, the check is that the
            // main process is alive.
            let alive = ["sh", "-c", "kill -0 1"].map(String::from).to_vec();
            health = Some(Health { test: HealthTest::Cmd(alive), interval: 30, timeout: 5, retries: 3, start_period: 10 });
        }
        health
    }

    /// The service's volumes (the kind's, then its own) and secret files.
    fn mounts(&mut self, instance: &Instance<'_>) -> (IndexMap<String, String>, IndexMap<String, Text>) {
        let mut volumes: IndexMap<String, String> = IndexMap::new();
        for (volume, expr) in &instance.kind.volumes {
            if let Some(path) = self.render(expr, self.context(instance)).and_then(|t| t.as_literal()) {
                if !is_container_path(&path) {
                    self.error(
                        Diagnostic::error(Code::E0107, format!("volume `{volume}` is mounted at `{}`", path.escape_default()), expr.span, "not an absolute path")
                            .with_help("a volume is mounted at an absolute path inside the container, like \"/data\": letters, digits, `.`, `_`, `-`, `/`"),
                    );
                }
                volumes.insert(volume.clone(), path);
            }
        }
        for (volume, (path, _)) in &instance.volumes {
            volumes.insert(volume.clone(), path.clone());
        }
        let mut files = IndexMap::new();
        for (file, expr) in &instance.kind.files {
            if let Some(contents) = self.render(expr, self.context(instance)) {
                files.insert(file.clone(), contents);
            }
        }
        (volumes, files)
    }

    /// The backup schedule, for a service that has state to back up.
    fn backup(&mut self, instance: &Instance<'_>, stateful: bool, volumes: &IndexMap<String, String>) -> Option<crate::model::Schedule> {
        let name = &instance.name.name;
        match instance.values.get("backup") {
            Some((Val::Schedule(schedule), span)) => {
                if !stateful && volumes.is_empty() {
                    self.error(
                        Diagnostic::error(Code::E0303, format!("service `{name}` keeps no state to back up"), *span, "nothing to back up")
                            .with_help(
                                "backups apply to stateful services (databases, caches, stores) and to services with a named `volume`",
                            ),
                    );
                }
                Some(schedule.clone())
            }
            _ => None,
        }
    }

    pub(super) fn check_pinned(&mut self, image: &str, instance: &Instance<'_>) {
        if instance.digest.is_some() {
            return;
        }
        let last = image.rsplit('/').next().unwrap_or(image);
        let tag = last.split_once(':').map(|(_, tag)| tag);
        let problem = match tag {
            None => Some("has no tag, so it means `latest`".to_string()),
            Some(tag) if tag == "latest" || tag.starts_with("latest-") => Some("is tagged `latest`".to_string()),
            Some(_) => None,
        };
        if let Some(problem) = problem {
            let span = instance.values.get("image").or_else(|| instance.values.get("version")).map_or(instance.span, |(_, span)| *span);
            self.diagnostics.push(
                Diagnostic::warning(Code::W0002, format!("image `{image}` {problem}"), span, "unpinned image")
                    .with_help("pin a version, like `postgres:16.4-alpine`, so that every deploy runs what was tested"),
            );
        }
    }

    pub(super) fn env_value(
        &mut self,
        value: &Expr,
        instance: &Instance<'_>,
        all: &IndexMap<String, Instance<'_>>,
        depends_on: &mut IndexMap<String, Condition>,
    ) -> Option<Text> {
        match &value.kind {
            ExprKind::Str(text) => {
                if let Some(diagnostic) = string_problem(&Val::Str(text.clone()), value.span) {
                    self.error(diagnostic);
                    return None;
                }
                Some(Text::literal(text.clone()))
            }
            ExprKind::Int(n) => Some(Text::literal(n.to_string())),
            ExprKind::Float(n) => Some(Text::literal(n.to_string())),
            ExprKind::Bool(b) => Some(Text::literal(b.to_string())),
            ExprKind::Size { text, .. } | ExprKind::Duration { text, .. } => Some(Text::literal(text.clone())),
            ExprKind::Path(parts) if parts.len() == 1 => self.secret_value(&parts[0], all),
            ExprKind::Path(parts) => self.attribute_value(parts, instance, all, depends_on),
            _ => {
                self.error(
                    Diagnostic::error(
                        Code::E0104,
                        format!("an environment variable can't be {}", value.kind.describe()),
                        value.span,
                        "not a value",
                    )
                    .with_help("write a string, a number, a secret's name or a service attribute like `db.url`"),
                );
                None
            }
        }
    }

    /// A bare name in `env`: a secret (a service there is E0205).
    fn secret_value(&mut self, target: &Ident, all: &IndexMap<String, Instance<'_>>) -> Option<Text> {
        if let Some(var) = self.secret_names.get(&target.name) {
            return Some(Text(vec![Part::Secret(var.clone())]));
        }
        if let Some(other) = all.get(&target.name) {
            let exports: Vec<&str> = other.kind.exports.keys().map(String::as_str).collect();
            let example = exports.first().copied().unwrap_or("host");
            self.error(
                Diagnostic::error(
                    Code::E0205,
                    format!("`{}` is a service; name one of its attributes", target.name),
                    target.span,
                    "a service, not a value",
                )
                .with_help(format!(
                    "write `{}.{example}`; `{}` exports {}",
                    target.name,
                    target.name,
                    exports.iter().map(|e| format!("`{e}`")).collect::<Vec<_>>().join(", ")
                )),
            );
            return None;
        }
        self.error(undeclared_secret(target, self.suggestible(self.secret_names.keys())));
        None
    }

    /// `service.attribute` in `env`: the other service's export, rendered
    /// against its fields; the service becomes a dependency.
    fn attribute_value(
        &mut self,
        parts: &[Ident],
        instance: &Instance<'_>,
        all: &IndexMap<String, Instance<'_>>,
        depends_on: &mut IndexMap<String, Condition>,
    ) -> Option<Text> {
        let target = &parts[0];
        let Some(other) = all.get(&target.name) else {
            self.error(unknown_service(target, self.suggestible(all.keys())));
            return None;
        };
        let attribute = &parts[1];
        let Some(template) = other.kind.exports.get(&attribute.name) else {
            self.error(
                Diagnostic::error(
                    Code::E0202,
                    format!("service `{}` has no attribute `{}`", target.name, attribute.name),
                    attribute.span,
                    "unknown attribute",
                )
                .with_help(did_you_mean(&attribute.name, other.kind.exports.keys().map(String::as_str))),
            );
            return None;
        };
        if parts.len() > 2 {
            self.error(
                Diagnostic::error(Code::E0202, "attributes have no attributes", parts[2].span, "unexpected")
                    .with_help(format!("write `{}.{}`", target.name, attribute.name)),
            );
            return None;
        }
        if target.name == instance.name.name {
            self.error(
                Diagnostic::error(Code::E0203, format!("service `{}` refers to itself", target.name), target.span, "self-reference")
                    .with_help("a service reaches itself on localhost; set the value directly"),
            );
            return None;
        }
        let ExprKind::Str(template) = &template.kind else { return None };
        let sole = interp::sole_variable(template).and_then(|name| self.context_value(other, name));
        let rendered = match sole.as_ref().and_then(Value::as_str) {
            Some(value) => interp::rendered(value),
            None => self.interp.render(template, &self.build_context(other)),
        };
        match rendered {
            Ok(text) => {
                let condition = if other_has_health(other) { Condition::ServiceHealthy } else { Condition::ServiceStarted };
                depends_on.insert(target.name.clone(), condition);
                Some(text)
            }
            Err(message) => {
                // An export over an optional field the service leaves unset.
                let unset = other.kind.fields.keys().find(|field| !other.values.contains_key(*field) && template.contains(field.as_str()));
                self.error(match unset {
                    Some(field) => Diagnostic::error(
                        Code::E0202,
                        format!("`{}.{}` is not available: `{}` has no `{field}`", target.name, attribute.name, target.name),
                        attribute.span,
                        "not set",
                    )
                    .with_help(format!("set `{field} = ...` on service `{}`", target.name)),
                    None => template_error(template_span(other, &attribute.name), &message),
                });
                None
            }
        }
    }

    pub(super) fn profile(
        &mut self,
        block: Option<&Block>,
        instance: &Instance<'_>,
        all: &IndexMap<String, Instance<'_>>,
        depends_on: &mut IndexMap<String, Condition>,
    ) -> Profile {
        let mut profile = Profile::default();
        let Some(block) = block else { return profile };
        let not_override = |entry: &Entry| {
            Diagnostic::error(Code::E0109, "profiles override `command`, `release`, `env` and `limits`", entry.span, "not an override")
                .with_help("write `dev { command = \"...\" }`")
        };
        block::assignments(self, block, not_override, |this, name, value| match name.name.as_str() {
            "command" => match check_value(value, &Type::String) {
                Ok(Val::Str(line)) => profile.command = this.split_command(&Text::literal(line), value.span),
                Ok(_) => {}
                Err(error) => this.error(error),
            },
            "env" => match &value.kind {
                ExprKind::Record(block) => {
                    for (var, expr) in this.env_entries(block) {
                        if let Some(text) = this.env_value(expr, instance, all, depends_on) {
                            profile.env.insert(var.name.clone(), text);
                        }
                    }
                }
                _ => this.error(record_expected("env", value)),
            },
            "release" => match check_value(value, &Type::String) {
                Ok(Val::Str(line)) => {
                    if !instance.values.contains_key("release") {
                        this.error(
                            Diagnostic::error(
                                Code::E0109,
                                format!("service `{}` has no `release` to override", instance.name.name),
                                name.span,
                                "no release",
                            )
                            .with_help("set `release = \"...\"` on the service; a profile changes the command it runs"),
                        );
                    }
                    profile.release = this.split_command(&Text::literal(line), value.span);
                }
                Ok(_) => {}
                Err(error) => this.error(error),
            },
            "limits" => profile.limits = Some(this.limits(value)),
            other => this.error(
                Diagnostic::error(Code::E0109, format!("`{other}` can't be overridden per profile"), name.span, "not overridable")
                    .with_help("profiles override `command`, `release`, `env` and `limits`; set other fields on the service itself"),
            ),
        });
        profile
    }
}

pub(super) fn other_has_health(instance: &Instance<'_>) -> bool {
    match instance.values.get("health") {
        Some((Val::Health(spec), _)) => spec.form != HealthForm::None,
        _ => instance.kind.properties.contains_key("health"),
    }
}

pub(super) fn template_span(instance: &Instance<'_>, export: &str) -> Span {
    instance.kind.exports.get(export).map_or(instance.kind.name.span, |expr| expr.span)
}

/// A service with a `release` waits for its release job; one running the
/// image of a service with a `release` (a worker) starts only after that
/// release ran: the migration comes first.
fn release_dependencies(
    instance: &Instance<'_>,
    all: &IndexMap<String, Instance<'_>>,
    has_release: bool,
    depends_on: &mut IndexMap<String, Condition>,
) {
    let name = &instance.name.name;
    if has_release {
        depends_on.insert(format!("{name}-release"), Condition::ServiceCompletedSuccessfully);
    }
    let mut current = instance.values.get("from");
    let mut hops = 0;
    while let Some((Val::Service(from), _)) = current {
        let Some(origin) = all.get(&from.name).filter(|_| hops < all.len()) else { break };
        if origin.values.contains_key("release") {
            depends_on.insert(format!("{}-release", from.name), Condition::ServiceCompletedSuccessfully);
        }
        current = origin.values.get("from");
        hops += 1;
    }
}
