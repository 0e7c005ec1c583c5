//! An append-only Merkle tree kept in memory: cheap appends, O(log n) heads of any earlier
//! size, and proofs without rehashing the log.

use super::{check_index, check_size, node_hash, path, split, subproof, Hash, EMPTY_ROOT};
use super::{ConsistencyProof, InclusionProof};
use crate::{Entry, Result};

/// An incrementally built tree over appended leaf hashes.
///
/// It stores every complete ("perfect") subtree head: level 0 holds the leaf hashes,
/// level `k` the heads of the aligned subtrees of `2^k` leaves. An append hashes only the
/// subtrees it completes (amortised one hash), the last head of each odd-length level is
/// the compact-range frontier, and every subtree the RFC recursion asks for is either
/// stored or assembled from O(log n) stored heads. Memory is about two hashes per leaf.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    /// `levels[k][i]` = head of leaves `[i * 2^k, (i + 1) * 2^k)`.
    levels: Vec<Vec<Hash>>,
}

impl Tree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree over the leaves of `entries`, in order (leaf `i` = the entry at position `i`).
    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a Entry>) -> Self {
        entries.into_iter().map(super::entry_leaf_hash).collect()
    }

    /// Append a leaf hash.
    pub fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let nodes = &mut self.levels[level];
            nodes.push(carry);
            if nodes.len() % 2 == 1 {
                break;
            }
            let n = nodes.len();
            carry = node_hash(&nodes[n - 2], &nodes[n - 1]);
            level += 1;
        }
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        u64::try_from(self.leaves().len()).unwrap_or(u64::MAX)
    }

    /// The current tree head.
    pub fn root(&self) -> Hash {
        self.subtree(0, self.size())
    }

    /// The leaf hashes, in order.
    pub fn leaves(&self) -> &[Hash] {
        self.levels.first().map(Vec::as_slice).unwrap_or_default()
    }

    /// The head the tree had when it held `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash> {
        check_size(size, self.size())?;
        Ok(self.subtree(0, size))
    }

    /// Inclusion proof for leaf `index` in the current tree.
    pub fn inclusion_proof(&self, index: u64) -> Result<InclusionProof> {
        self.inclusion_proof_at(index, self.size())
    }

    /// Inclusion proof for leaf `index` in the tree as it was at `tree_size` leaves (for a
    /// client holding an older checkpoint).
    pub fn inclusion_proof_at(&self, index: u64, tree_size: u64) -> Result<InclusionProof> {
        check_size(tree_size, self.size())?;
        check_index(index, tree_size)?;
        Ok(InclusionProof {
            index,
            tree_size,
            path: path(index, tree_size, &|start, end| self.subtree(start, end)),
        })
    }

    /// Consistency proof from the tree at `old_size` leaves to the current tree.
    pub fn consistency_proof(&self, old_size: u64) -> Result<ConsistencyProof> {
        self.consistency_proof_between(old_size, self.size())
    }

    /// Consistency proof from the tree at `old_size` leaves to the tree at `new_size`.
    pub fn consistency_proof_between(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<ConsistencyProof> {
        check_size(new_size, self.size())?;
        check_size(old_size, new_size)?;
        Ok(ConsistencyProof {
            old_size,
            new_size,
            path: subproof(old_size, new_size, &|start, end| self.subtree(start, end)),
        })
    }

    /// `MTH(D[start:end])` for a subtree the RFC recursion can ask for: `end <= size`, and
    /// a power-of-two-sized range starts at a multiple of its size. Every range that
    /// recursion produces from `[0, n)` is of that kind.
    fn subtree(&self, start: u64, end: u64) -> Hash {
        let n = end - start;
        if n == 0 {
            return EMPTY_ROOT;
        }
        if n.is_power_of_two() {
            let level = n.trailing_zeros() as usize;
            let index = usize::try_from(start >> level).unwrap_or(usize::MAX);
            if let Some(head) = self.levels.get(level).and_then(|nodes| nodes.get(index)) {
                return *head;
            }
        }
        let mid = start + split(n);
        node_hash(&self.subtree(start, mid), &self.subtree(mid, end))
    }
}

impl Extend<Hash> for Tree {
    fn extend<I: IntoIterator<Item = Hash>>(&mut self, leaves: I) {
        for leaf in leaves {
            self.push(leaf);
        }
    }
}

impl FromIterator<Hash> for Tree {
    fn from_iter<I: IntoIterator<Item = Hash>>(leaves: I) -> Self {
        let mut tree = Tree::new();
        tree.extend(leaves);
        tree
    }
}

#[cfg(test)]
mod tests {
    use super::super::{leaf_hash, root_from_leaf_hashes};
    use super::*;

    #[test]
    fn default_and_new_are_the_same_empty_tree() {
        assert_eq!(Tree::default(), Tree::new());
        assert_eq!(Tree::new().root(), EMPTY_ROOT);
        assert_eq!(Tree::new().size(), 0);
        assert!(Tree::new().leaves().is_empty());
        assert_eq!(Tree::new().root_at(0).expect("size 0"), EMPTY_ROOT);
        assert!(Tree::new().root_at(1).is_err());
    }

    #[test]
    fn stored_levels_hold_the_perfect_subtrees() {
        let leaves: Vec<Hash> = (0u32..13).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let tree: Tree = leaves.iter().copied().collect();
        for (level, nodes) in tree.levels.iter().enumerate() {
            let width = 1usize << level;
            assert_eq!(nodes.len(), leaves.len() / width, "level {level}");
            for (i, node) in nodes.iter().enumerate() {
                let range = &leaves[i * width..(i + 1) * width];
                assert_eq!(
                    *node,
                    root_from_leaf_hashes(range),
                    "level {level} node {i}"
                );
            }
        }
    }
}
