//! Whatever bytes arrive, decoding and validating a request never panics, and what validation
//! refuses it refuses with field paths inside the request.

use proptest::prelude::*;
use prost::Message;
use soberana_api::server::validation::{Violations, dns_label, request_id, workload_spec};
use soberana_proto::v1 as proto;
use tonic::Code;
use tonic_types::StatusExt;

fn validate(request: &proto::PlanMigrationRequest) -> Result<(), tonic::Status> {
    let mut violations = Violations::default();
    request_id(&request.request_id, &mut violations);
    dns_label(&request.namespace, "namespace", &mut violations);
    let _ = workload_spec(request.workload.as_ref(), "workload", &mut violations);
    violations.into_result()
}

fn check(request: &proto::PlanMigrationRequest) -> Result<(), TestCaseError> {
    if let Err(status) = validate(request) {
        prop_assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_details_bad_request();
        prop_assert!(details.is_some(), "no BadRequest details");
        for violation in details
            .map(|details| details.field_violations)
            .unwrap_or_default()
        {
            prop_assert!(
                ["request_id", "namespace", "workload"]
                    .iter()
                    .any(|root| violation.field.starts_with(root)),
                "field {} is outside the request",
                violation.field
            );
            prop_assert!(!violation.description.is_empty());
        }
    }
    Ok(())
}

fn spec() -> impl Strategy<Value = proto::WorkloadSpec> {
    (
        ".{0,300}",
        "[a-z]{0,12}",
        proptest::option::of((any::<u64>(), any::<u64>(), any::<u64>())),
        any::<u32>(),
        "[0-9.]{0,8}",
        proptest::option::of((any::<u32>(), any::<u32>(), any::<i32>())),
    )
        .prop_map(
            |(tenant, classification, resources, replicas, availability, spread)| {
                proto::WorkloadSpec {
                    tenant,
                    classification,
                    resources: resources.map(|(cpu, memory, storage)| proto::Capacity {
                        cpu_millicores: cpu,
                        memory_mebibytes: memory,
                        storage_gibibytes: storage,
                    }),
                    replicas,
                    availability_target: availability,
                    spread: spread.map(|(minimum, maximum, across)| proto::Spread {
                        minimum_sites: minimum,
                        maximum_sites: maximum,
                        across,
                    }),
                    ..proto::WorkloadSpec::default()
                }
            },
        )
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        if let Ok(request) = proto::PlanMigrationRequest::decode(bytes.as_slice()) {
            check(&request)?;
        }
    }

    #[test]
    fn arbitrary_requests_are_refused_with_their_own_field_paths(
        id in ".{0,200}",
        namespace in ".{0,80}",
        workload in proptest::option::of(spec()),
    ) {
        let request = proto::PlanMigrationRequest { request_id: id, namespace, workload, reservation_ttl: None };
        check(&request)?;
        // And the request survives the wire unchanged.
        let decoded = proto::PlanMigrationRequest::decode(request.encode_to_vec().as_slice());
        prop_assert_eq!(decoded.ok(), Some(request));
    }
}
