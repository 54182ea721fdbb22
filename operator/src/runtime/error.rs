//! What can go wrong in a reconcile, with a category used for logs, metric labels and retries.

use std::time::Duration;

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("site {site}: {message}")]
    SiteConnection { site: String, message: String },
    #[error("site {site}: applying {object}: {source}")]
    ApplyOnSite {
        site: String,
        object: String,
        source: kube::Error,
    },
    #[error("site {site}: removing {object}: {source}")]
    RemoveFromSite {
        site: String,
        object: String,
        source: kube::Error,
    },
    #[error("writing status of {object}: {source}")]
    WriteStatus { object: String, source: kube::Error },
    #[error("applying {object} to the management cluster: {source}")]
    ApplyManagement { object: String, source: kube::Error },
    #[error("reading {object} from the management cluster: {source}")]
    ReadManagement { object: String, source: kube::Error },
    #[error("{object}: {message}")]
    Invalid { object: String, message: String },
    #[error("finalizer of {object}: {message}")]
    Finalizer { object: String, message: String },
}

/// How an error should be treated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// The spec is wrong: wait for a change.
    Invalid,
    /// A server is down or busy: retry with backoff.
    Transient,
    /// The API refused our credentials or permissions.
    Forbidden,
}

impl Category {
    pub fn label(self) -> &'static str {
        match self {
            Self::Invalid => "invalid",
            Self::Transient => "transient",
            Self::Forbidden => "forbidden",
        }
    }

    /// How long to wait before the next attempt.
    pub fn retry_after(self) -> Duration {
        match self {
            Self::Invalid => Duration::from_secs(300),
            Self::Transient => Duration::from_secs(10),
            Self::Forbidden => Duration::from_secs(60),
        }
    }
}

impl Error {
    pub fn category(&self) -> Category {
        match self {
            Self::Invalid { .. } => Category::Invalid,
            Self::ApplyOnSite { source, .. }
            | Self::RemoveFromSite { source, .. }
            | Self::WriteStatus { source, .. }
            | Self::ApplyManagement { source, .. }
            | Self::ReadManagement { source, .. } => kube_category(source),
            Self::SiteConnection { .. } | Self::Finalizer { .. } => Category::Transient,
        }
    }
}

/// The category of a Kubernetes API error: 401/403 forbidden, other 4xx invalid, the rest transient.
pub fn kube_category(error: &kube::Error) -> Category {
    match error {
        kube::Error::Api(status) if status.code == 401 || status.code == 403 => Category::Forbidden,
        kube::Error::Api(status)
            if (400..500).contains(&status.code) && status.code != 409 && status.code != 429 =>
        {
            Category::Invalid
        }
        _ => Category::Transient,
    }
}
