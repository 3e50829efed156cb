//! Instantiate: a service's own entries checked against its kind.
//!
//! Input: one `service NAME: KIND { ... }` item (or the `proxy` item) and
//! the kinds. Output: an [`Instance`]: typed field values with defaults
//! applied, the instance's volumes, limits, digest and its `env`, `dev`
//! and `prod` expressions (owned, so that the AST can be dropped), and the
//! secrets its secret-typed fields declare or name.
//! Invariant: nothing here reads another service.

use std::cell::OnceCell;

use indexmap::IndexMap;

use super::block::{self, duplicate_field, Seen};
use super::kinds::{FieldDef, RESERVED};
use super::resolve::{
    env_var, field_value, is_container_path, is_digest, is_env_name, is_service_name, record_expected, string_problem, template_error,
    undeclared_secret, Instance, Resolver,
};
use super::types::{check_default, check_rendered, check_value, Type, Val};
use crate::diag::{did_you_mean, Code, Diagnostic};
use crate::model::{FieldValue, Limits, ProxySite, Secret};
use crate::syntax::{Block, Entry, EntryKind, Expr, ExprKind, Ident, Labeled};

impl<'k> Resolver<'k> {
    /// Checks one instance's entries against its kind: fields, types,
    /// defaults. Builds the template context.
    pub(super) fn instance(&mut self, name: &Ident, kind_name: &Ident, body: &Block) -> Option<Instance<'k>> {
        if !is_service_name(&name.name) {
            self.error(Diagnostic::error(Code::E0502, format!("`{}` is not a valid service name", name.name), name.span, "invalid name")
                .with_help("service names become host names and volume names: lowercase letters, digits and `-`, starting with a letter, at most 63 characters"));
        }
        let Some(kind) = self.kinds.get(&kind_name.name) else {
            self.error(
                Diagnostic::error(Code::E0101, format!("unknown kind `{}`", kind_name.name), kind_name.span, "no such kind")
                    .with_help(did_you_mean(&kind_name.name, self.kinds.iter().filter(|(_, k)| !k.is_proxy()).map(|(n, _)| n.as_str())))
                    .with_help(format!("a kind of your own goes in `kinds/{}.rag` next to the stack file", kind_name.name)),
            );
            return None;
        };
        if kind.is_proxy() {
            self.error(
                Diagnostic::error(
                    Code::E0101,
                    format!("`{}` is a proxy kind, not a service kind", kind_name.name),
                    kind_name.span,
                    "a proxy",
                )
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
                        Diagnostic::error(
                            Code::E0110,
                            "fields are declared in kind files, not in services",
                            field.span,
                            "field declaration",
                        )
                        .with_help(format!("set the field instead: `{} = ...`", field.name)),
                    );
                }
                EntryKind::Labeled(labeled) => self.volume_entry(&mut instance, labeled, &mut seen),
                EntryKind::Assign { name: field, value } => self.field_entry(&mut instance, field, value, &mut seen),
            }
        }
        self.apply_defaults(&mut instance);
        instance.secret_vars = self.field_secrets(&instance);
        (self.diagnostics.len() == errors_before).then_some(instance)
    }

    /// `volume NAME = "/path"`: a named volume of the service's own.
    fn volume_entry(&mut self, instance: &mut Instance<'k>, labeled: &Labeled, seen: &mut Seen) {
        let (label, volume, value) = (&labeled.label, &labeled.name, &labeled.value);
        if label.name != "volume" {
            self.error(
                Diagnostic::error(Code::E0102, format!("unknown declaration `{} {}`", label.name, volume.name), label.span, "unknown")
                    .with_help(did_you_mean(&label.name, ["volume"])),
            );
            return;
        }
        if let Err(first) = seen.claim(&format!("volume {}", volume.name), volume.span) {
            self.error(duplicate_field(volume, first));
            return;
        }
        if !is_service_name(&volume.name) {
            self.error(
                Diagnostic::error(Code::E0502, format!("`{}` is not a valid volume name", volume.name), volume.span, "invalid name")
                    .with_help("volume names: lowercase letters, digits and `-`, starting with a letter"),
            );
        }
        match check_value(value, &Type::String) {
            Ok(Val::Str(path)) if is_container_path(&path) => {
                if instance.kind.volumes.contains_key(&volume.name) {
                    self.error(
                        Diagnostic::error(
                            Code::E0103,
                            format!("kind `{}` already has a volume `{}`", instance.kind.name.name, volume.name),
                            volume.span,
                            "declared again",
                        )
                        .with_help("choose another name"),
                    );
                }
                instance.volumes.insert(volume.name.clone(), (path, value.span));
            }
            Ok(_) => self.error(
                Diagnostic::error(Code::E0107, "a volume is mounted at an absolute path", value.span, "not an absolute path")
                    .with_help("write the path inside the container, like \"/app/uploads\""),
            ),
            Err(error) => self.error(error),
        }
    }

    /// `field = value`: one of the names every service has, or a field of its kind.
    fn field_entry(&mut self, instance: &mut Instance<'k>, field: &Ident, value: &Expr, seen: &mut Seen) {
        if let Err(first) = seen.claim(&field.name, field.span) {
            self.error(duplicate_field(field, first));
            return;
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
                    Diagnostic::error(Code::E0107, "a digest is `sha256:` and 64 hex digits", value.span, "not an image digest")
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
            _ => match instance.kind.fields.get(&field.name) {
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
                    let candidates: Vec<&str> = instance.kind.fields.keys().map(String::as_str).chain(RESERVED).collect();
                    self.error(
                        Diagnostic::error(
                            Code::E0102,
                            format!("kind `{}` has no field `{}`", instance.kind.name.name, field.name),
                            field.span,
                            "unknown field",
                        )
                        .with_help(did_you_mean(&field.name, candidates.iter().copied())),
                    );
                }
            },
        }
    }

    /// Defaults, in declaration order, and the missing-field check.
    fn apply_defaults(&mut self, instance: &mut Instance<'k>) {
        let (kind, name) = (instance.kind, instance.name.clone());
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
                    Code::E0106,
                    format!("service `{}` is missing {list}", name.name),
                    name.span,
                    format!("`{}` services need {list}", kind.name.name),
                )
                .with_help(format!("add `{example} = ...` ({ty})")),
            );
        }
    }

    /// Secret-typed fields become secrets of their own or bind to a declared one.
    fn field_secrets(&mut self, instance: &Instance<'k>) -> IndexMap<String, String> {
        let name = &instance.name;
        let mut secret_vars: IndexMap<String, String> = IndexMap::new();
        for (field_name, (val, span)) in &instance.values {
            match val {
                Val::NewSecret(source) => {
                    let var = env_var(&format!("{}_{field_name}", name.name));
                    if self.secrets.contains_key(&var) {
                        self.error(
                            Diagnostic::error(
                                Code::E0108,
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
        secret_vars
    }

    pub(super) fn env_entries<'a>(&mut self, block: &'a Block) -> Vec<(Ident, &'a Expr)> {
        let mut out: Vec<(Ident, &Expr)> = Vec::new();
        let not_variable = |entry: &Entry| {
            Diagnostic::error(Code::E0102, "`env` holds `NAME = value` lines only", entry.span, "not a variable")
                .with_help("write `LOG_LEVEL = \"info\"`")
        };
        block::assignments(self, block, not_variable, |this, name, value| {
            if !is_env_name(&name.name) {
                this.error(
                    Diagnostic::error(
                        Code::E0502,
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

    pub(super) fn limits(&mut self, value: &Expr) -> Limits {
        let mut limits = Limits::default();
        let ExprKind::Record(block) = &value.kind else {
            self.error(record_expected("limits", value));
            return limits;
        };
        let unexpected = |entry: &Entry| {
            Diagnostic::error(Code::E0102, "`limits` holds `cpus` and `memory`", entry.span, "unexpected")
                .with_help("write `limits { cpus = 2, memory = 2gb }`")
        };
        block::assignments(self, block, unexpected, |this, name, value| match name.name.as_str() {
            "cpus" => match check_value(value, &Type::Number) {
                Ok(Val::Number(cpus)) if cpus > 0.0 && cpus <= 1024.0 => limits.cpus = Some(cpus),
                Ok(_) => this.error(
                    Diagnostic::error(Code::E0107, "`cpus` must be more than 0 and at most 1024", value.span, "out of range")
                        .with_help("write `cpus = 0.5` or `cpus = 2`"),
                ),
                Err(error) => this.error(error),
            },
            "memory" => match check_value(value, &Type::Size) {
                Ok(Val::Size { bytes, .. }) if bytes >= 6 << 20 => limits.memory = Some(bytes),
                Ok(_) => this.error(
                    Diagnostic::error(Code::E0107, "`memory` must be at least 6mb", value.span, "too small")
                        .with_help("Docker refuses memory limits under 6 MiB"),
                ),
                Err(error) => this.error(error),
            },
            other => this.error(
                Diagnostic::error(Code::E0102, format!("`limits` has no field `{other}`"), name.span, "unknown field")
                    .with_help(did_you_mean(other, ["cpus", "memory"])),
            ),
        });
        limits
    }

    pub(super) fn proxy(&mut self, kind_name: &Ident, body: &Block) -> Option<(String, IndexMap<String, FieldValue>)> {
        let Some(kind) = self.kinds.get(&kind_name.name).filter(|kind| kind.is_proxy()) else {
            let proxies: Vec<&str> = self.kinds.iter().filter(|(_, k)| k.is_proxy()).map(|(n, _)| n.as_str()).collect();
            self.error(
                Diagnostic::error(Code::E0101, format!("unknown proxy kind `{}`", kind_name.name), kind_name.span, "no such proxy")
                    .with_help(did_you_mean(&kind_name.name, proxies.iter().copied())),
            );
            return None;
        };
        let mut fields = IndexMap::new();
        let errors_before = self.diagnostics.len();
        let unexpected = |entry: &Entry| {
            Diagnostic::error(Code::E0102, "a proxy block holds `name = value` settings", entry.span, "unexpected")
                .with_help("write `tls = letsencrypt`")
        };
        block::assignments(self, body, unexpected, |this, name, value| {
            let Some(def) = kind.fields.get(&name.name) else {
                this.error(
                    Diagnostic::error(
                        Code::E0102,
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
                    fields.insert(name.name.clone(), field_value(&val, None));
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
                        fields.insert(name.clone(), field_value(&val, None));
                    }
                }
                (None, true) => {
                    fields.insert(name.clone(), FieldValue::Null);
                }
                (None, false) => {
                    self.error(
                        Diagnostic::error(
                            Code::E0106,
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
    pub(super) fn default_value(&mut self, def: &FieldDef, name: &str, quiet_render: bool) -> Option<Val> {
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
        checked.map_err(|error| self.error(error.with_code(Code::E0401))).ok()
    }
}

/// The proxy kind's fields a target reads, bound to their meaning once.
pub(super) fn proxy_site(fields: &IndexMap<String, FieldValue>) -> ProxySite {
    let text = |name: &str| fields.get(name).and_then(FieldValue::as_str).map(str::to_string);
    let number = |name: &str| fields.get(name).and_then(FieldValue::as_u64).unwrap_or_default();
    ProxySite {
        letsencrypt: text("tls").as_deref() == Some("letsencrypt"),
        certificate: text("certificate"),
        certificate_key: text("certificate_key"),
        version: text("version").unwrap_or_default(),
        max_body: number("max_body"),
        timeout: number("timeout"),
    }
}
