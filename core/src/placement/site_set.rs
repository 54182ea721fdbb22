//! A set of sites as bits, one per site in the snapshot's order (by name): what the compiled
//! engine precomputes per classification, tenant and rule, and combines word by word.

/// Sites by index; bit `i` of word `i / 64` is site `i`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteSet {
    words: Vec<u64>,
}

impl SiteSet {
    /// No site out of `sites`.
    pub fn none(sites: usize) -> Self {
        Self {
            words: vec![0; sites.div_ceil(64)],
        }
    }

    /// Every one of `sites`.
    pub fn all(sites: usize) -> Self {
        let mut set = Self::none(sites);
        for site in 0..sites {
            set.insert(site);
        }
        set
    }

    /// The sites for which `member` holds, out of `sites`.
    pub fn from_fn(sites: usize, member: impl Fn(usize) -> bool) -> Self {
        let mut set = Self::none(sites);
        for site in (0..sites).filter(|site| member(*site)) {
            set.insert(site);
        }
        set
    }

    pub fn insert(&mut self, site: usize) {
        self.words[site / 64] |= 1 << (site % 64);
    }

    pub fn contains(&self, site: usize) -> bool {
        self.words
            .get(site / 64)
            .is_some_and(|word| word & (1 << (site % 64)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::SiteSet;

    #[test]
    fn membership_across_word_boundaries() {
        let set = SiteSet::from_fn(130, |site| site % 63 == 0);
        let members: Vec<usize> = (0..130).filter(|site| set.contains(*site)).collect();
        assert_eq!(members, [0, 63, 126]);
        assert!(!set.contains(500), "outside the set is not a member");
        assert!((0..130).all(|site| SiteSet::all(130).contains(site)));
        assert!((0..130).all(|site| !SiteSet::none(130).contains(site)));
    }
}
