//! Who is calling, and may they: callers send a bearer token, which the management cluster's API
//! server validates (`TokenReview`); each call is then authorized with a `SubjectAccessReview`
//! against the namespace it touches, so an agency's ServiceAccount can act only where RBAC lets
//! it. Authorization comes before any lookup, so a refusal never tells whether the object exists.

pub mod cache;
pub mod failures;

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

/// The audience a token must be issued for unless `--token-audience` says otherwise: a token
/// meant for the Kubernetes API (or anything else) is not accepted, so one the API receives
/// cannot be replayed against the cluster, nor one from the cluster against the API.
pub const DEFAULT_TOKEN_AUDIENCE: &str = "soberana-api";

/// The request's bearer token.
pub fn bearer_token(metadata: &MetadataMap) -> Result<&str, Status> {
    metadata
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(credential)
        .ok_or_else(|| {
            Status::unauthenticated("send a bearer token: authorization: Bearer <token>")
        })
}

/// The credential in an `authorization` header value, as authentication reads it: the token
/// after `Bearer `, without surrounding whitespace. Everything that tells callers apart (the
/// per-caller limits, the answers cache) keys on this, never on the raw header, so spelling one
/// token differently never makes another caller.
pub fn credential(authorization: &str) -> Option<&str> {
    authorization
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

/// The caller `token` belongs to, by the management cluster's `TokenReview`, provided the token
/// was issued for `audience`.
pub async fn review_token(kube: &Client, token: &str, audience: &str) -> Result<Caller, Status> {
    let review = TokenReview {
        spec: TokenReviewSpec {
            token: token.to_owned(),
            audiences: Some(vec![audience.to_owned()]),
        },
        ..TokenReview::default()
    };
    let reviewed = Api::<TokenReview>::all(kube.clone())
        .create(&PostParams::default(), &review)
        .await
        .map_err(|error| Status::unavailable(format!("cannot validate the token: {error}")))?;
    let status = reviewed.status.unwrap_or_default();
    let for_us = status
        .audiences
        .as_ref()
        .is_some_and(|audiences| audiences.iter().any(|issued| issued == audience));
    if status.authenticated != Some(true) || !for_us {
        return Err(Status::unauthenticated(format!(
            "the token is not valid for audience {audience}: request one issued for it, e.g. `kubectl create token <service-account> --audience {audience}`"
        )));
    }
    let user = status.user.unwrap_or_default();
    Ok(Caller {
        user: user.username.unwrap_or_default(),
        groups: user.groups.unwrap_or_default(),
        uid: user.uid,
    })
}

/// What a call asks to do: `verb` on `resource` (of group `soberana.io`) in `namespace` (empty for
/// cluster-wide), on the one object `name` when the call names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Access {
    pub verb: String,
    pub resource: String,
    pub namespace: String,
    pub name: Option<String>,
}

impl Access {
    /// `verb` on every `resource` in `namespace` (empty for cluster-wide).
    pub fn to(verb: &str, resource: &str, namespace: &str) -> Self {
        Self {
            verb: verb.to_owned(),
            resource: resource.to_owned(),
            namespace: namespace.to_owned(),
            name: None,
        }
    }

    /// `verb` on the cluster-scoped object `resource`/`name`.
    pub fn to_object(verb: &str, resource: &str, name: &str) -> Self {
        Self {
            name: Some(name.to_owned()),
            ..Self::to(verb, resource, "")
        }
    }

    /// The question as words, e.g. `update dataclassifications.soberana.io/internal cluster-wide`.
    fn describe(&self) -> String {
        let object = match &self.name {
            Some(name) => format!("{}.soberana.io/{name}", self.resource),
            None => format!("{}.soberana.io", self.resource),
        };
        let scope = if self.namespace.is_empty() {
            "cluster-wide".to_owned()
        } else {
            format!("in namespace {}", self.namespace)
        };
        format!("{} {object} {scope}", self.verb)
    }
}

/// Allows the call if `caller` may do what `access` asks.
pub async fn authorize(kube: &Client, caller: &Caller, access: &Access) -> Result<(), Status> {
    let review = SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(caller.user.clone()),
            groups: Some(caller.groups.clone()),
            uid: caller.uid.clone(),
            resource_attributes: Some(ResourceAttributes {
                group: Some("soberana.io".to_owned()),
                resource: Some(access.resource.clone()),
                verb: Some(access.verb.clone()),
                namespace: (!access.namespace.is_empty()).then(|| access.namespace.clone()),
                name: access.name.clone(),
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
        Err(Status::permission_denied(format!(
            "{} may not {}",
            caller.user,
            access.describe()
        )))
    }
}
