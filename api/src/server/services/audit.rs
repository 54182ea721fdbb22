//! `AuditService`: the decision ledger, listed a page at a time or followed as it grows.

use std::time::Duration;

use soberana_proto::v1 as proto;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::server::validation::Violations;
use crate::server::{Shared, store_status};
use soberana_core::ledger::{LedgerRecord, RecordKind};

const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 1000;
const WATCH_POLL: Duration = Duration::from_millis(500);

#[derive(Debug)]
pub struct AuditApi(pub Shared);

pub fn record(record: &LedgerRecord) -> proto::LedgerRecord {
    proto::LedgerRecord {
        sequence: record.sequence,
        kind: match record.kind {
            RecordKind::Plan => proto::RecordKind::Plan,
            RecordKind::Submission => proto::RecordKind::Submission,
            RecordKind::Placement => proto::RecordKind::Placement,
            RecordKind::Cancellation => proto::RecordKind::Cancellation,
            RecordKind::Exchange => proto::RecordKind::Exchange,
        }
        .into(),
        record_time: record
            .time
            .parse::<k8s_openapi::jiff::Timestamp>()
            .ok()
            .map(|time| prost_types::Timestamp {
                seconds: time.as_second(),
                nanos: time.subsec_nanosecond(),
            }),
        actor: record.actor.clone(),
        subject: record.subject.clone(),
        payload_json: record.payload_json.clone(),
        previous_hash: record.previous_hash.clone(),
        hash: record.hash.clone(),
    }
}

#[tonic::async_trait]
impl proto::audit_service_server::AuditService for AuditApi {
    async fn list_decisions(
        &self,
        request: Request<proto::ListDecisionsRequest>,
    ) -> Result<Response<proto::ListDecisionsResponse>, Status> {
        self.0
            .measured("ListDecisions", async {
                let body = request.get_ref();
                let mut violations = Violations::default();
                if body.page_size > MAX_PAGE {
                    violations.add(
                        "page_size",
                        format!("is {}; at most {MAX_PAGE}", body.page_size),
                    );
                }
                let from = if body.page_token.is_empty() {
                    1
                } else {
                    body.page_token.parse::<u64>().unwrap_or_else(|_| {
                        violations.add("page_token", "is not a token ListDecisions returned");
                        1
                    })
                };
                violations.into_result()?;
                self.0.allow(&request, "list", "workloads", "").await?;
                let size = if body.page_size == 0 {
                    DEFAULT_PAGE
                } else {
                    body.page_size
                };
                let records = self
                    .0
                    .store
                    .records(from, size as usize + 1)
                    .await
                    .map_err(store_status)?;
                let more = records.len() > size as usize;
                let page: Vec<&LedgerRecord> = records.iter().take(size as usize).collect();
                let next = if more {
                    page.last()
                        .map(|last| (last.sequence + 1).to_string())
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                Ok(Response::new(proto::ListDecisionsResponse {
                    records: page.into_iter().map(record).collect(),
                    next_page_token: next,
                }))
            })
            .await
    }

    type WatchDecisionsStream = ReceiverStream<Result<proto::WatchDecisionsResponse, Status>>;

    async fn watch_decisions(
        &self,
        request: Request<proto::WatchDecisionsRequest>,
    ) -> Result<Response<Self::WatchDecisionsStream>, Status> {
        self.0
            .measured("WatchDecisions", async {
                let caller = self.0.allow(&request, "list", "workloads", "").await?;
                let slot = self.0.open_stream("WatchDecisions", &caller)?;
                let store = self.0.store.clone();
                let mut next = request.get_ref().from_sequence;
                if next == 0 {
                    // Only new records: start after the last one (read from the head, no scan).
                    next = store.last_sequence().await.map_err(store_status)? + 1;
                }
                let (sender, receiver) = tokio::sync::mpsc::channel(64);
                tokio::spawn(async move {
                    let ends_at = slot.ends_at;
                    let _slot = slot;
                    loop {
                        match store.records(next, 100).await {
                            Ok(records) => {
                                for found in &records {
                                    next = found.sequence + 1;
                                    let message = proto::WatchDecisionsResponse {
                                        record: Some(record(found)),
                                    };
                                    if sender.send(Ok(message)).await.is_err() {
                                        return;
                                    }
                                }
                            }
                            Err(error) => {
                                let _ = sender.send(Err(store_status(error))).await;
                                return;
                            }
                        }
                        // A client that left ends the task now, not at its next record; the
                        // stream's lifetime ends it too (the client resumes from its sequence).
                        tokio::select! {
                            () = sender.closed() => return,
                            () = tokio::time::sleep_until(ends_at) => return,
                            () = tokio::time::sleep(WATCH_POLL) => {}
                        }
                    }
                });
                Ok(Response::new(ReceiverStream::new(receiver)))
            })
            .await
    }
}
