//! Who is calling, and may they: callers send a bearer token, which the management cluster's API
//! server validates (`TokenReview`); each call is then authorized with a `SubjectAccessReview`
//! against the namespace it touches, so an agency's ServiceAccount can act only where RBAC lets
//! it. Authorization comes before any lookup, so a refusal never tells whether the object exists.

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::PostParams;
use kube::{Api, Client};
use tonic::Status;
use tonic::metadata::MetadataMap;

/// An authenticated caller.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub user: String,
    pub groups: Vec<String>,
    pub uid: Option<String>,
}

/// The caller behind the request's `authorization: Bearer …` header.
pub async fn authenticate(kube: &Client, metadata: &MetadataMap) -> Result<Caller, Status> {
    let token = metadata
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| {
            Status::unauthenticated("send a bearer token: authorization: Bearer <token>")
        })?;
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: token.to_owned(),
            ..TokenReviewSpec::default()
        },
        ..TokenReview::default()
    };
    let reviewed = Api::<TokenReview>::all(kube.clone())
        .create(&PostParams::default(), &review)
        .await
        .map_err(|error| Status::unavailable(format!("cannot validate the token: {error}")))?;
    let status = reviewed.status.unwrap_or_default();
    if status.authenticated != Some(true) {
        return Err(Status::unauthenticated("the token is not valid"));
    }
    let user = status.user.unwrap_or_default();
    Ok(Caller {
        user: user.username.unwrap_or_default(),
        groups: user.groups.unwrap_or_default(),
        uid: user.uid,
    })
}

/// Allows the call if `caller` may `verb` the `resource` (of group `soberana.io`) in
/// `namespace` (empty for cluster-wide).
pub async fn authorize(
    kube: &Client,
    caller: &Caller,
    verb: &str,
    resource: &str,
    namespace: &str,
) -> Result<(), Status> {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(caller.user.clone()),
            groups: Some(caller.groups.clone()),
            uid: caller.uid.clone(),
            resource_attributes: Some(ResourceAttributes {
                group: Some("soberana.io".to_owned()),
                resource: Some(resource.to_owned()),
                verb: Some(verb.to_owned()),
                namespace: (!namespace.is_empty()).then(|| namespace.to_owned()),
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    };
    let reviewed = Api::<SubjectAccessReview>::all(kube.clone())
        .create(&PostParams::default(), &review)
        .await
        .map_err(|error| Status::unavailable(format!("cannot authorize the call: {error}")))?;
    if reviewed.status.is_some_and(|status| status.allowed) {
        Ok(())
    } else {
        let scope = if namespace.is_empty() {
            "cluster-wide".to_owned()
        } else {
            format!("in namespace {namespace}")
        };
        Err(Status::permission_denied(format!(
            "{} may not {verb} {resource}.soberana.io {scope}",
            caller.user
        )))
    }
}

/// How long a token's review, or an access decision, is reused. Short, like the API server's own
/// webhook caches: a revoked token or binding stops working within this time.
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(10);

/// Recent TokenReview and SubjectAccessReview answers, so that a busy caller costs the
/// management cluster one review per decision and TTL, not one per call.
#[derive(Debug, Default)]
pub struct AuthCache {
    callers: std::sync::Mutex<std::collections::HashMap<Vec<u8>, (Caller, std::time::Instant)>>,
    decisions: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

impl AuthCache {
    /// `authenticate`, reusing a recent answer for the same token (kept by digest only).
    pub async fn authenticate(
        &self,
        kube: &Client,
        metadata: &MetadataMap,
    ) -> Result<Caller, Status> {
        use sha2::Digest;
        let key = metadata
            .get("authorization")
            .map(|value| sha2::Sha256::digest(value.as_bytes()).to_vec());
        if let Some(key) = &key
            && let Some((caller, at)) = lock(&self.callers).get(key)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(caller.clone());
        }
        let caller = authenticate(kube, metadata).await?;
        if let Some(key) = key {
            let mut callers = lock(&self.callers);
            callers.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            callers.insert(key, (caller.clone(), std::time::Instant::now()));
        }
        Ok(caller)
    }

    /// `authorize`, reusing a recent *allow* for the same question (refusals are always asked
    /// again, so a new binding takes effect at once).
    pub async fn authorize(
        &self,
        kube: &Client,
        caller: &Caller,
        verb: &str,
        resource: &str,
        namespace: &str,
    ) -> Result<(), Status> {
        let key = format!(
            "{}\n{}\n{verb}\n{resource}\n{namespace}",
            caller.user,
            caller.groups.join(",")
        );
        if lock(&self.decisions)
            .get(&key)
            .is_some_and(|at| at.elapsed() < CACHE_TTL)
        {
            return Ok(());
        }
        authorize(kube, caller, verb, resource, namespace).await?;
        let mut decisions = lock(&self.decisions);
        decisions.retain(|_, at| at.elapsed() < CACHE_TTL);
        decisions.insert(key, std::time::Instant::now());
        Ok(())
    }
}

fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
