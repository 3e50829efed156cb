//! Graph: what follows from the services as a whole: the start order
//! (and cycles), the networks and the proxy's routes.
//!
//! Input: the built services. Output: the order, the networks (each
//! service's list filled in) and the routes, longest prefix first.

use indexmap::{IndexMap, IndexSet};

use super::resolve::{Instance, Resolver};
use super::types::Val;
use crate::diag::{Code, Diagnostic};
use crate::model::{Network, Route, Service};

impl<'k> Resolver<'k> {
    /// Start order, and cycle detection over references and `from`.
    pub(super) fn order(
        &mut self,
        services: &IndexMap<String, Service>,
        instances: &IndexMap<String, Instance<'_>>,
    ) -> Option<Vec<String>> {
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
                                Code::E0203,
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
}

/// Networks: each stateful service gets an internal network shared only with
/// the services that reference it; everything else is on `default`, and so
/// is a stateful service that is routed or published (a self-hosted app):
/// Docker publishes no port on an internal network.
pub(super) fn derive_networks(services: &mut IndexMap<String, Service>) -> IndexMap<String, Network> {
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

pub(super) fn routes(services: &IndexMap<String, Service>) -> Vec<Route> {
    let mut routes: Vec<Route> = services
        .values()
        .filter_map(|service| Some(Route { path: service.route.clone()?, service: service.name.clone(), port: service.publish? }))
        .collect();
    // Longest prefix first reads naturally; nginx picks the longest match regardless.
    routes.sort_by(|a, b| b.path.len().cmp(&a.path.len()).then_with(|| a.path.cmp(&b.path)));
    routes
}
