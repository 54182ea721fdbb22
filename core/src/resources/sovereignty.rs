//! Who controls a site and who holds the keys: the two facts residency law cares about most.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How much of a site the state controls, from most to least sovereign.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub enum SovereigntyTier {
    /// Run by the state in its own data centre.
    StateOwned,
    /// Run by a provider incorporated in, and answerable to, the country.
    NationalProvider,
    /// A public-cloud region of a foreign provider (even when the region is in the country).
    ForeignPublic,
}

impl SovereigntyTier {
    /// Higher is more sovereign: used by the `sovereignty` preference when scoring.
    pub fn sovereignty_score(self) -> u32 {
        match self {
            Self::StateOwned => 100,
            Self::NationalProvider => 60,
            Self::ForeignPublic => 0,
        }
    }
}

impl std::fmt::Display for SovereigntyTier {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::StateOwned => "StateOwned",
            Self::NationalProvider => "NationalProvider",
            Self::ForeignPublic => "ForeignPublic",
        })
    }
}

/// Who holds the keys that encrypt data at rest.
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub enum KeyCustody {
    /// Keys live in an HSM the state controls; the provider cannot decrypt.
    StateHeldHsm,
    /// Keys are managed by the site's provider.
    ProviderManaged,
}

impl std::fmt::Display for KeyCustody {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::StateHeldHsm => "StateHeldHsm",
            Self::ProviderManaged => "ProviderManaged",
        })
    }
}
