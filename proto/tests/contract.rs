//! The generated soberana.v1 code: every service is in the descriptor set server reflection
//! serves, and messages survive the wire.

#![allow(clippy::unwrap_used, reason = "a test panics to report a failure")]

use prost::Message;
use soberana_proto::v1::{Capacity, FILE_DESCRIPTOR_SET, PlanMigrationRequest, WorkloadSpec};

#[test]
fn the_descriptor_set_names_every_service_and_rpc() {
    let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
    let mut rpcs: Vec<String> = set
        .file
        .iter()
        .filter(|file| file.package() == "soberana.v1")
        .flat_map(|file| file.service.iter())
        .flat_map(|service| {
            service
                .method
                .iter()
                .map(move |method| format!("{}.{}", service.name(), method.name()))
        })
        .collect();
    rpcs.sort();
    assert_eq!(
        rpcs,
        [
            "AuditService.ListDecisions",
            "AuditService.WatchDecisions",
            "ExchangeService.ListExchanges",
            "InventoryService.ListSites",
            "MigrationService.CancelMigration",
            "MigrationService.GetMigration",
            "MigrationService.ListMigrations",
            "MigrationService.PlanMigration",
            "MigrationService.SubmitMigration",
            "MigrationService.WatchMigration",
            "PlacementService.Evaluate",
            "PlacementService.WhatIf",
            "TenantService.GetTenant",
            "TenantService.ListTenants",
        ]
    );
}

#[test]
fn a_request_survives_the_wire() {
    let request = PlanMigrationRequest {
        request_id: "3f0c".to_owned(),
        namespace: "minsa-prod".to_owned(),
        workload: Some(WorkloadSpec {
            tenant: "ministry-of-health".to_owned(),
            classification: "restricted".to_owned(),
            resources: Some(Capacity {
                cpu_millicores: 500,
                memory_mebibytes: 1024,
                storage_gibibytes: 0,
            }),
            replicas: 2,
            ..WorkloadSpec::default()
        }),
        reservation_ttl: None,
    };
    let decoded = PlanMigrationRequest::decode(request.encode_to_vec().as_slice()).unwrap();
    assert_eq!(decoded, request);
}
