//! The bound on a Workload's template: measured as compact JSON, and what a cache keeps of a
//! Workload over it.

#![allow(clippy::unwrap_used, reason = "a panic is the failure report in tests")]

use serde_json::json;
use soberana_core::resources::workload::{MAX_TEMPLATE_BYTES, TemplateTooLarge, Workload};

/// A Workload whose template's compact JSON is exactly `bytes` long.
fn workload_with_template_of(bytes: usize) -> Workload {
    let empty = r#"{"deployment":{"filler":""}}"#.len();
    let template = json!({"deployment": {"filler": "x".repeat(bytes - empty)}});
    serde_json::from_value(json!({
        "apiVersion": "soberana.io/v1alpha1", "kind": "Workload",
        "metadata": {"name": "records", "namespace": "minsa-prod"},
        "spec": {"tenant": "health", "classification": "confidential",
                 "resources": {"cpuMillicores": 1, "memoryMebibytes": 1}, "replicas": 1,
                 "template": template}
    }))
    .unwrap()
}

#[test]
fn the_size_is_the_templates_compact_json() {
    let workload = workload_with_template_of(1000);
    let template = workload.spec.template.as_ref().unwrap();
    assert_eq!(template.encoded_size(), 1000);
    assert_eq!(
        template.encoded_size(),
        serde_json::to_vec(template).unwrap().len()
    );
}

#[test]
fn a_template_at_the_limit_is_kept_and_one_byte_more_is_refused() {
    let mut at_limit = workload_with_template_of(MAX_TEMPLATE_BYTES);
    assert_eq!(at_limit.spec.template_within_limit(), Ok(()));
    at_limit.spec.drop_template_over_limit();
    assert!(at_limit.spec.template.is_some());

    let over = workload_with_template_of(MAX_TEMPLATE_BYTES + 1);
    let refused = over.spec.template_within_limit().unwrap_err();
    assert_eq!(
        refused,
        TemplateTooLarge {
            bytes: MAX_TEMPLATE_BYTES + 1
        }
    );
    let message = refused.to_string();
    assert!(
        message.contains("spec.template is 65537 bytes"),
        "{message}"
    );
    assert!(message.contains("at most 65536 bytes"), "{message}");
}

#[test]
fn a_cache_drops_an_oversized_template_but_still_reports_it() {
    let mut cached = workload_with_template_of(MAX_TEMPLATE_BYTES * 4);
    cached.spec.drop_template_over_limit();
    assert_eq!(cached.spec.template, None);
    assert_eq!(
        cached.spec.template_within_limit(),
        Err(TemplateTooLarge {
            bytes: MAX_TEMPLATE_BYTES * 4
        })
    );
    // What was dropped never goes back to the API server.
    let written = serde_json::to_value(&cached).unwrap();
    assert_eq!(written["spec"].get("template"), None);
    assert_eq!(written["spec"].get("templateOverLimit"), None);
}
