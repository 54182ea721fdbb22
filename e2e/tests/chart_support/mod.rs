//! What the chart tests share: the test tools (helm, kubeconform) and the local schemas kubeconform
//! validates against.

pub mod schemas;
pub mod tools;
