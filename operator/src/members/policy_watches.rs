//! Watches of Soberana's residency policies and bindings on each member, so that one deleted or
//! edited there (a binding given a `namespaceSelector`, a policy given a `matchConditions` that
//! switches it off) is put back within seconds, not at the next residency scan. Each watch only
//! wakes the site's residency reconcile, which judges and repairs; our own writes wake it too,
//! and find the policies in force.

use soberana_runtime::locking::lock;
use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::StreamExt;
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingAdmissionPolicy, ValidatingAdmissionPolicyBinding,
};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use soberana_core::resources::site::Site;
use soberana_core::tenancy::labels;
use tokio::sync::mpsc;

/// One running watch per site, keyed by the connection it was started with.
pub struct MemberPolicyWatches {
    running: Mutex<BTreeMap<String, (String, tokio::task::JoinHandle<()>)>>,
    sender: mpsc::UnboundedSender<ObjectRef<Site>>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<ObjectRef<Site>>>>,
}

impl std::fmt::Debug for MemberPolicyWatches {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sites: Vec<String> = lock(&self.running).keys().cloned().collect();
        formatter
            .debug_struct("MemberPolicyWatches")
            .field("sites", &sites)
            .finish()
    }
}

impl Default for MemberPolicyWatches {
    fn default() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            running: Mutex::new(BTreeMap::new()),
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }
}

impl MemberPolicyWatches {
    /// Makes sure `site`'s policies are watched with `client`; `connection` names the version of
    /// the credentials the client was built from, so that new credentials restart the watch.
    pub fn ensure(&self, site: &str, connection: &str, client: &Client) {
        let mut running = lock(&self.running);
        if let Some((watched, task)) = running.get(site)
            && watched == connection
            && !task.is_finished()
        {
            return;
        }
        if let Some((_, task)) = running.remove(site) {
            task.abort();
        }
        let task = tokio::spawn(watch_site(
            site.to_owned(),
            client.clone(),
            self.sender.clone(),
        ));
        running.insert(site.to_owned(), (connection.to_owned(), task));
    }

    /// Stops watching a site that is gone.
    pub fn forget(&self, site: &str) {
        if let Some((_, task)) = lock(&self.running).remove(site) {
            task.abort();
        }
    }

    /// The sites whose policies changed, for the residency controller (taken once).
    pub fn take_changes(&self) -> Option<mpsc::UnboundedReceiver<ObjectRef<Site>>> {
        lock(&self.receiver).take()
    }
}

impl Drop for MemberPolicyWatches {
    fn drop(&mut self) {
        for (_, task) in lock(&self.running).values() {
            task.abort();
        }
    }
}

/// Sends the site's reference whenever one of its Soberana policies or bindings is changed or
/// deleted after the watch started (the initial listing wakes nobody).
async fn watch_site(site: String, client: Client, sender: mpsc::UnboundedSender<ObjectRef<Site>>) {
    let config =
        watcher::Config::default().labels(&format!("{}={}", labels::MANAGED_BY, labels::MANAGER));
    let policies = watcher(
        Api::<ValidatingAdmissionPolicy>::all(client.clone()),
        config.clone(),
    )
    .default_backoff()
    .map(|event| event.map(|event| changed(&event)));
    let bindings = watcher(Api::<ValidatingAdmissionPolicyBinding>::all(client), config)
        .default_backoff()
        .map(|event| event.map(|event| changed(&event)));
    let mut events = std::pin::pin!(futures::stream::select(policies, bindings));
    while let Some(event) = events.next().await {
        match event {
            Ok(true) => {
                if sender.send(ObjectRef::new(&site)).is_err() {
                    return;
                }
            }
            Ok(false) => {}
            Err(error) => {
                tracing::debug!(%site, %error, "watching the residency policies failed; retrying");
            }
        }
    }
}

/// Whether a watch event is a change after the initial listing.
fn changed<K>(event: &watcher::Event<K>) -> bool {
    matches!(event, watcher::Event::Apply(_) | watcher::Event::Delete(_))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_changes_after_the_initial_listing_wake_the_site() {
        let policy = ValidatingAdmissionPolicy::default();
        assert!(changed(&watcher::Event::Apply(policy.clone())));
        assert!(changed(&watcher::Event::Delete(policy.clone())));
        assert!(!changed(&watcher::Event::InitApply(policy)));
        assert!(!changed(&watcher::Event::<ValidatingAdmissionPolicy>::Init));
        assert!(!changed(
            &watcher::Event::<ValidatingAdmissionPolicy>::InitDone
        ));
    }
}
