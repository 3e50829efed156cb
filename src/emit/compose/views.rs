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
    stack: Arc<Stack>,
    /// One view per service for the whole compile, so that the backup
    /// templates, which loop over the services more than once, convert each
    /// field once. The views keep what they converted until the compile
    /// ends, so large stacks make a view per read instead.
    shared: Option<Box<[OnceLock<Value>]>>,
}

/// Fewer services than this keep their views for the whole compile (a few
/// KB each once converted).
pub const SHARED_VIEWS_BELOW: usize = 1_000;

impl Services {
    /// With `share`, each service's view is made once and kept.
    pub fn new(stack: Arc<Stack>, share: bool) -> Self {
        let count = stack.services.len();
        let shared = share.then(|| (0..count).map(|_| OnceLock::new()).collect());
        Self { stack, shared }
    }

    /// The view of the service at `index`, which must exist.
    pub fn view(&self, index: usize) -> Value {
        let view = || Value::from_object(ServiceView::new(Arc::clone(&self.stack), index));
        match &self.shared {
            Some(shared) => shared[index].get_or_init(view).clone(),
            None => view(),
        }
    }
}

impl Object for Services {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let index = key.as_usize()?;
        (index < self.stack.services.len()).then(|| self.view(index))
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
    converted: [OnceLock<Value>; FIELDS.len()],
}

/// How a template value is made from a service.
type Convert = fn(&Stack, &Service) -> Value;

/// Every key a template may read: the model's fields as serde names them,
/// then the derived ones. One table, so that a key and its conversion
/// cannot drift apart.
const FIELDS: &[(&str, Convert)] = &[
    ("name", |_, s| Value::from(s.name.as_str())),
    ("kind", |_, s| Value::from(s.kind.as_str())),
    ("image", |_, s| Value::from_serialize(&s.image)),
    ("base_image", |_, s| Value::from_serialize(&s.base_image)),
    ("digest", |_, s| Value::from(s.digest)),
    ("build", |_, s| Value::from_serialize(&s.build)),
    ("command", |_, s| Value::from_serialize(&s.command)),
    ("workdir", |_, s| Value::from_serialize(&s.workdir)),
    ("port", |_, s| Value::from_serialize(s.port)),
    ("publish", |_, s| Value::from_serialize(s.publish)),
    ("health", |_, s| Value::from_serialize(&s.health)),
    ("route", |_, s| Value::from_serialize(&s.route)),
    ("release", |_, s| Value::from_serialize(&s.release)),
    ("stateful", |_, s| Value::from(s.stateful)),
    ("read_only", |_, s| Value::from(s.read_only)),
    ("tmpfs", |_, s| Value::from_serialize(&s.tmpfs)),
    ("cap_add", |_, s| Value::from_serialize(&s.cap_add)),
    ("user", |_, s| Value::from_serialize(&s.user)),
    ("env", |_, s| Value::from_serialize(&s.env)),
    ("volumes", |_, s| Value::from_serialize(&s.volumes)),
    ("files", |_, s| Value::from_serialize(&s.files)),
    ("limits", |_, s| Value::from_serialize(s.limits)),
    ("backup", |_, s| Value::from_serialize(&s.backup)),
    ("depends_on", |_, s| Value::from_serialize(&s.depends_on)),
    ("networks", |_, s| Value::from_serialize(&s.networks)),
    ("dev", |_, s| Value::from_serialize(&s.dev)),
    ("prod", |_, s| Value::from_serialize(&s.prod)),
    ("fields", kind_fields),
    ("dev_override", |_, s| Value::from(s.has_dev_override())),
    // The command holds no secret, so a Dockerfile may bake it in as `CMD`.
    ("command_literal", |_, s| Value::from(s.command.as_ref().is_some_and(|words| words.iter().all(|word| !word.is_secret())))),
];

/// The keys of [`FIELDS`], for enumerating a view.
static KEYS: &[&str] = &{
    let mut keys = [""; FIELDS.len()];
    let mut index = 0;
    while index < keys.len() {
        keys[index] = FIELDS[index].0;
        index += 1;
    }
    keys
};

impl ServiceView {
    pub fn new(stack: Arc<Stack>, index: usize) -> Self {
        Self { stack, index, converted: std::array::from_fn(|_| OnceLock::new()) }
    }
}

/// The fields the service sets, and the kind's other fields as null: kind
/// templates may test optional fields the service leaves unset.
fn kind_fields(stack: &Stack, service: &Service) -> Value {
    let mut fields: IndexMap<&str, Value> =
        service.fields.iter().map(|(name, value)| (name.as_str(), Value::from_serialize(value))).collect();
    for name in stack.kind_fields.get(&service.kind).into_iter().flatten() {
        fields.entry(name.as_str()).or_insert(Value::from(()));
    }
    Value::from_serialize(&fields)
}

impl Object for ServiceView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        let slot = KEYS.iter().position(|k| *k == key)?;
        let convert = FIELDS[slot].1;
        Some(self.converted[slot].get_or_init(|| convert(&self.stack, &self.stack.services[self.index])).clone())
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
