//! Properties: what a kind gives every instance (image, command, health,
//! lists of paths and capabilities), read for one instance.
//!
//! Input: an [`Instance`]. Output: the property's value, from the
//! instance's field of the same name if the kind declares one, else the
//! kind body's assignment rendered against the instance's context.

use minijinja::Value;

use super::interp::secret_sentinel;
use super::resolve::{template_error, Instance, Resolver};
use super::types::{HealthForm, HealthSpec, Val};
use crate::diag::{Code, Diagnostic};
use crate::model::{Health, HealthTest, Limits, Text};
use crate::syntax::{Expr, ExprKind, Span};

impl<'k> Resolver<'k> {
    /// The value of a property: the instance's field of the same name if the
    /// kind declares one, else the kind body's assignment.
    pub(super) fn property<'a>(instance: &'a Instance<'_>, name: &str) -> Option<PropertySource<'a>> {
        if instance.kind.fields.contains_key(name) {
            return instance.values.get(name).map(|(val, span)| PropertySource::Field(val, *span));
        }
        instance.kind.properties.get(name).map(PropertySource::Kind)
    }

    pub(super) fn property_text(&mut self, instance: &Instance<'_>, name: &str) -> Option<Text> {
        match Self::property(instance, name)? {
            PropertySource::Field(val, _) => Some(match val {
                Val::Str(s) | Val::Enum(s) => Text::literal(s.clone()),
                Val::Int(n) => Text::literal(n.to_string()),
                _ => return None,
            }),
            PropertySource::Kind(expr) => self.render(expr, self.context(instance)),
        }
    }

    pub(super) fn property_bool(&mut self, instance: &Instance<'_>, name: &str) -> Option<bool> {
        match Self::property(instance, name)? {
            PropertySource::Field(Val::Bool(b), _) => Some(*b),
            PropertySource::Kind(Expr { kind: ExprKind::Bool(b), .. }) => Some(*b),
            PropertySource::Kind(expr) => {
                self.kind_error(
                    Diagnostic::error(Code::E0401, format!("property `{name}` must be `true` or `false`"), expr.span, "expected a boolean")
                        .with_help("write `true` or `false`"),
                );
                None
            }
            PropertySource::Field(..) => None,
        }
    }

    pub(super) fn property_list(&mut self, instance: &Instance<'_>, name: &str) -> Vec<Text> {
        match Self::property(instance, name) {
            None => Vec::new(),
            Some(PropertySource::Field(Val::List(items), _)) => {
                items.iter().filter_map(|item| if let Val::Str(s) = item { Some(Text::literal(s.clone())) } else { None }).collect()
            }
            Some(PropertySource::Field(..)) => Vec::new(),
            Some(PropertySource::Kind(expr)) => match &expr.kind {
                ExprKind::List(items) => items.iter().filter_map(|item| self.render(item, self.context(instance))).collect(),
                _ => {
                    self.kind_error(
                        Diagnostic::error(
                            Code::E0401,
                            format!("property `{name}` must be a list of strings"),
                            expr.span,
                            "expected a list",
                        )
                        .with_help("write `[\"a\", \"b\"]`"),
                    );
                    Vec::new()
                }
            },
        }
    }

    pub(super) fn literal_list(&mut self, instance: &Instance<'_>, name: &str) -> Vec<String> {
        let span = instance.kind.properties.get(name).map_or(instance.span, |expr| expr.span);
        self.property_list(instance, name)
            .into_iter()
            .filter_map(|text| {
                let literal = text.as_literal();
                if literal.is_none() {
                    self.error(
                        Diagnostic::error(Code::E0401, format!("property `{name}` can't contain a secret"), span, "secret here")
                            .with_help("secrets only reach environment variables and commands"),
                    );
                }
                literal
            })
            .collect()
    }

    /// A command: a string is split into words as a shell would, without
    /// running a shell; a list is taken word for word.
    pub(super) fn command(&mut self, instance: &Instance<'_>, name: &str) -> Option<Vec<Text>> {
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

    pub(super) fn split_command(&mut self, text: &Text, span: Span) -> Option<Vec<Text>> {
        let joined = text.render(ToString::to_string, secret_sentinel);
        match shlex::split(&joined) {
            Some(words) if !words.is_empty() => Some(words.iter().map(|word| super::interp::to_text(word)).collect()),
            _ => {
                self.error(
                    Diagnostic::error(Code::E0107, "this command can't be split into words", span, "invalid command")
                        .with_help("close every quote; commands are split like a shell would, without running one"),
                );
                None
            }
        }
    }

    pub(super) fn health(&mut self, instance: &Instance<'_>) -> Option<Health> {
        let (spec, span) = match Self::property(instance, "health")? {
            PropertySource::Field(Val::Health(spec), span) => (spec.clone(), span),
            PropertySource::Field(..) => return None,
            PropertySource::Kind(_) => match instance.kind.shape.health.as_ref()? {
                Ok((spec, span)) => (spec.clone(), *span),
                Err(error) => {
                    self.kind_error(error.clone());
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
                        Diagnostic::error(Code::E0401, "a healthcheck can't contain a secret", span, "secret here")
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
                            Code::E0106,
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
                            Code::E0104,
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

    pub(super) fn port(&mut self, instance: &Instance<'_>) -> Option<u16> {
        let text = self.property_text(instance, "port")?.as_literal()?;
        text.parse::<u16>().ok()
    }

    /// The instance's limits, else the kind's, else one CPU and 1 GiB: an
    /// unlimited container can starve the host.
    pub(super) fn limits_with_defaults(&mut self, instance: &Instance<'_>) -> Limits {
        let kind_name = &instance.kind.name.name;
        let kind = match self.kind_limits.get(kind_name) {
            Some(limits) => *limits,
            None => {
                let limits = instance.kind.properties.get("limits").map(|expr| self.limits(expr)).unwrap_or_default();
                self.kind_limits.insert(kind_name.clone(), limits);
                limits
            }
        };
        Limits { cpus: instance.limits.cpus.or(kind.cpus).or(Some(1.0)), memory: instance.limits.memory.or(kind.memory).or(Some(1 << 30)) }
    }
}

/// Where a property's value comes from.
pub(super) enum PropertySource<'a> {
    Field(&'a Val, Span),
    Kind(&'a Expr),
}

pub(super) fn health_from(spec: &HealthSpec, test: HealthTest) -> Health {
    Health { test, interval: spec.interval, timeout: spec.timeout, retries: spec.retries, start_period: spec.start_period }
}
