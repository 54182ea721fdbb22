//! A minimal client of the Prometheus HTTP API: instant queries (`/api/v1/query`), answered as
//! labelled samples. Plain HTTP, as Prometheus serves inside a cluster or behind a port-forward.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

/// How long one query may take before the report gives up.
const QUERY_TIMEOUT: Duration = Duration::from_secs(60);

/// One series of an instant vector.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

pub struct Prometheus {
    base: String,
    client: Client<HttpConnector, Empty<Bytes>>,
}

impl std::fmt::Debug for Prometheus {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Prometheus")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    data: Option<AnswerData>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Deserialize)]
struct AnswerData {
    #[serde(rename = "resultType")]
    result_type: String,
    result: Vec<VectorSample>,
}

#[derive(Deserialize)]
struct VectorSample {
    metric: BTreeMap<String, String>,
    value: (f64, String),
}

impl Prometheus {
    /// A client of the Prometheus at `url` (`http://host:9090`, optionally with a path prefix).
    pub fn new(url: &str) -> Result<Self, String> {
        if !url.starts_with("http://") {
            return Err(format!(
                "--prometheus {url:?}: give an http:// URL (e.g. http://localhost:9090; use a port-forward for a TLS endpoint)"
            ));
        }
        Ok(Self {
            base: url.trim_end_matches('/').to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        })
    }

    /// Evaluates `promql` at `time` (Unix seconds).
    pub async fn query(&self, promql: &str, time: i64) -> Result<Vec<Sample>, String> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("query", promql)
            .append_pair("time", &time.to_string())
            .finish();
        let url = format!("{}/api/v1/query?{query}", self.base);
        let uri: hyper::Uri = url
            .parse()
            .map_err(|error| format!("--prometheus {:?}: not a URL: {error}", self.base))?;
        let unreachable =
            |error: String| format!("cannot query Prometheus at {}: {error}", self.base);
        let response = tokio::time::timeout(QUERY_TIMEOUT, self.client.get(uri))
            .await
            .map_err(|_| unreachable(format!("no answer within {QUERY_TIMEOUT:?}")))?
            .map_err(|error| unreachable(with_causes(&error)))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|error| unreachable(error.to_string()))?
            .to_bytes();
        let answer: Answer = serde_json::from_slice(&body).map_err(|error| {
            unreachable(format!(
                "HTTP {status}, not a Prometheus API answer ({error})"
            ))
        })?;
        samples(answer, promql)
    }
}

/// An error with its causes: hyper's own says only "client error (Connect)".
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(found) = cause {
        text.push_str(": ");
        text.push_str(&found.to_string());
        cause = found.source();
    }
    text
}

fn samples(answer: Answer, promql: &str) -> Result<Vec<Sample>, String> {
    if answer.status != "success" {
        return Err(format!(
            "Prometheus refused the query {promql}: {}",
            answer.error.unwrap_or_default()
        ));
    }
    let data = answer
        .data
        .ok_or_else(|| format!("Prometheus answered {promql} without data"))?;
    if data.result_type != "vector" {
        return Err(format!(
            "Prometheus answered {promql} with a {}, not a vector",
            data.result_type
        ));
    }
    Ok(data
        .result
        .into_iter()
        .filter_map(|sample| {
            let value: f64 = sample.value.1.parse().ok()?;
            value.is_finite().then_some(Sample {
                labels: sample.metric,
                value,
            })
        })
        .collect())
}
