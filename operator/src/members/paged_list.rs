//! Listing a member cluster's objects by metadata only and a page at a time, so that a check's
//! memory is bounded by the page however large the cluster (or however many tenants it carries).

use kube::api::{ListParams, ObjectMeta};
use kube::{Api, Client, Resource};

/// Objects per page.
const PAGE_SIZE: u32 = 500;

/// Visits the metadata of every live object of kind `K` matching `selector` (all without one),
/// one page at a time: only a page is held, never the whole list. Objects being deleted are as
/// good as gone, and left out.
pub async fn for_each_live<K>(
    client: &Client,
    selector: Option<&str>,
    mut visit: impl FnMut(ObjectMeta),
) -> Result<(), kube::Error>
where
    K: Resource<DynamicType = ()> + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let api = Api::<K>::all(client.clone());
    let mut parameters = ListParams::default().limit(PAGE_SIZE);
    if let Some(selector) = selector {
        parameters = parameters.labels(selector);
    }
    loop {
        let page = api.list_metadata(&parameters).await?;
        page.items
            .into_iter()
            .filter(|object| object.metadata.deletion_timestamp.is_none())
            .for_each(|object| visit(object.metadata));
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => parameters = parameters.continue_token(&token),
            _ => return Ok(()),
        }
    }
}
