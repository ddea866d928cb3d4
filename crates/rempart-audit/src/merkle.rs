//! RFC 6962 Merkle tree hashes, a compact frontier, inclusion and
//! consistency proofs.
//!
//! - Leaf hash: `SHA-256(0x00 || leaf)` and node hash:
//!   `SHA-256(0x01 || left || right)` (RFC 6962 §2.1). The empty tree's hash
//!   is `SHA-256()`.
//! - A leaf is an entry's 32-byte entry hash ([`crate::entry`]).
//! - The [`Frontier`] holds the roots of the perfect subtrees that make up a
//!   tree of size `n` (one per set bit of `n`, largest first): enough to
//!   append leaves and compute the root without the leaves themselves, and
//!   what a retention anchor keeps for a pruned prefix.
//! - Inclusion proofs are RFC 6962 §2.1.1 audit paths; they are checked with
//!   the iterative algorithm of RFC 9162 §2.1.3.2 (same tree, same paths).

use sha2::{Digest, Sha256};

use crate::entry::Hash;

/// RFC 6962 §2.1: `MTH({d(0)}) = SHA-256(0x00 || d(0))`.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(leaf);
    h.finalize().into()
}

/// RFC 6962 §2.1: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// RFC 6962 §2.1: the hash of the empty tree.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// Largest power of two strictly smaller than `n` (`n >= 2`).
fn split(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The roots of the perfect subtrees of a tree of `size` leaves, largest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    nodes: Vec<Hash>,
}

impl Frontier {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds a frontier; `None` if the node count does not match `size`.
    pub fn from_parts(size: u64, nodes: Vec<Hash>) -> Option<Self> {
        (nodes.len() == size.count_ones() as usize).then_some(Frontier { size, nodes })
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Subtree roots, largest (leftmost) first.
    pub fn nodes(&self) -> &[Hash] {
        &self.nodes
    }

    /// Appends one leaf (its input, not its leaf hash).
    pub fn push(&mut self, leaf: &[u8]) {
        let mut h = leaf_hash(leaf);
        let mut n = self.size;
        while n & 1 == 1 {
            let left = self.nodes.pop().expect("a set bit has a node");
            h = node_hash(&left, &h);
            n >>= 1;
        }
        self.nodes.push(h);
        self.size += 1;
    }

    /// The RFC 6962 Merkle tree hash of the current tree.
    pub fn root(&self) -> Hash {
        let mut iter = self.nodes.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }

    /// The range `[start, end)` of leaves each node covers.
    fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::with_capacity(self.nodes.len());
        let mut start = 0;
        for bit in (0..64).rev() {
            if self.size & (1 << bit) != 0 {
                out.push((start, start + (1 << bit)));
                start += 1 << bit;
            }
        }
        out
    }
}

/// Leaf hashes `[base, base + leaves.len())` of a tree whose prefix
/// `[0, base)` is known only through its frontier (after pruning).
pub(crate) struct PartialTree<'a> {
    pub prefix: &'a Frontier,
    pub leaves: &'a [Hash],
}

impl PartialTree<'_> {
    fn base(&self) -> u64 {
        self.prefix.size()
    }

    /// `MTH(D[lo:hi])`, or `None` if it needs a pruned hash the frontier lacks.
    fn mth(&self, lo: u64, hi: u64) -> Option<Hash> {
        let base = self.base();
        if hi <= base {
            return self
                .prefix
                .ranges()
                .iter()
                .position(|&r| r == (lo, hi))
                .map(|i| self.prefix.nodes[i]);
        }
        if hi - lo == 1 {
            return Some(self.leaves[(lo - base) as usize]);
        }
        if lo >= base && (hi - lo).is_power_of_two() {
            return Some(mth_leaf_hashes(
                &self.leaves[(lo - base) as usize..(hi - base) as usize],
            ));
        }
        let k = split(hi - lo);
        Some(node_hash(&self.mth(lo, lo + k)?, &self.mth(lo + k, hi)?))
    }

    /// RFC 6962 §2.1.1 `PATH(m, D[0:n])`.
    pub fn path(&self, m: u64, n: u64) -> Option<Vec<Hash>> {
        let mut out = Vec::new();
        self.path_rec(m, 0, n, &mut out)?;
        out.reverse();
        Some(out)
    }

    fn path_rec(&self, m: u64, lo: u64, hi: u64, out: &mut Vec<Hash>) -> Option<()> {
        if hi - lo <= 1 {
            return Some(());
        }
        let k = split(hi - lo);
        if m < lo + k {
            out.push(self.mth(lo + k, hi)?);
            self.path_rec(m, lo, lo + k, out)
        } else {
            out.push(self.mth(lo, lo + k)?);
            self.path_rec(m, lo + k, hi, out)
        }
    }

    /// RFC 6962 §2.1.2 `PROOF(m, D[0:n])`, for `0 < m < n`.
    pub fn consistency(&self, m: u64, n: u64) -> Option<Vec<Hash>> {
        let mut out = Vec::new();
        if 0 < m && m < n {
            self.subproof(m, 0, n, true, &mut out)?;
        }
        Some(out)
    }

    /// RFC 6962 §2.1.2 `SUBPROOF(m, D[lo:hi], b)`, `m` relative to `lo`.
    fn subproof(&self, m: u64, lo: u64, hi: u64, b: bool, out: &mut Vec<Hash>) -> Option<()> {
        let n = hi - lo;
        if m == n {
            if !b {
                out.push(self.mth(lo, hi)?);
            }
            return Some(());
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, lo, lo + k, b, out)?;
            out.push(self.mth(lo + k, hi)?);
        } else {
            self.subproof(m - k, lo + k, hi, false, out)?;
            out.push(self.mth(lo, lo + k)?);
        }
        Some(())
    }

    /// The root of `D[0:n]`.
    #[cfg(test)]
    pub fn root(&self, n: u64) -> Option<Hash> {
        if n == 0 {
            return Some(empty_root());
        }
        self.mth(0, n)
    }
}

/// MTH over leaf hashes (already `leaf_hash`ed).
fn mth_leaf_hashes(l: &[Hash]) -> Hash {
    match l.len() {
        0 => empty_root(),
        1 => l[0],
        n => {
            let k = split(n as u64) as usize;
            node_hash(&mth_leaf_hashes(&l[..k]), &mth_leaf_hashes(&l[k..]))
        }
    }
}

/// Checks an RFC 6962 audit path: leaf `index` of a tree of `size` leaves
/// with leaf hash `leaf` hashes to `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, path: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in path {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// Checks an RFC 6962 consistency proof: the tree of `first` leaves with
/// root `first_root` is a prefix of the tree of `second` leaves with root
/// `second_root` (RFC 9162 §2.1.4.2).
pub fn verify_consistency(
    first: u64,
    second: u64,
    first_root: &Hash,
    second_root: &Hash,
    path: &[Hash],
) -> bool {
    if first == second {
        return path.is_empty() && first_root == second_root;
    }
    if first == 0 {
        return path.is_empty();
    }
    if first > second || path.is_empty() {
        return false;
    }
    let mut path = path.to_vec();
    if first.is_power_of_two() {
        path.insert(0, *first_root);
    }
    let (mut f_n, mut s_n) = (first - 1, second - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while f_n & 1 == 0 && f_n != 0 {
                f_n >>= 1;
                s_n >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    fr == *first_root && sr == *second_root && s_n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n)
            .map(|i| Sha256::digest(i.to_be_bytes()).into())
            .collect()
    }

    /// The RFC 6962 definition, recursively, on leaf inputs.
    fn naive(l: &[Hash]) -> Hash {
        let hashed: Vec<Hash> = l.iter().map(|x| leaf_hash(x)).collect();
        mth_leaf_hashes(&hashed)
    }

    #[test]
    fn empty_tree_is_sha256_of_nothing() {
        assert_eq!(
            hex::encode(Frontier::new().root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn frontier_root_matches_definition_and_proofs_verify() {
        for n in 0..40u64 {
            let l = leaves(n);
            let mut f = Frontier::new();
            for x in &l {
                f.push(x);
            }
            assert_eq!(f.root(), naive(&l), "n={n}");
            let hashed: Vec<Hash> = l.iter().map(|x| leaf_hash(x)).collect();
            let empty = Frontier::new();
            let t = PartialTree {
                prefix: &empty,
                leaves: &hashed,
            };
            for m in 0..n {
                let p = t.path(m, n).unwrap();
                assert!(verify_inclusion(m, n, &hashed[m as usize], &p, &f.root()));
                assert!(!verify_inclusion(m, n, &hashed[m as usize], &p, &[9; 32]));
                if n > 1 {
                    let other = (m + 1) % n;
                    assert!(!verify_inclusion(
                        other,
                        n,
                        &hashed[m as usize],
                        &p,
                        &f.root()
                    ));
                }
            }
        }
    }

    #[test]
    fn consistency_proofs_verify_and_reject() {
        for n in 1..34u64 {
            let l = leaves(n);
            let hashed: Vec<Hash> = l.iter().map(|x| leaf_hash(x)).collect();
            let empty = Frontier::new();
            let t = PartialTree {
                prefix: &empty,
                leaves: &hashed,
            };
            let root_n = naive(&l);
            for m in 1..=n {
                let root_m = naive(&l[..m as usize]);
                let p = t.consistency(m, n).unwrap();
                assert!(
                    verify_consistency(m, n, &root_m, &root_n, &p),
                    "m={m} n={n}"
                );
                if m < n {
                    assert!(!verify_consistency(m, n, &[5; 32], &root_n, &p));
                    assert!(!verify_consistency(m, n, &root_m, &[5; 32], &p));
                    let mut bad = p.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_consistency(m, n, &root_m, &root_n, &bad));
                }
            }
        }
    }

    #[test]
    fn proofs_after_pruning_use_the_frontier() {
        for a in 0..20u64 {
            for n in a + 1..36 {
                let l = leaves(n);
                let hashed: Vec<Hash> = l.iter().map(|x| leaf_hash(x)).collect();
                let mut pre = Frontier::new();
                for x in &l[..a as usize] {
                    pre.push(x);
                }
                let t = PartialTree {
                    prefix: &pre,
                    leaves: &hashed[a as usize..],
                };
                let root = naive(&l);
                assert_eq!(t.root(n), Some(root), "a={a} n={n}");
                for m in a..n {
                    let p = t.path(m, n).expect("retained leaves are provable");
                    assert!(verify_inclusion(m, n, &hashed[m as usize], &p, &root));
                }
            }
        }
    }
}
