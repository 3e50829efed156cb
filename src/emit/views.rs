//! The services as templates see them. Each service's fields become template
//! values when a template reads them, not all at once up front: at 10,000
//! services the converted copy of every service was a third of the peak
//! memory, and most templates read a few fields of each.

use std::sync::{Arc, OnceLock};

use indexmap::IndexMap;
use minijinja::value::{Enumerator, Object, ObjectRepr, Value};

use crate::model::{Service, Stack};

/// `services`: every service in declaration order.
#[derive(Debug)]
pub struct Services {
    pub stack: Arc<Stack>,
}

impl Object for Services {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let index = key.as_usize()?;
        (index < self.stack.services.len()).then(|| Value::from_object(ServiceView::new(Arc::clone(&self.stack), index)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Seq(self.stack.services.len())
    }
}

/// One service: the model's fields, plus what the templates derive from them.
/// A template reads a field several times per loop iteration (`health`
/// twenty times in the Compose file), so each is converted once per view.
#[derive(Debug)]
pub struct ServiceView {
    stack: Arc<Stack>,
    index: usize,
    converted: [OnceLock<Value>; KEYS.len()],
}

/// The model's field names (as serde writes them) and the derived ones.
const KEYS: &[&str] = &[
    "name",
    "kind",
    "image",
    "base_image",
    "digest",
    "build",
    "command",
    "workdir",
    "port",
    "publish",
    "health",
    "route",
    "release",
    "stateful",
    "read_only",
    "tmpfs",
    "cap_add",
    "user",
    "env",
    "volumes",
    "limits",
    "backup",
    "depends_on",
    "networks",
    "dev",
    "prod",
    "fields",
    "dev_override",
    "command_literal",
];

impl ServiceView {
    pub fn new(stack: Arc<Stack>, index: usize) -> Self {
        Self { stack, index, converted: std::array::from_fn(|_| OnceLock::new()) }
    }

    fn convert(&self, key: &str) -> Value {
        let s = &self.stack.services[self.index];
        match key {
            "name" => Value::from(s.name.as_str()),
            "kind" => Value::from(s.kind.as_str()),
            "image" => Value::from_serialize(&s.image),
            "base_image" => Value::from_serialize(&s.base_image),
            "digest" => Value::from(s.digest),
            "build" => Value::from_serialize(&s.build),
            "command" => Value::from_serialize(&s.command),
            "workdir" => Value::from_serialize(&s.workdir),
            "port" => Value::from_serialize(s.port),
            "publish" => Value::from_serialize(s.publish),
            "health" => Value::from_serialize(&s.health),
            "route" => Value::from_serialize(&s.route),
            "release" => Value::from_serialize(&s.release),
            "stateful" => Value::from(s.stateful),
            "read_only" => Value::from(s.read_only),
            "tmpfs" => Value::from_serialize(&s.tmpfs),
            "cap_add" => Value::from_serialize(&s.cap_add),
            "user" => Value::from_serialize(&s.user),
            "env" => Value::from_serialize(&s.env),
            "volumes" => Value::from_serialize(&s.volumes),
            "limits" => Value::from_serialize(s.limits),
            "backup" => Value::from_serialize(&s.backup),
            "depends_on" => Value::from_serialize(&s.depends_on),
            "networks" => Value::from_serialize(&s.networks),
            "dev" => Value::from_serialize(&s.dev),
            "prod" => Value::from_serialize(&s.prod),
            "fields" => {
                // Kind templates may test optional fields the service leaves unset.
                let mut fields: IndexMap<&str, Value> =
                    s.fields.iter().map(|(name, value)| (name.as_str(), Value::from_serialize(value))).collect();
                for name in self.stack.kind_fields.get(&s.kind).into_iter().flatten() {
                    fields.entry(name.as_str()).or_insert(Value::from(()));
                }
                Value::from_serialize(&fields)
            }
            "dev_override" => Value::from(dev_override(s)),
            // The command holds no secret, so a Dockerfile may bake it in as `CMD`.
            "command_literal" => Value::from(s.command.as_ref().is_some_and(|words| words.iter().all(|word| !word.is_secret()))),
            other => unreachable!("`{other}` is not in KEYS"),
        }
    }
}

/// The development override is written for this service.
fn dev_override(service: &Service) -> bool {
    let dev = &service.dev;
    dev.command.is_some() || !dev.env.is_empty() || dev.limits.is_some() || (service.build.is_some() && service.workdir.is_some())
}

impl Object for ServiceView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        let slot = KEYS.iter().position(|k| *k == key)?;
        Some(self.converted[slot].get_or_init(|| self.convert(key)).clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(KEYS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The view must offer exactly what serde would write for a service,
    /// plus the derived keys: a field added to the model and forgotten here
    /// would be undefined in templates.
    #[test]
    fn every_model_field_is_a_key() {
        let input = crate::input::Input::load(std::path::Path::new("examples/rag-engine-mini.rag")).expect("the flagship");
        let stack = crate::analyze(&input).stack.expect("checks");
        let serialized = serde_json::to_value(&stack.services[0]).expect("serialises");
        let mut model: Vec<&str> = serialized.as_object().expect("a map").keys().map(String::as_str).collect();
        model.extend(["dev_override", "command_literal"]);
        let mut keys = KEYS.to_vec();
        model.sort_unstable();
        keys.sort_unstable();
        assert_eq!(keys, model);
        let view = Arc::new(ServiceView::new(Arc::clone(&stack), 0));
        for key in KEYS {
            assert!(view.get_value(&Value::from(*key)).is_some(), "{key}");
        }
    }

    /// Kind templates test optional fields a service leaves unset: each
    /// declared field is there, null when unset, though the model keeps
    /// only the set ones.
    #[test]
    fn unset_kind_fields_are_null() {
        let input = crate::input::Input::load(std::path::Path::new("examples/rag-engine-mini.rag")).expect("the flagship");
        let stack = crate::analyze(&input).stack.expect("checks");
        let mut nulls = 0;
        for (index, service) in stack.services.values().enumerate() {
            let view = Arc::new(ServiceView::new(Arc::clone(&stack), index));
            let fields = view.get_value(&Value::from("fields")).expect("fields");
            for name in &stack.kind_fields[&service.kind] {
                let value = fields.get_attr(name).expect("readable");
                assert!(!value.is_undefined(), "{}.fields.{name}", service.name);
                if !service.fields.contains_key(name) {
                    assert!(value.is_none(), "{}.fields.{name}", service.name);
                    nulls += 1;
                }
            }
        }
        assert!(nulls > 0, "the flagship leaves some optional field unset");
    }
}
