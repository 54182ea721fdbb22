//! Publishing Kubernetes Events on Soberana's objects, so that `kubectl describe` tells what the
//! operator did and why. A failure to publish is logged, never fatal.

use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};

use crate::runtime::context::Context;

/// Publishes one Event about `object`.
pub async fn publish<K: Resource<DynamicType = ()>>(
    context: &Context,
    object: &K,
    type_: EventType,
    reason: &str,
    action: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_owned(),
        note: Some(note),
        action: action.to_owned(),
        secondary: None,
    };
    if let Err(error) = context
        .recorder
        .publish(&event, &object.object_ref(&()))
        .await
    {
        tracing::warn!(kind = %K::kind(&()), name = %object.name_any(), %error, "could not publish an event");
    }
}
