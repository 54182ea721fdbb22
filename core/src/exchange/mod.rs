//! Interoperability agreements (`DataExchange`): whether one is in force and compliant, and the
//! exact network paths it opens. Pure: the objects and the time are passed in, so the operator,
//! the CLI and the property tests judge agreements identically.

mod approval_policy;
mod decision;
mod ends;
mod network_policy;
mod ownership;

pub use approval_policy::{
    APPROVAL_POLICY, ApprovalPolicyState, approval_policy, approval_policy_binding,
    approval_policy_state,
};
pub use decision::{APPROVAL_NOT_HONOURED, APPROVALS_UNPROVEN, ExchangeDecision, SitePath, decide};
pub use ends::ExchangeObjects;
pub use network_policy::{
    EXCHANGE_LABEL, EXCHANGE_UID, ExchangeIdentity, exchange_label_value, network_policies,
    policy_name,
};
pub use ownership::{LeftAlone, PolicyRef, SitePlan, in_line, plan_site};
