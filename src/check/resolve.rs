//! The resolver: binds every name, applies kinds and defaults, derives
//! dependencies, networks and start order, and runs the cross-service rules.

use std::cell::OnceCell;

use indexmap::{IndexMap, IndexSet};
use minijinja::Value;

use super::block::{self, duplicate_field, Seen};
use super::interp::{self, secret_sentinel, Interpolator};
use super::kinds::{FieldDef, KindDef, RESERVED};
use super::types::{check_default, check_rendered, check_value, HealthForm, HealthSpec, Type, Val};
use crate::diag::{did_you_mean, Diagnostic};
use crate::model::{
    Build, Condition, Health, HealthTest, Limits, Network, Part, Profile, Proxy, Route, Secret, Service, Settings, Stack, Text,
};
use crate::syntax::{Block, Entry, EntryKind, Expr, ExprKind, File, Ident, Item, Span};

type Ctx = IndexMap<String, Value>;

/// Resolves a parsed stack file against `kinds`.
///
/// `source` names the stack file in generated headers.
pub fn resolve(file: File, file_span: Span, source: &str, kinds: &IndexMap<String, KindDef>) -> (Option<Stack>, Vec<Diagnostic>) {
    let mut resolver = Resolver {
        kinds,
        interp: Interpolator::default(),
        diagnostics: Vec::new(),
        secrets: IndexMap::new(),
        secret_names: IndexMap::new(),
        stack_name: String::new(),
        domain: None,
    };
    let stack = resolver.stack(file, file_span, source);
    let failed = resolver.diagnostics.iter().any(Diagnostic::is_error);
    (if failed { None } else { stack }, resolver.diagnostics)
}

struct Resolver<'k> {
    kinds: &'k IndexMap<String, KindDef>,
    interp: Interpolator,
    diagnostics: Vec<Diagnostic>,
    /// Keyed by environment variable.
    secrets: IndexMap<String, Secret>,
    /// Top-level secret name → environment variable.
    secret_names: IndexMap<String, String>,
    /// The stack's name and domain, for instance template contexts.
    stack_name: String,
    domain: Option<String>,
}

/// A service after its own fields are known, before other services are bound.
struct Instance<'a> {
    name: Ident,
    kind: &'a KindDef,
    /// The kind strings' template context (base names, every field, the
    /// secrets' variables), built on first use and dropped once the
    /// service is built: kept for every instance it was a tenth of the
    /// peak memory at 10,000 services.
    context: OnceCell<Ctx>,
    /// Field → environment variable, for fields holding a secret.
    secret_vars: IndexMap<String, String>,
    values: IndexMap<String, (Val, Span)>,
    // Owned, not borrowed from the AST, so that the AST is dropped before
    // the services are built: at 10,000 services the AST, the instances and
    // the model alive at once were the memory peak.
    env: Vec<(Ident, Expr)>,
    volumes: IndexMap<String, (String, Span)>,
    limits: Limits,
    digest: Option<String>,
    dev: Option<Block>,
    prod: Option<Block>,
    span: Span,
}

fn env_var(name: &str) -> String {
    name.to_ascii_uppercase().replace('-', "_")
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_') && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A name that becomes a DNS label, a volume and a file name.
fn is_service_name(name: &str) -> bool {
    name.len() <= 63
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
}

fn val_to_value(val: &Val, secret_var: Option<&str>) -> Value {
    match val {
        Val::Str(s) | Val::Enum(s) => Value::from(s.as_str()),
        Val::Int(n) => Value::from(*n),
        Val::Number(n) => Value::from(*n),
        Val::Bool(b) => Value::from(*b),
        Val::Size { text, .. } | Val::Duration { text, .. } => Value::from(text.as_str()),
        Val::List(items) => Value::from(items.iter().map(|item| val_to_value(item, None)).collect::<Vec<_>>()),
        Val::NewSecret(_) | Val::SecretRef(_) => Value::from(secret_sentinel(secret_var.unwrap_or_default())),
        Val::Schedule(schedule) => Value::from_serialize(schedule),
        Val::Health(_) => Value::from(true),
        Val::Service(ident) => Value::from(ident.name.as_str()),
    }
}

/// Fields as templates see them: sizes in bytes, durations in seconds.
fn val_to_json(val: &Val, secret_var: Option<&str>) -> serde_json::Value {
    match val {
        Val::Str(s) | Val::Enum(s) => s.as_str().into(),
        Val::Int(n) => (*n).into(),
        Val::Number(n) => (*n).into(),
        Val::Bool(b) => (*b).into(),
        Val::Size { bytes, .. } => (*bytes).into(),
        Val::Duration { seconds, .. } => (*seconds).into(),
        Val::List(items) => items.iter().map(|item| val_to_json(item, None)).collect(),
        Val::NewSecret(_) | Val::SecretRef(_) => serde_json::json!({ "secret": secret_var }),
        Val::Schedule(schedule) => serde_json::to_value(schedule).unwrap_or_default(),
        Val::Health(_) => true.into(),
        Val::Service(ident) => ident.name.as_str().into(),
    }
}

impl block::Report for Resolver<'_> {
    fn report(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }
}

impl<'k> Resolver<'k> {
    fn error(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    /// Names to suggest from, or none once past the diagnostics a compile
    /// shows: thousands of misspelt references against thousands of
    /// services would otherwise spend minutes on help nobody sees.
    fn suggestible<'a>(&self, names: impl Iterator<Item = &'a String> + Clone) -> impl Iterator<Item = &'a str> + Clone {
        let shown = self.diagnostics.len() < crate::MAX_DIAGNOSTICS;
        names.take(if shown { usize::MAX } else { 0 }).map(String::as_str)
    }

    fn stack(&mut self, file: File, file_span: Span, source: &str) -> Option<Stack> {
        let mut stack_item = None;
        let mut proxy_item = None;
        let mut services = Vec::new();
        let mut declared: IndexMap<String, (&'static str, Span)> = IndexMap::new();
        for item in &file.items {
            let name = match item {
                Item::Stack { name, .. } => {
                    if let Some((_, first)) = stack_item {
                        self.error(
                            Diagnostic::error("E0108", "a file declares one stack", name.span, "second stack")
                                .with_label(first, "first stack")
                                .with_help("put each stack in its own file"),
                        );
                    } else {
                        stack_item = Some((item, name.span));
                    }
                    continue;
                }
                Item::Proxy { kind, .. } => {
                    if let Some((_, first)) = proxy_item {
                        self.error(
                            Diagnostic::error("E0108", "a stack has one proxy", kind.span, "second proxy")
                                .with_label(first, "first proxy")
                                .with_help("one proxy routes every service that has a `route`"),
                        );
                    } else {
                        proxy_item = Some((item, kind.span));
                    }
                    continue;
                }
                Item::Kind { .. } => continue,
                Item::Secret { name, .. } => name,
                Item::Service { name, .. } => {
                    services.push(item);
                    name
                }
            };
            if let Some((what, first)) = declared.get(&name.name) {
                self.error(
                    Diagnostic::error(
                        "E0108",
                        format!("the name `{}` is declared twice", name.name),
                        name.span,
                        format!("{} declared again", item.keyword()),
                    )
                    .with_label(*first, format!("first declared here as a {what}"))
                    .with_help("services and secrets share one namespace; rename one of them"),
                );
            } else {
                declared.insert(name.name.clone(), (item.keyword(), name.span));
            }
        }
        let Some((Item::Stack { name: stack_name, body: stack_body }, _)) = stack_item else {
            self.error(
                Diagnostic::error(
                    "E0106",
                    "the file declares no stack",
                    Span { end: file_span.start, ..file_span },
                    "expected `stack NAME { ... }`",
                )
                .with_help("start the file with `stack my-app { domain = \"example.com\" }`"),
            );
            return None;
        };
        if !is_service_name(&stack_name.name) {
            self.error(Diagnostic::error("E0502", format!("`{}` is not a valid stack name", stack_name.name), stack_name.span, "invalid name")
                .with_help("stack names become Compose project and file names: lowercase letters, digits and `-`, starting with a letter, at most 63 characters"));
        }
        let settings = self.settings(&stack_name.name, stack_body);
        self.stack_name.clone_from(&stack_name.name);
        self.domain = settings.as_ref().and_then(|s| s.domain.clone());

        for item in &file.items {
            if let Item::Secret { name, value } = item {
                self.top_level_secret(name, value);
            }
        }

        // Sized up front: at 10,000 services a doubling copy of these maps was the memory peak.
        let mut instances: IndexMap<String, Instance<'_>> = IndexMap::with_capacity(services.len());
        for item in services {
            let Item::Service { name, kind, body } = item else { continue };
            if instances.contains_key(&name.name) {
                continue;
            }
            if let Some(instance) = self.instance(name, kind, body) {
                instances.insert(name.name.clone(), instance);
            }
        }

        let proxy = proxy_item.and_then(|(item, _)| {
            let Item::Proxy { kind, body } = item else { return None };
            self.proxy(kind, body)
        });
        let proxy_span = proxy_item.map(|(_, span)| span);
        let stack_name = stack_name.name.clone();
        drop(file);

        let mut built = IndexMap::with_capacity(instances.len());
        for index in 0..instances.len() {
            let (name, instance) = instances.get_index(index).expect("in range");
            if let Some(service) = self.service(instance, &instances) {
                built.insert(name.clone(), service);
            }
            // Built: its context is not needed again (others build theirs fresh).
            if let Some((_, instance)) = instances.get_index_mut(index) {
                instance.context.take();
            }
        }
        if built.len() != instances.len() || self.diagnostics.iter().any(Diagnostic::is_error) {
            return None;
        }
        let settings = settings?;
        let mut services = built;
        let start_order = self.order(&services, &instances)?;
        let networks = derive_networks(&mut services);
        let proxy = proxy.map(|(kind, fields)| Proxy { kind, fields, routes: routes(&services) });
        self.cross_checks(&services, &instances, proxy.as_ref(), proxy_span, &settings);
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
                        "W0003",
                        format!("secret `{}` is never used", secret.var.to_ascii_lowercase()),
                        secret.span,
                        "declared here",
                    )
                    .with_help("pass it to a service (`env { NAME = secret_name }`) or remove it"),
                );
            }
        }
        let mut kind_fields: IndexMap<String, Vec<String>> = IndexMap::new();
        for instance in instances.values() {
            let kind = &instance.kind.name.name;
            if !kind_fields.contains_key(kind) {
                kind_fields.insert(kind.clone(), instance.kind.fields.keys().cloned().collect());
            }
        }
        Some(Stack { name: stack_name, source: source.to_string(), settings, secrets, services, proxy, networks, start_order, kind_fields })
    }

    fn settings(&mut self, stack: &str, body: &Block) -> Option<Settings> {
        const FIELDS: [&str; 6] = ["domain", "acme_email", "offsite", "path", "backup_root", "context"];
        let errors_before = self.diagnostics.len();
        let mut values: IndexMap<&str, (String, Span)> = IndexMap::new();
        let not_setting = |entry: &Entry| {
            Diagnostic::error("E0102", "the stack block holds only `name = value` settings", entry.span, "not a setting")
                .with_help(format!("settings are {}", FIELDS.join(", ")))
        };
        block::assignments(self, body, not_setting, |this, name, value| {
            let Some(key) = FIELDS.iter().find(|field| **field == name.name) else {
                this.error(
                    Diagnostic::error("E0102", format!("the stack has no setting `{}`", name.name), name.span, "unknown setting")
                        .with_help(did_you_mean(&name.name, FIELDS)),
                );
                return;
            };
            match check_value(value, &Type::String) {
                Ok(Val::Str(text)) => {
                    if let Some(problem) = setting_problem(key, &text) {
                        this.error(
                            Diagnostic::error("E0107", format!("invalid `{key}`: {problem}"), value.span, "invalid value")
                                .with_help(setting_help(key)),
                        );
                    }
                    values.insert(key, (text, value.span));
                }
                Ok(_) => unreachable!("checked as a string"),
                Err(error) => this.error(error),
            }
        });
        let ok = self.diagnostics.len() == errors_before;
        let mut take = |key: &str| values.swap_remove(key).map(|(text, _)| text);
        let settings = Settings {
            domain: take("domain"),
            acme_email: take("acme_email"),
            offsite: take("offsite"),
            path: take("path").unwrap_or_else(|| format!("/opt/{stack}")),
            backup_root: take("backup_root").unwrap_or_else(|| format!("/var/backups/{stack}")),
            context: take("context").unwrap_or_else(|| ".".to_string()),
        };
        ok.then_some(settings)
    }

    fn top_level_secret(&mut self, name: &Ident, value: &Expr) {
        let var = env_var(&name.name);
        if !is_env_name(&var) {
            self.error(
                Diagnostic::error("E0502", format!("`{}` can't name a secret", name.name), name.span, "invalid name")
                    .with_help("secret names become environment variables: letters, digits and `_`"),
            );
            return;
        }
        match check_value(value, &Type::Secret) {
            Ok(Val::NewSecret(source)) => {
                if let Some(first) = self.secrets.get(&var) {
                    let first = first.span;
                    self.error(
                        Diagnostic::error(
                            "E0108",
                            format!("secret `{}` is stored as `{var}`, like an earlier secret", name.name),
                            name.span,
                            "same variable",
                        )
                        .with_label(first, "the earlier secret")
                        .with_help("secret names map to environment variables in upper case with `-` as `_`; rename one of them"),
                    );
                    self.secret_names.insert(name.name.clone(), var.clone());
                    return;
                }
                self.secret_names.insert(name.name.clone(), var.clone());
                self.secrets.insert(var.clone(), Secret { var, source, used_by: Vec::new(), span: name.span });
            }
            Ok(_) => self.error(
                Diagnostic::error(
                    "E0104",
                    "a secret is declared with `generate(...)` or `required(...)`",
                    value.span,
                    "expected a secret source",
                )
                .with_help("write `secret name = generate(hex, 32)` or `secret name = required(\"where to get it\")`"),
            ),
            Err(error) => self.error(error),
        }
    }

    /// An instance's template context, built now and not kept (for another
    /// service's instance, read once or twice per reference).
    fn build_context(&self, instance: &Instance<'_>) -> Ctx {
        let mut context = self.base_context(&instance.name.name);
        for (field_name, (val, _)) in &instance.values {
            context.insert(field_name.clone(), val_to_value(val, instance.secret_vars.get(field_name).map(String::as_str)));
        }
        // Absent optional fields stay undefined: kind templates may test them
        // (`{% if maxmemory %}`), but printing one is an error, never "None".
        context.insert("__secret_vars".into(), Value::from_serialize(&instance.secret_vars));
        context
    }

    /// One entry of [`Resolver::build_context`]'s context, without building
    /// the rest: fields first, as there they replace the base entries.
    fn context_value(&self, instance: &Instance<'_>, name: &str) -> Option<Value> {
        if let Some((val, _)) = instance.values.get(name) {
            return Some(val_to_value(val, instance.secret_vars.get(name).map(String::as_str)));
        }
        match name {
            "name" => Some(Value::from(instance.name.name.as_str())),
            "stack" => Some(Value::from(self.stack_name.as_str())),
            "domain" => self.domain.as_deref().map(Value::from),
            _ => None,
        }
    }

    /// An instance's template context, built on first use and kept until
    /// its service is built.
    fn context<'i>(&self, instance: &'i Instance<'_>) -> &'i Ctx {
        instance.context.get_or_init(|| self.build_context(instance))
    }

    /// What every kind string may name: the service (or proxy kind), the
    /// stack, and the stack's domain when it has one.
    fn base_context(&self, name: &str) -> Ctx {
        let mut context = Ctx::new();
        context.insert("name".into(), Value::from(name));
        context.insert("stack".into(), Value::from(self.stack_name.as_str()));
        if let Some(domain) = &self.domain {
            context.insert("domain".into(), Value::from(domain.as_str()));
        }
        context
    }

    /// Checks one instance's entries against its kind: fields, types,
    /// defaults. Builds the template context.
    #[allow(clippy::too_many_lines)]
    fn instance(&mut self, name: &Ident, kind_name: &Ident, body: &Block) -> Option<Instance<'k>> {
        if !is_service_name(&name.name) {
            self.error(Diagnostic::error("E0502", format!("`{}` is not a valid service name", name.name), name.span, "invalid name")
                .with_help("service names become host names and volume names: lowercase letters, digits and `-`, starting with a letter, at most 63 characters"));
        }
        let Some(kind) = self.kinds.get(&kind_name.name) else {
            self.error(
                Diagnostic::error("E0101", format!("unknown kind `{}`", kind_name.name), kind_name.span, "no such kind")
                    .with_help(did_you_mean(&kind_name.name, self.kinds.iter().filter(|(_, k)| !k.is_proxy()).map(|(n, _)| n.as_str())))
                    .with_help(format!("a kind of your own goes in `kinds/{}.rag` next to the stack file", kind_name.name)),
            );
            return None;
        };
        if kind.is_proxy() {
            self.error(
                Diagnostic::error("E0101", format!("`{}` is a proxy kind, not a service kind", kind_name.name), kind_name.span, "a proxy")
                    .with_help(format!("declare it as `proxy {} {{ ... }}`", kind_name.name)),
            );
            return None;
        }
        let mut instance = Instance {
            name: name.clone(),
            kind,
            context: OnceCell::new(),
            secret_vars: IndexMap::new(),
            values: IndexMap::new(),
            env: Vec::new(),
            volumes: IndexMap::new(),
            limits: Limits::default(),
            digest: None,
            dev: None,
            prod: None,
            span: name.span,
        };
        let mut seen = Seen::default();
        let errors_before = self.diagnostics.len();
        for entry in &body.entries {
            match &entry.kind {
                EntryKind::Field(decl) => {
                    let field = &decl.name;
                    self.error(
                        Diagnostic::error("E0110", "fields are declared in kind files, not in services", field.span, "field declaration")
                            .with_help(format!("set the field instead: `{} = ...`", field.name)),
                    );
                }
                EntryKind::Labeled(labeled) => {
                    let (label, volume, value) = (&labeled.label, &labeled.name, &labeled.value);
                    if label.name != "volume" {
                        self.error(
                            Diagnostic::error(
                                "E0102",
                                format!("unknown declaration `{} {}`", label.name, volume.name),
                                label.span,
                                "unknown",
                            )
                            .with_help(did_you_mean(&label.name, ["volume"])),
                        );
                        continue;
                    }
                    if let Err(first) = seen.claim(&format!("volume {}", volume.name), volume.span) {
                        self.error(duplicate_field(volume, first));
                        continue;
                    }
                    if !is_service_name(&volume.name) {
                        self.error(
                            Diagnostic::error(
                                "E0502",
                                format!("`{}` is not a valid volume name", volume.name),
                                volume.span,
                                "invalid name",
                            )
                            .with_help("volume names: lowercase letters, digits and `-`, starting with a letter"),
                        );
                    }
                    match check_value(value, &Type::String) {
                        Ok(Val::Str(path)) if is_container_path(&path) => {
                            if kind.volumes.contains_key(&volume.name) {
                                self.error(
                                    Diagnostic::error(
                                        "E0103",
                                        format!("kind `{}` already has a volume `{}`", kind.name.name, volume.name),
                                        volume.span,
                                        "declared again",
                                    )
                                    .with_help("choose another name"),
                                );
                            }
                            instance.volumes.insert(volume.name.clone(), (path, value.span));
                        }
                        Ok(_) => self.error(
                            Diagnostic::error("E0107", "a volume is mounted at an absolute path", value.span, "not an absolute path")
                                .with_help("write the path inside the container, like \"/app/uploads\""),
                        ),
                        Err(error) => self.error(error),
                    }
                }
                EntryKind::Assign { name: field, value } => {
                    if let Err(first) = seen.claim(&field.name, field.span) {
                        self.error(duplicate_field(field, first));
                        continue;
                    }
                    match field.name.as_str() {
                        "env" => match &value.kind {
                            ExprKind::Record(block) => {
                                instance.env = self.env_entries(block).into_iter().map(|(name, value)| (name, value.clone())).collect();
                            }
                            _ => self.error(record_expected("env", value)),
                        },
                        "limits" => instance.limits = self.limits(value),
                        "digest" => match check_value(value, &Type::String) {
                            Ok(Val::Str(digest)) if is_digest(&digest) => instance.digest = Some(digest),
                            Ok(_) => self.error(
                                Diagnostic::error("E0107", "a digest is `sha256:` and 64 hex digits", value.span, "not an image digest")
                                    .with_help("copy it from `docker buildx imagetools inspect IMAGE` or the registry's page"),
                            ),
                            Err(error) => self.error(error),
                        },
                        "dev" | "prod" => match &value.kind {
                            ExprKind::Record(block) => {
                                if field.name == "dev" {
                                    instance.dev = Some(block.clone());
                                } else {
                                    instance.prod = Some(block.clone());
                                }
                            }
                            _ => self.error(record_expected(&field.name, value)),
                        },
                        _ => match kind.fields.get(&field.name) {
                            Some(def) => match check_value(value, &def.ty) {
                                Ok(val) => {
                                    if let Some(diagnostic) = string_problem(&val, value.span) {
                                        self.error(diagnostic);
                                    }
                                    instance.values.insert(field.name.clone(), (val, value.span));
                                }
                                Err(error) => self.error(error),
                            },
                            None => {
                                let candidates: Vec<&str> = kind.fields.keys().map(String::as_str).chain(RESERVED).collect();
                                self.error(
                                    Diagnostic::error(
                                        "E0102",
                                        format!("kind `{}` has no field `{}`", kind.name.name, field.name),
                                        field.span,
                                        "unknown field",
                                    )
                                    .with_help(did_you_mean(&field.name, candidates.iter().copied())),
                                );
                            }
                        },
                    }
                }
            }
        }
        // Defaults, in declaration order, and the missing-field check.
        let mut missing = Vec::new();
        for (field_name, def) in &kind.fields {
            if instance.values.contains_key(field_name) {
                continue;
            }
            match &def.default {
                Some(default) => {
                    if let Some(val) = self.default_value(def, &name.name, false) {
                        instance.values.insert(field_name.clone(), (val, default.span));
                    }
                }
                None if def.optional => {}
                None => missing.push(field_name.clone()),
            }
        }
        if !missing.is_empty() {
            let list = missing.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ");
            let example = &missing[0];
            let ty = kind.fields[example].ty.describe();
            self.error(
                Diagnostic::error(
                    "E0106",
                    format!("service `{}` is missing {list}", name.name),
                    name.span,
                    format!("`{}` services need {list}", kind.name.name),
                )
                .with_help(format!("add `{example} = ...` ({ty})")),
            );
        }
        // Secret-typed fields become secrets of their own or bind to a declared one.
        let mut secret_vars: IndexMap<String, String> = IndexMap::new();
        for (field_name, (val, span)) in &instance.values {
            match val {
                Val::NewSecret(source) => {
                    let var = env_var(&format!("{}_{field_name}", name.name));
                    if self.secrets.contains_key(&var) {
                        self.error(
                            Diagnostic::error(
                                "E0108",
                                format!("the secret `{var}` of service `{}` collides with another secret", name.name),
                                name.span,
                                "collides",
                            )
                            .with_help("rename the service or the top-level secret"),
                        );
                        continue;
                    }
                    self.secrets.insert(
                        var.clone(),
                        Secret { var: var.clone(), source: source.clone(), used_by: vec![name.name.clone()], span: *span },
                    );
                    secret_vars.insert(field_name.clone(), var);
                }
                Val::SecretRef(secret) => match self.secret_names.get(&secret.name) {
                    Some(var) => {
                        secret_vars.insert(field_name.clone(), var.clone());
                    }
                    None => self.error(undeclared_secret(secret, self.suggestible(self.secret_names.keys()))),
                },
                _ => {}
            }
        }
        instance.secret_vars = secret_vars;
        (self.diagnostics.len() == errors_before).then_some(instance)
    }

    fn env_entries<'a>(&mut self, block: &'a Block) -> Vec<(Ident, &'a Expr)> {
        let mut out: Vec<(Ident, &Expr)> = Vec::new();
        let not_variable = |entry: &Entry| {
            Diagnostic::error("E0102", "`env` holds `NAME = value` lines only", entry.span, "not a variable")
                .with_help("write `LOG_LEVEL = \"info\"`")
        };
        block::assignments(self, block, not_variable, |this, name, value| {
            if !is_env_name(&name.name) {
                this.error(
                    Diagnostic::error(
                        "E0502",
                        format!("`{}` is not a valid environment variable name", name.name),
                        name.span,
                        "invalid name",
                    )
                    .with_help("environment variables are letters, digits and `_`, not starting with a digit"),
                );
                return;
            }
            out.push((name.clone(), value));
        });
        out
    }

    fn limits(&mut self, value: &Expr) -> Limits {
        let mut limits = Limits::default();
        let ExprKind::Record(block) = &value.kind else {
            self.error(record_expected("limits", value));
            return limits;
        };
        let unexpected = |entry: &Entry| {
            Diagnostic::error("E0102", "`limits` holds `cpus` and `memory`", entry.span, "unexpected")
                .with_help("write `limits { cpus = 2, memory = 2gb }`")
        };
        block::assignments(self, block, unexpected, |this, name, value| match name.name.as_str() {
            "cpus" => match check_value(value, &Type::Number) {
                Ok(Val::Number(cpus)) if cpus > 0.0 && cpus <= 1024.0 => limits.cpus = Some(cpus),
                Ok(_) => this.error(
                    Diagnostic::error("E0107", "`cpus` must be more than 0 and at most 1024", value.span, "out of range")
                        .with_help("write `cpus = 0.5` or `cpus = 2`"),
                ),
                Err(error) => this.error(error),
            },
            "memory" => match check_value(value, &Type::Size) {
                Ok(Val::Size { bytes, .. }) if bytes >= 6 << 20 => limits.memory = Some(bytes),
                Ok(_) => this.error(
                    Diagnostic::error("E0107", "`memory` must be at least 6mb", value.span, "too small")
                        .with_help("Docker refuses memory limits under 6 MiB"),
                ),
                Err(error) => this.error(error),
            },
            other => this.error(
                Diagnostic::error("E0102", format!("`limits` has no field `{other}`"), name.span, "unknown field")
                    .with_help(did_you_mean(other, ["cpus", "memory"])),
            ),
        });
        limits
    }

    fn proxy(&mut self, kind_name: &Ident, body: &Block) -> Option<(String, IndexMap<String, serde_json::Value>)> {
        let Some(kind) = self.kinds.get(&kind_name.name).filter(|kind| kind.is_proxy()) else {
            let proxies: Vec<&str> = self.kinds.iter().filter(|(_, k)| k.is_proxy()).map(|(n, _)| n.as_str()).collect();
            self.error(
                Diagnostic::error("E0101", format!("unknown proxy kind `{}`", kind_name.name), kind_name.span, "no such proxy")
                    .with_help(did_you_mean(&kind_name.name, proxies.iter().copied())),
            );
            return None;
        };
        let mut fields = IndexMap::new();
        let errors_before = self.diagnostics.len();
        let unexpected = |entry: &Entry| {
            Diagnostic::error("E0102", "a proxy block holds `name = value` settings", entry.span, "unexpected")
                .with_help("write `tls = letsencrypt`")
        };
        block::assignments(self, body, unexpected, |this, name, value| {
            let Some(def) = kind.fields.get(&name.name) else {
                this.error(
                    Diagnostic::error(
                        "E0102",
                        format!("proxy `{}` has no field `{}`", kind.name.name, name.name),
                        name.span,
                        "unknown field",
                    )
                    .with_help(did_you_mean(&name.name, kind.fields.keys().map(String::as_str))),
                );
                return;
            };
            match check_value(value, &def.ty) {
                Ok(val) => {
                    if let Some(diagnostic) = string_problem(&val, value.span) {
                        this.error(diagnostic);
                    }
                    fields.insert(name.name.clone(), val_to_json(&val, None));
                }
                Err(error) => this.error(error),
            }
        });
        let mut ok = self.diagnostics.len() == errors_before;
        for (name, def) in &kind.fields {
            if fields.contains_key(name) {
                continue;
            }
            match (&def.default, def.optional) {
                (Some(_), _) => {
                    // Without a valid domain the certificate paths can't be written; the
                    // missing or invalid domain is reported on its own.
                    let quiet = self.domain.is_none();
                    if let Some(val) = self.default_value(def, &kind_name.name, quiet) {
                        fields.insert(name.clone(), val_to_json(&val, None));
                    }
                }
                (None, true) => {
                    fields.insert(name.clone(), serde_json::Value::Null);
                }
                (None, false) => {
                    self.error(
                        Diagnostic::error(
                            "E0106",
                            format!("proxy `{}` is missing `{name}`", kind.name.name),
                            kind_name.span,
                            "missing field",
                        )
                        .with_help(format!("add `{name} = ...` ({})", def.ty.describe())),
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| (kind.name.name.clone(), fields))
    }

    /// A field's default, a string one rendered as a kind string for the
    /// service (or proxy) `name`. `None` when it fails, reported unless
    /// `quiet_render` says a failed rendering is reported elsewhere.
    fn default_value(&mut self, def: &FieldDef, name: &str, quiet_render: bool) -> Option<Val> {
        let default = def.default.as_ref()?;
        let checked = match check_default(default, &def.ty) {
            Ok(Val::Str(template)) => match self.interp.render(&template, &self.base_context(name)) {
                Ok(text) => check_rendered(text.as_literal().unwrap_or_default(), &def.ty, default.span),
                Err(_) if quiet_render => return None,
                Err(message) => {
                    self.error(template_error(default.span, &message));
                    return None;
                }
            },
            checked => checked,
        };
        // A default that doesn't fit its field is the kind's mistake, not the stack's.
        checked.map_err(|error| self.error(Diagnostic { code: "E0401", ..error })).ok()
    }

    fn render(&mut self, expr: &Expr, context: &Ctx) -> Option<Text> {
        let template = match &expr.kind {
            ExprKind::Str(template) => template,
            ExprKind::Int(n) => return Some(Text::literal(n.to_string())),
            _ => {
                self.error(
                    Diagnostic::error(
                        "E0401",
                        format!("expected a string, found {}", expr.kind.describe()),
                        expr.span,
                        "expected a string",
                    )
                    .with_help("kind properties are strings, with `{{ field }}` interpolation"),
                );
                return None;
            }
        };
        match self.interp.render(template, context) {
            Ok(text) => Some(text),
            Err(message) => {
                self.error(template_error(expr.span, &message));
                None
            }
        }
    }

    /// The value of a property: the instance's field of the same name if the
    /// kind declares one, else the kind body's assignment.
    fn property<'a>(instance: &'a Instance<'_>, name: &str) -> Option<PropertySource<'a>> {
        if instance.kind.fields.contains_key(name) {
            return instance.values.get(name).map(|(val, span)| PropertySource::Field(val, *span));
        }
        instance.kind.properties.get(name).map(PropertySource::Kind)
    }

    fn property_text(&mut self, instance: &Instance<'_>, name: &str) -> Option<Text> {
        match Self::property(instance, name)? {
            PropertySource::Field(val, _) => Some(match val {
                Val::Str(s) | Val::Enum(s) => Text::literal(s.clone()),
                Val::Int(n) => Text::literal(n.to_string()),
                _ => return None,
            }),
            PropertySource::Kind(expr) => self.render(expr, self.context(instance)),
        }
    }

    fn property_bool(&mut self, instance: &Instance<'_>, name: &str) -> Option<bool> {
        match Self::property(instance, name)? {
            PropertySource::Field(Val::Bool(b), _) => Some(*b),
            PropertySource::Kind(Expr { kind: ExprKind::Bool(b), .. }) => Some(*b),
            PropertySource::Kind(expr) => {
                self.error(
                    Diagnostic::error("E0401", format!("property `{name}` must be `true` or `false`"), expr.span, "expected a boolean")
                        .with_help("write `true` or `false`"),
                );
                None
            }
            PropertySource::Field(..) => None,
        }
    }

    fn property_list(&mut self, instance: &Instance<'_>, name: &str) -> Vec<Text> {
        match Self::property(instance, name) {
            None => Vec::new(),
            Some(PropertySource::Field(Val::List(items), _)) => {
                items.iter().filter_map(|item| if let Val::Str(s) = item { Some(Text::literal(s.clone())) } else { None }).collect()
            }
            Some(PropertySource::Field(..)) => Vec::new(),
            Some(PropertySource::Kind(expr)) => match &expr.kind {
                ExprKind::List(items) => items.iter().filter_map(|item| self.render(item, self.context(instance))).collect(),
                _ => {
                    self.error(
                        Diagnostic::error("E0401", format!("property `{name}` must be a list of strings"), expr.span, "expected a list")
                            .with_help("write `[\"a\", \"b\"]`"),
                    );
                    Vec::new()
                }
            },
        }
    }

    fn literal_list(&mut self, instance: &Instance<'_>, name: &str) -> Vec<String> {
        let span = instance.kind.properties.get(name).map_or(instance.span, |expr| expr.span);
        self.property_list(instance, name)
            .into_iter()
            .filter_map(|text| {
                let literal = text.as_literal();
                if literal.is_none() {
                    self.error(
                        Diagnostic::error("E0401", format!("property `{name}` can't contain a secret"), span, "secret here")
                            .with_help("secrets only reach environment variables and commands"),
                    );
                }
                literal
            })
            .collect()
    }

    /// A command: a string is split into words as a shell would, without
    /// running a shell; a list is taken word for word.
    fn command(&mut self, instance: &Instance<'_>, name: &str) -> Option<Vec<Text>> {
        match Self::property(instance, name)? {
            PropertySource::Field(Val::Str(line), span) => self.split_command(&Text::literal(line.clone()), span),
            PropertySource::Field(..) => None,
            PropertySource::Kind(expr) => match &expr.kind {
                ExprKind::List(_) => Some(self.property_list(instance, name)),
                _ => {
                    let text = self.render(expr, self.context(instance))?;
                    self.split_command(&text, expr.span)
                }
            },
        }
    }

    fn split_command(&mut self, text: &Text, span: Span) -> Option<Vec<Text>> {
        let joined = text.render(ToString::to_string, secret_sentinel);
        match shlex::split(&joined) {
            Some(words) if !words.is_empty() => Some(words.iter().map(|word| super::interp::to_text(word)).collect()),
            _ => {
                self.error(
                    Diagnostic::error("E0107", "this command can't be split into words", span, "invalid command")
                        .with_help("close every quote; commands are split like a shell would, without running one"),
                );
                None
            }
        }
    }

    fn health(&mut self, instance: &Instance<'_>) -> Option<Health> {
        let (spec, span) = match Self::property(instance, "health")? {
            PropertySource::Field(Val::Health(spec), span) => (spec.clone(), span),
            PropertySource::Field(..) => return None,
            PropertySource::Kind(expr) => match check_value(expr, &Type::Health) {
                Ok(Val::Health(spec)) => (spec, expr.span),
                Ok(_) => return None,
                Err(error) => {
                    self.error(Diagnostic { code: "E0401", ..error });
                    return None;
                }
            },
        };
        let from_kind = instance.kind.properties.contains_key("health") && !instance.kind.fields.contains_key("health");
        let render_kind = |this: &mut Self, text: &str| -> Option<String> {
            if !from_kind {
                return Some(text.to_string());
            }
            let rendered = this.interp.render(text, this.context(instance)).map_err(|message| template_error(span, &message));
            match rendered {
                Ok(text) => text.as_literal().or_else(|| {
                    this.error(
                        Diagnostic::error("E0401", "a healthcheck can't contain a secret", span, "secret here")
                            .with_help("pass the secret through the environment"),
                    );
                    None
                }),
                Err(error) => {
                    this.error(error);
                    None
                }
            }
        };
        let test = match &spec.form {
            HealthForm::None => return Some(health_from(&spec, HealthTest::Disabled)),
            HealthForm::Cmd(words) => HealthTest::Cmd(words.iter().map(|w| render_kind(self, w)).collect::<Option<Vec<_>>>()?),
            HealthForm::Shell(script) => HealthTest::Shell(render_kind(self, script)?),
            HealthForm::Http(path) => {
                let Some(port) = self.port(instance) else {
                    self.error(
                        Diagnostic::error(
                            "E0106",
                            format!("service `{}` has an HTTP healthcheck but no `port`", instance.name.name),
                            span,
                            "needs a port",
                        )
                        .with_help("add `port = 8000` (the port the service listens on)"),
                    );
                    return None;
                };
                let mut context = self.context(instance).clone();
                context.insert("url".into(), Value::from(format!("http://127.0.0.1:{port}{path}")));
                let Some(probe_expr) = instance.kind.properties.get("http_probe") else {
                    self.error(
                        Diagnostic::error(
                            "E0104",
                            format!("kind `{}` has no HTTP probe", instance.kind.name.name),
                            span,
                            "not supported here",
                        )
                        .with_help("use `cmd([...])` or `shell(\"...\")` with a program the image has"),
                    );
                    return None;
                };
                let ExprKind::List(items) = &probe_expr.kind else { return None };
                let probe =
                    items.iter().map(|item| self.render(item, &context).and_then(|text| text.as_literal())).collect::<Option<Vec<_>>>()?;
                HealthTest::Http { path: path.clone(), probe }
            }
        };
        Some(health_from(&spec, test))
    }

    fn port(&mut self, instance: &Instance<'_>) -> Option<u16> {
        let text = self.property_text(instance, "port")?.as_literal()?;
        text.parse::<u16>().ok()
    }

    /// Pass two: binds references to other services and builds the model.
    #[allow(clippy::too_many_lines)]
    fn service(&mut self, instance: &Instance<'_>, all: &IndexMap<String, Instance<'_>>) -> Option<Service> {
        let errors_before = self.diagnostics.iter().filter(|d| d.is_error()).count();
        let name = instance.name.name.clone();
        let mut depends_on: IndexMap<String, Condition> = IndexMap::new();
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
            if let Some(text) = self.env_value(value, instance, all, &mut depends_on) {
                env.insert(var.name.clone(), text);
            }
        }
        let (dev, prod) = (
            self.profile(instance.dev.as_ref(), instance, all, &mut depends_on),
            self.profile(instance.prod.as_ref(), instance, all, &mut depends_on),
        );

        let mut build = instance.kind.properties.get("build").and_then(|expr| match &expr.kind {
            ExprKind::Str(template) => {
                Some(Build { template: template.clone(), owner: name.clone(), ignore: Vec::new(), dev_target: None, dev_keep: Vec::new() })
            }
            _ => None,
        });
        if let Some(build) = &mut build {
            build.ignore = self.literal_list(instance, "dockerignore");
            build.dev_target = self.property_text(instance, "dev_target").and_then(|t| t.as_literal());
            build.dev_keep = self.literal_list(instance, "dev_keep");
        }
        let mut image = self.property_text(instance, "image").and_then(|text| text.as_literal());
        let mut from_failed = false;
        let mut inherited_digest: Option<String> = None;
        let mut workdir = self.property_text(instance, "workdir").and_then(|t| t.as_literal());
        if let Some((Val::Service(from), span)) = instance.values.get("from") {
            // Follow `from` through other services to the one that has an image.
            let mut current = from;
            let mut seen = vec![name.as_str()];
            loop {
                let Some(origin) = all.get(&current.name) else {
                    self.error(unknown_service(current, self.suggestible(all.keys())));
                    from_failed = true;
                    break;
                };
                if seen.contains(&current.name.as_str()) {
                    self.error(
                        Diagnostic::error("E0203", format!("service `{name}` takes its image from itself"), *span, "points back here")
                            .with_help("`from` names another service that is built or has an `image`"),
                    );
                    from_failed = true;
                    break;
                }
                seen.push(current.name.as_str());
                if let Some(Expr { kind: ExprKind::Str(template), .. }) = origin.kind.properties.get("build") {
                    let dev_target = self.property_text(origin, "dev_target").and_then(|t| t.as_literal());
                    let dev_keep = self.literal_list(origin, "dev_keep");
                    build =
                        Some(Build { template: template.clone(), owner: current.name.clone(), ignore: Vec::new(), dev_target, dev_keep });
                    workdir = self.property_text(origin, "workdir").and_then(|t| t.as_literal());
                    break;
                }
                if let Some(origin_image) = self.property_text(origin, "image").and_then(|text| text.as_literal()) {
                    image = Some(origin_image);
                    inherited_digest.clone_from(&origin.digest);
                    break;
                }
                if let Some((Val::Service(next), _)) = origin.values.get("from") {
                    current = next;
                    continue;
                }
                self.error(
                    Diagnostic::error("E0206", format!("`{}` has no image to share", current.name), from.span, "no image")
                        .with_help("`from` names a service that is built or has an `image`"),
                );
                from_failed = true;
                break;
            }
        }
        let image = match (&build, image) {
            // Built images get no name: Compose names them after the project and
            // service, and an `image:` tag would be a mutable, unpinned reference.
            (Some(_), _) => {
                if instance.digest.is_some() {
                    self.error(
                        Diagnostic::error(
                            "E0107",
                            format!("service `{name}` is built here, so it has no digest to pin"),
                            instance.span,
                            "built from source",
                        )
                        .with_help("`digest` pins prebuilt images; remove it"),
                    );
                }
                None
            }
            (None, Some(image)) => {
                if inherited_digest.is_none() {
                    self.check_pinned(&image, instance);
                }
                Some(match instance.digest.as_ref().or(inherited_digest.as_ref()) {
                    Some(digest) => format!("{image}@{digest}"),
                    None => image,
                })
            }
            (None, None) => {
                if !from_failed {
                    self.error(
                        Diagnostic::error(
                            "E0401",
                            format!("kind `{}` gives no image", instance.kind.name.name),
                            instance.kind.name.span,
                            "no `image` or `build`",
                        )
                        .with_help("a kind sets `image = \"...\"` or `build = \"python\"`, or declares `field from : service`"),
                    );
                }
                None
            }
        };
        let base_image = if build.as_ref().is_some_and(|b| b.owner == name) {
            self.property_text(instance, "base_image").and_then(|t| t.as_literal())
        } else {
            None
        };
        for reference in image.iter().chain(base_image.iter()) {
            let reference = reference.split_once('@').map_or(reference.as_str(), |(name, _)| name);
            if !is_image_reference(reference) {
                let span = instance.values.get("image").or_else(|| instance.values.get("version")).map_or(instance.span, |(_, span)| *span);
                self.error(
                    Diagnostic::error("E0107", format!("`{reference}` is not an image reference"), span, "invalid image").with_help(
                        "an image is `[registry/]name[:tag]`, like `postgres:16.4-alpine`; versions are letters, digits, `.`, `_` and `-`",
                    ),
                );
            }
        }

        let port = self.port(instance);
        let route = match instance.values.get("route") {
            Some((Val::Str(route), span)) => {
                if !route.starts_with('/')
                    || route.contains(char::is_whitespace)
                    || route.contains(['{', '}', ';', '"', '\'', '\\', '$', '#'])
                {
                    self.error(Diagnostic::error("E0107", format!("`{route}` is not a route path"), *span, "invalid route").with_help(
                        "a route is a URL path prefix like \"/\" or \"/api/\", without spaces, quotes, braces, `;`, `$` or `#`",
                    ));
                }
                if port.is_none() {
                    self.error(
                        Diagnostic::error("E0106", format!("service `{name}` has a route but no `port`"), *span, "routed here")
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
                        Diagnostic::error("E0106", format!("service `{name}` publishes a port but has no `port`"), *span, "published here")
                            .with_help("add `port = ...`: the port the service listens on inside its container"),
                    );
                }
                u16::try_from(*host).ok()
            }
            _ => route.as_ref().and(port),
        };
        let mut health = self.health(instance);
        if health.is_none() && instance.values.contains_key("from") {
            // The shared image's HEALTHCHECK probes the other service's port,
            // and a disabled one makes `up --wait` fail ("no healthcheck
            // configured"): without its own `health`, the check is that the
            // main process is alive.
            let alive = ["sh", "-c", "kill -0 1"].map(String::from).to_vec();
            health = Some(Health { test: HealthTest::Cmd(alive), interval: 30, timeout: 5, retries: 3, start_period: 10 });
        }
        let release = match instance.values.get("release") {
            Some((Val::Str(line), span)) => self.split_command(&Text::literal(line.clone()), *span),
            _ => None,
        };
        let command = self.command(instance, "command");
        let mut volumes: IndexMap<String, String> = IndexMap::new();
        for (volume, expr) in &instance.kind.volumes {
            if let Some(path) = self.render(expr, self.context(instance)).and_then(|t| t.as_literal()) {
                if !is_container_path(&path) {
                    self.error(
                        Diagnostic::error("E0107", format!("volume `{volume}` is mounted at `{}`", path.escape_default()), expr.span, "not an absolute path")
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
        let stateful = self.property_bool(instance, "stateful").unwrap_or(false);
        let backup = match instance.values.get("backup") {
            Some((Val::Schedule(schedule), span)) => {
                if !stateful && volumes.is_empty() {
                    self.error(
                        Diagnostic::error("E0303", format!("service `{name}` keeps no state to back up"), *span, "nothing to back up")
                            .with_help(
                                "backups apply to stateful services (databases, caches, stores) and to services with a named `volume`",
                            ),
                    );
                }
                Some(schedule.clone())
            }
            _ => None,
        };
        if release.is_some() {
            depends_on.insert(format!("{name}-release"), Condition::ServiceCompletedSuccessfully);
        }
        // A service running the image of one with a `release` (a worker)
        // starts only after that release ran: the migration comes first.
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
        // Only the fields that have values: one map per service, and the
        // unset ones (null to templates) are the kind's, kept once per kind.
        let mut fields = IndexMap::with_capacity(instance.values.len());
        for (field_name, (val, _)) in &instance.values {
            fields.insert(field_name.clone(), val_to_json(val, instance.secret_vars.get(field_name).map(String::as_str)));
        }
        if let Some(path) = workdir.as_ref().filter(|path| !is_container_path(path)) {
            let span = instance.kind.properties.get("workdir").map_or(instance.span, |expr| expr.span);
            self.error(
                Diagnostic::error("E0107", format!("`workdir` is `{}`", path.escape_default()), span, "not an absolute path")
                    .with_help("the working directory is an absolute path inside the image, like \"/app\""),
            );
        }
        for path in build.iter().flat_map(|build| &build.dev_keep) {
            if path.is_empty()
                || path.starts_with('/')
                || !is_container_path(&format!("/{path}"))
                || path.split('/').any(|part| part == "..")
            {
                let span = instance.kind.properties.get("dev_keep").map_or(instance.span, |expr| expr.span);
                self.error(
                    Diagnostic::error(
                        "E0107",
                        format!("`dev_keep` holds `{}`", path.escape_default()),
                        span,
                        "not a path inside `workdir`",
                    )
                    .with_help("name a directory relative to the working directory, like \"node_modules\""),
                );
            }
        }
        let failed = self.diagnostics.iter().filter(|d| d.is_error()).count() > errors_before;
        if failed {
            return None;
        }
        Some(Service {
            name: name.clone(),
            kind: instance.kind.name.name.clone(),
            image,
            base_image,
            digest: instance.digest.is_some() || inherited_digest.is_some(),
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
            span: instance.span,
        })
    }

    /// The instance's limits, else the kind's, else one CPU and 1 GiB: an
    /// unlimited container can starve the host.
    fn limits_with_defaults(&mut self, instance: &Instance<'_>) -> Limits {
        let kind = instance.kind.properties.get("limits").map(|expr| self.limits(expr)).unwrap_or_default();
        Limits { cpus: instance.limits.cpus.or(kind.cpus).or(Some(1.0)), memory: instance.limits.memory.or(kind.memory).or(Some(1 << 30)) }
    }

    fn check_pinned(&mut self, image: &str, instance: &Instance<'_>) {
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
                Diagnostic::warning("W0002", format!("image `{image}` {problem}"), span, "unpinned image")
                    .with_help("pin a version, like `postgres:16.4-alpine`, so that every deploy runs what was tested"),
            );
        }
    }

    fn env_value(
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
            ExprKind::Path(parts) if parts.len() == 1 => {
                let target = &parts[0];
                if let Some(var) = self.secret_names.get(&target.name) {
                    return Some(Text(vec![Part::Secret(var.clone())]));
                }
                if let Some(other) = all.get(&target.name) {
                    let exports: Vec<&str> = other.kind.exports.keys().map(String::as_str).collect();
                    let example = exports.first().copied().unwrap_or("host");
                    self.error(
                        Diagnostic::error(
                            "E0205",
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
            ExprKind::Path(parts) => {
                let target = &parts[0];
                let Some(other) = all.get(&target.name) else {
                    self.error(unknown_service(target, self.suggestible(all.keys())));
                    return None;
                };
                let attribute = &parts[1];
                let Some(template) = other.kind.exports.get(&attribute.name) else {
                    self.error(
                        Diagnostic::error(
                            "E0202",
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
                        Diagnostic::error("E0202", "attributes have no attributes", parts[2].span, "unexpected")
                            .with_help(format!("write `{}.{}`", target.name, attribute.name)),
                    );
                    return None;
                }
                if target.name == instance.name.name {
                    self.error(
                        Diagnostic::error("E0203", format!("service `{}` refers to itself", target.name), target.span, "self-reference")
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
                        let unset =
                            other.kind.fields.keys().find(|field| !other.values.contains_key(*field) && template.contains(field.as_str()));
                        self.error(match unset {
                            Some(field) => Diagnostic::error(
                                "E0202",
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
            _ => {
                self.error(
                    Diagnostic::error(
                        "E0104",
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

    fn profile(
        &mut self,
        block: Option<&Block>,
        instance: &Instance<'_>,
        all: &IndexMap<String, Instance<'_>>,
        depends_on: &mut IndexMap<String, Condition>,
    ) -> Profile {
        let mut profile = Profile::default();
        let Some(block) = block else { return profile };
        let not_override = |entry: &Entry| {
            Diagnostic::error("E0109", "profiles override `command`, `release`, `env` and `limits`", entry.span, "not an override")
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
                                "E0109",
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
                Diagnostic::error("E0109", format!("`{other}` can't be overridden per profile"), name.span, "not overridable")
                    .with_help("profiles override `command`, `release`, `env` and `limits`; set other fields on the service itself"),
            ),
        });
        profile
    }

    /// Start order, and cycle detection over references and `from`.
    fn order(&mut self, services: &IndexMap<String, Service>, instances: &IndexMap<String, Instance<'_>>) -> Option<Vec<String>> {
        let edges = |service: &Service| -> Vec<String> {
            let mut out: Vec<String> = service.depends_on.keys().filter(|dep| services.contains_key(*dep)).cloned().collect();
            if let Some((Val::Service(from), _)) = instances.get(&service.name).and_then(|i| i.values.get("from")) {
                if !out.contains(&from.name) {
                    out.push(from.name.clone());
                }
            }
            out
        };
        // Depth-first search with colours; the first back edge is the cycle.
        let mut state: IndexMap<&str, u8> = services.keys().map(|name| (name.as_str(), 0u8)).collect();
        let mut order = Vec::new();
        for start in services.keys() {
            if state[start.as_str()] != 0 {
                continue;
            }
            let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), edges(&services[start]))];
            state.insert(start, 1);
            while let Some((node, pending)) = stack.last_mut() {
                if let Some(next) = pending.pop() {
                    match state[next.as_str()] {
                        0 => {
                            state.insert(services.get_key_value(&next).expect("known service").0, 1);
                            let next_edges = edges(&services[&next]);
                            stack.push((next, next_edges));
                        }
                        1 => {
                            let position = stack.iter().position(|(name, _)| *name == next).unwrap_or(0);
                            let mut cycle: Vec<String> = stack[position..].iter().map(|(name, _)| name.clone()).collect();
                            cycle.push(next.clone());
                            let first = &services[&cycle[0]];
                            let mut diagnostic = Diagnostic::error(
                                "E0203",
                                format!("dependency cycle: {}", cycle.join(" → ")),
                                first.span,
                                "this service is part of the cycle",
                            );
                            for name in &cycle[1..cycle.len() - 1] {
                                diagnostic = diagnostic.with_label(services[name].span, "and this one");
                            }
                            self.error(diagnostic.with_help("break the cycle: services can't each wait for the other to start"));
                            return None;
                        }
                        _ => {}
                    }
                } else {
                    let node = node.clone();
                    state.insert(services.get_key_value(&node).expect("known service").0, 2);
                    order.push(node);
                    stack.pop();
                }
            }
        }
        Some(order)
    }

    fn cross_checks(
        &mut self,
        services: &IndexMap<String, Service>,
        instances: &IndexMap<String, Instance<'_>>,
        proxy: Option<&Proxy>,
        proxy_span: Option<Span>,
        settings: &Settings,
    ) {
        // Names Compose sees: a release job and a volume are named after their
        // service, so two different declarations can produce the same name.
        let mut compose_names: IndexMap<String, &Service> = services.values().map(|s| (s.name.clone(), s)).collect();
        let mut volume_names: IndexMap<String, &Service> = IndexMap::new();
        for service in services.values() {
            if service.release.is_some() {
                let job = format!("{}-release", service.name);
                if let Some(other) = compose_names.get(&job) {
                    self.error(
                        Diagnostic::error(
                            "E0108",
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
                            "E0108",
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
        let mut published: IndexMap<u16, &Service> = IndexMap::new();
        let mut routes: IndexMap<&str, &Service> = IndexMap::new();
        for service in services.values() {
            let field_span = |field: &str| instances[&service.name].values.get(field).map_or(service.span, |(_, span)| *span);
            if let Some(port) = service.publish {
                let publish_span = field_span(if instances[&service.name].values.contains_key("publish") { "publish" } else { "port" });
                if proxy.is_some() && (port == 80 || port == 443) {
                    self.error(
                        Diagnostic::error(
                            "E0301",
                            format!("host port {port} belongs to the proxy"),
                            publish_span,
                            format!("`{}` would publish 127.0.0.1:{port}", service.name),
                        )
                        .with_help("nginx listens on 80 and 443 on the host; publish the service on another port: `publish = 8080`"),
                    );
                } else if let Some(first) = published.get(&port) {
                    self.error(
                        Diagnostic::error(
                            "E0301",
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
            if let Some(route) = &service.route {
                if proxy.is_none() {
                    self.error(
                        Diagnostic::error(
                            "E0302",
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
                            "E0304",
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
            let no_backup = service.fields.get("backup").and_then(serde_json::Value::as_str) == Some(super::types::NO_BACKUP);
            if !service.stateful && service.backup.is_none() && !no_backup && !service.volumes.is_empty() {
                let names: Vec<String> = service.volumes.keys().map(|volume| format!("`{volume}`")).collect();
                self.diagnostics.push(
                    Diagnostic::warning(
                        "W0005",
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
                        "W0001",
                        format!("stateful service `{}` has no backup", service.name),
                        service.span,
                        "its data is never backed up",
                    )
                    .with_help("add `backup = daily(at: \"02:00\", keep: 7d)`, or `backup = none()` if its data can be lost"),
                );
            }
        }
        if let (Some(proxy), Some(span)) = (proxy, proxy_span) {
            if settings.domain.is_none() {
                self.error(
                    Diagnostic::error("E0106", "the proxy needs the stack's `domain`", span, "proxy declared here")
                        .with_help("add `domain = \"app.example.com\"` to the `stack` block"),
                );
            }
            if proxy.fields.get("tls").and_then(|v| v.as_str()) == Some("letsencrypt") && settings.acme_email.is_none() {
                self.error(
                    Diagnostic::error("E0106", "Let's Encrypt needs the stack's `acme_email`", span, "tls = letsencrypt")
                        .with_help("add `acme_email = \"ops@example.com\"` to the `stack` block: expiry warnings go there"),
                );
            }
            if proxy.routes.is_empty() {
                self.diagnostics.push(
                    Diagnostic::warning("W0004", "the proxy routes no service", span, "proxy declared here")
                        .with_help("give the service users reach a `route = \"/\"`"),
                );
            }
        }
    }
}

impl Resolver<'_> {
    /// W0006: a secret the Compose target can't deliver as a file. The
    /// images ragc builds read files through their entrypoint, and kinds
    /// say `file NAME = ...`; a prebuilt image's environment, a profile's
    /// environment and a command line stay visible to `docker inspect`.
    fn secrets_in_configuration(&mut self, service: &Service) {
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
                "W0006",
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

enum PropertySource<'a> {
    Field(&'a Val, Span),
    Kind(&'a Expr),
}

fn field_span_of(instances: &IndexMap<String, Instance<'_>>, service: &Service, field: &str) -> Span {
    instances.get(&service.name).and_then(|instance| instance.values.get(field)).map_or(service.span, |(_, span)| *span)
}

fn health_from(spec: &HealthSpec, test: HealthTest) -> Health {
    Health { test, interval: spec.interval, timeout: spec.timeout, retries: spec.retries, start_period: spec.start_period }
}

fn other_has_health(instance: &Instance<'_>) -> bool {
    match instance.values.get("health") {
        Some((Val::Health(spec), _)) => spec.form != HealthForm::None,
        _ => instance.kind.properties.contains_key("health"),
    }
}

fn template_span(instance: &Instance<'_>, export: &str) -> Span {
    instance.kind.exports.get(export).map_or(instance.kind.name.span, |expr| expr.span)
}

/// `[registry[:port]/]path[:tag]`, in the characters Docker allows: nothing
/// that could end a line or a word in the files the reference lands in.
fn is_image_reference(text: &str) -> bool {
    let (path, tag) = match text.rsplit_once(':') {
        Some((path, tag)) if !tag.contains('/') => (path, Some(tag)),
        _ => (text, None),
    };
    let path_ok = !path.is_empty()
        && path.split('/').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c)) && !part.starts_with(['.', '-'])
        });
    let tag_ok = tag.is_none_or(|tag| {
        !tag.is_empty()
            && tag.len() <= 128
            && !tag.starts_with(['.', '-'])
            && tag.chars().all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
    });
    path_ok && tag_ok
}

fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:").is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

/// Container and server paths: absolute, no `..`, and only characters that
/// need no quoting anywhere they land (Compose short syntax, a double-quoted
/// shell word, a Dockerfile instruction, a crontab line).
fn is_container_path(path: &str) -> bool {
    path.starts_with('/')
        && path.len() > 1
        && !path.split('/').any(|part| part == "..")
        && path.chars().all(|c| c.is_alphanumeric() || "._/@+=-".contains(c))
}

fn setting_problem(key: &str, value: &str) -> Option<String> {
    let bad_chars = |v: &str| v.chars().any(|c| c.is_whitespace() || c.is_control() || "\"'`$\\;{}#".contains(c));
    match key {
        "domain" => {
            let valid = value.len() <= 253
                && value.split('.').count() >= 2
                && value.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                });
            (!valid).then(|| format!("`{value}` is not a domain name"))
        }
        "acme_email" => {
            let valid = value.split_once('@').is_some_and(|(user, host)| !user.is_empty() && host.contains('.')) && !bad_chars(value);
            (!valid).then(|| format!("`{value}` is not an email address"))
        }
        "offsite" => {
            (!(value.starts_with("s3://") && value.len() > 5) || bad_chars(value)).then(|| format!("`{value}` is not an s3:// URL"))
        }
        "path" | "backup_root" => {
            (!is_container_path(value) || value == "/").then(|| format!("`{value}` is not an absolute directory path"))
        }
        "context" => (value.starts_with('/') || bad_chars(value) || value.split('/').any(|part| part == ".."))
            .then(|| format!("`{value}` is not a relative path inside the stack's directory")),
        _ => None,
    }
}

fn setting_help(key: &str) -> &'static str {
    match key {
        "domain" => "write the host name users reach, like \"app.example.com\"",
        "acme_email" => "write an address Let's Encrypt can reach, like \"ops@example.com\"",
        "offsite" => "write an S3 URL like \"s3://bucket/prefix\"; backups are synced there with `aws s3 sync`",
        "path" | "backup_root" => "write an absolute path on the server, like \"/opt/my-app\", without spaces or quotes",
        _ => "write a path relative to the stack file, like \".\" or \"app\"",
    }
}

/// Control characters and the sentinel range have no place in a value that
/// reaches a configuration file.
fn string_problem(val: &Val, span: Span) -> Option<Diagnostic> {
    let text = match val {
        Val::Str(text) => text,
        Val::List(items) => return items.iter().find_map(|item| string_problem(item, span)),
        _ => return None,
    };
    super::types::control_problem(text, span).err()
}

fn record_expected(field: &str, value: &Expr) -> Diagnostic {
    Diagnostic::error("E0104", format!("`{field}` is a block, found {}", value.kind.describe()), value.span, "expected a block")
        .with_help(format!("write `{field} {{ ... }}`"))
}

fn template_error(span: Span, message: &str) -> Diagnostic {
    Diagnostic::error("E0402", format!("invalid interpolation in a kind file: {message}"), span, "in this template")
        .with_help("kind strings are minijinja templates over the kind's fields: `{{ field }}`")
}

fn unknown_service<'a>(name: &Ident, services: impl IntoIterator<Item = &'a str> + Clone) -> Diagnostic {
    Diagnostic::error("E0201", format!("unknown service `{}`", name.name), name.span, "no such service")
        .with_help(did_you_mean(&name.name, services))
}

fn undeclared_secret<'a>(name: &Ident, secrets: impl IntoIterator<Item = &'a str> + Clone) -> Diagnostic {
    let mut diagnostic = Diagnostic::error("E0305", format!("secret `{}` is used but not declared", name.name), name.span, "not declared");
    if let Some(best) = crate::diag::suggest(&name.name, secrets) {
        diagnostic = diagnostic.with_help(format!("did you mean `{best}`?"));
    }
    diagnostic.with_help(format!(
        "declare it: `secret {} = generate(hex, 32)` or `secret {} = required(\"where to get it\")`",
        name.name, name.name
    ))
}

/// Networks: each stateful service gets an internal network shared only with
/// the services that reference it; everything else is on `default`, and so
/// is a stateful service that is routed or published (a self-hosted app):
/// Docker publishes no port on an internal network.
fn derive_networks(services: &mut IndexMap<String, Service>) -> IndexMap<String, Network> {
    let mut networks: IndexMap<String, Network> = IndexMap::new();
    let stateful: Vec<String> = services.values().filter(|s| s.stateful).map(|s| s.name.clone()).collect();
    for name in &stateful {
        let mut members: IndexSet<String> = IndexSet::new();
        members.insert(name.clone());
        for service in services.values() {
            if service.depends_on.contains_key(name) {
                members.insert(service.name.clone());
            }
        }
        networks.insert(format!("{name}-net"), Network { internal: true, members: members.into_iter().collect() });
    }
    for service in services.values_mut() {
        if !service.stateful || service.route.is_some() || service.publish.is_some() {
            service.networks.push("default".into());
        }
        for (network, spec) in &networks {
            if spec.members.contains(&service.name) {
                service.networks.push(network.clone());
            }
        }
    }
    networks
}

fn routes(services: &IndexMap<String, Service>) -> Vec<Route> {
    let mut routes: Vec<Route> = services
        .values()
        .filter_map(|service| Some(Route { path: service.route.clone()?, service: service.name.clone(), port: service.publish? }))
        .collect();
    // Longest prefix first reads naturally; nginx picks the longest match regardless.
    routes.sort_by(|a, b| b.path.len().cmp(&a.path.len()).then_with(|| a.path.cmp(&b.path)));
    routes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names_are_dns_labels() {
        assert!(is_service_name("db"));
        assert!(is_service_name("api-2"));
        assert!(!is_service_name("Api"));
        assert!(!is_service_name("2api"));
        assert!(!is_service_name("api-"));
        assert!(!is_service_name(&"a".repeat(64)));
    }

    #[test]
    fn image_references_are_checked() {
        assert!(is_image_reference("postgres:16.4-alpine"));
        assert!(is_image_reference("ghcr.io/example/hello:1.4.2"));
        assert!(is_image_reference("registry:5000/team/app"));
        assert!(!is_image_reference("python:3.11 AS x"));
        assert!(!is_image_reference("img:$(id)"));
        assert!(!is_image_reference(":1.0"));
    }

    fn codes(text: &str) -> Vec<&'static str> {
        let input = crate::input::Input::from_text("stack.rag", text);
        crate::analyze(&input).diagnostics.iter().map(|d| d.code).collect()
    }

    #[test]
    fn a_named_volume_is_backed_up_or_said_to_need_none() {
        let app = |backup: &str| {
            format!("stack demo {{}}\nservice api: python {{\n  command = \"x\"\n  volume uploads = \"/app/uploads\"\n  {backup}\n}}\n")
        };
        assert_eq!(codes(&app("")), ["W0005"]);
        assert_eq!(codes(&app("backup = daily(at: \"02:00\", keep: 7d)")), [] as [&str; 0]);
        assert_eq!(codes(&app("backup = none()")), [] as [&str; 0]);
        assert!(codes(&app("backup = none(keep: 7d)")).iter().any(|code| code.starts_with('E')), "none() takes no argument");
        // A stateless image with a volume may be backed up (its volumes, as tar); without one, it can't.
        let image = |volume: &str| {
            format!("stack demo {{}}\nservice web: image {{\n  image = \"nginx:1.27.3\"\n  {volume}\n  backup = daily(at: \"02:00\", keep: 7d)\n}}\n")
        };
        assert_eq!(codes(&image("volume html = \"/usr/share/nginx/html\"")), [] as [&str; 0]);
        assert_eq!(codes(&image("")), ["E0303"]);
    }

    #[test]
    fn backup_none_silences_the_stateful_warning() {
        let db = |backup: &str| format!("stack demo {{}}\nservice db: postgres {{\n  version = \"16.4\"\n  {backup}\n}}\n");
        assert_eq!(codes(&db("")), ["W0001"]);
        assert_eq!(codes(&db("backup = none()")), [] as [&str; 0]);
    }

    #[test]
    fn container_paths_stay_inside() {
        assert!(is_container_path("/app/uploads"));
        assert!(!is_container_path("app"));
        assert!(!is_container_path("/app/../etc"));
        assert!(!is_container_path("/a:b"));
    }
}
