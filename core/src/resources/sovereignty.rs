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

/// Who holds the keys that encrypt data at rest, strongest first. The models are ordered: a
/// classification that requires one is satisfied by it or by any stronger one (keys in a state
/// HSM protect at least as well as keys the state manages itself, which protect at least as well
/// as keys the provider manages).
#[derive(
    Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord,
)]
pub enum KeyCustody {
    /// Keys live in an HSM the state controls; the provider cannot decrypt. The strongest.
    StateHeldHsm,
    /// Keys are the state's own, in an external key manager it runs (bring or hold your own key,
    /// BYOK/HYOK); the provider uses them but does not own them.
    CustomerManaged,
    /// Keys are managed by the site's provider. The weakest.
    ProviderManaged,
}

impl KeyCustody {
    /// Every model, strongest first.
    pub const STRONGEST_FIRST: [Self; 3] = [
        Self::StateHeldHsm,
        Self::CustomerManaged,
        Self::ProviderManaged,
    ];

    /// Whether this model, offered by a site, meets a requirement of `required`: it is that
    /// model or a stronger one.
    pub fn satisfies(self, required: Self) -> bool {
        self.strength() >= required.strength()
    }

    /// The models that meet a requirement of `self`, strongest first.
    pub fn accepted(self) -> impl Iterator<Item = Self> {
        Self::STRONGEST_FIRST
            .into_iter()
            .filter(move |offered| offered.satisfies(self))
    }

    fn strength(self) -> u8 {
        match self {
            Self::StateHeldHsm => 3,
            Self::CustomerManaged => 2,
            Self::ProviderManaged => 1,
        }
    }
}

impl std::fmt::Display for KeyCustody {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            Self::StateHeldHsm => "StateHeldHsm",
            Self::CustomerManaged => "CustomerManaged",
            Self::ProviderManaged => "ProviderManaged",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::KeyCustody::{self, CustomerManaged, ProviderManaged, StateHeldHsm};

    #[test]
    fn a_requirement_is_met_by_the_same_model_or_a_stronger_one() {
        let met = |offered: KeyCustody, required: KeyCustody| offered.satisfies(required);
        assert!(met(StateHeldHsm, ProviderManaged));
        assert!(met(StateHeldHsm, CustomerManaged));
        assert!(met(CustomerManaged, ProviderManaged));
        assert!(met(CustomerManaged, CustomerManaged));
        assert!(!met(ProviderManaged, CustomerManaged));
        assert!(!met(CustomerManaged, StateHeldHsm));
        assert_eq!(
            ProviderManaged.accepted().collect::<Vec<_>>(),
            [StateHeldHsm, CustomerManaged, ProviderManaged]
        );
        assert_eq!(StateHeldHsm.accepted().collect::<Vec<_>>(), [StateHeldHsm]);
    }
}
