//! Revoked serials of one CA as KRL subsections: the smallest mix of serial lists,
//! ranges and bitmaps (PROTOCOL.krl §2.1-2.3), found by an exact dynamic programme.
//!
//! The serials are sorted and distinct. A plan cuts them into consecutive segments, each
//! written as one subsection (`byte type, string body`), whose exact sizes are:
//!
//! | subsection | bytes for serials `s[a..=b]` |
//! |---|---|
//! | list (0x20) | `5 + 8 * (b - a + 1)` |
//! | range (0x21) | `5 + 16`, only when `s[a..=b]` has no gap |
//! | bitmap (0x22) | `5 + 8 + 4 + ceil(bits / 8) + [bits % 8 == 0]`, `bits = s[b] - s[a] + 1` |
//!
//! The bitmap is an mpint whose bit `k` (counting from the least significant bit) revokes
//! `offset + k`; the trailing term is the zero byte an mpint needs when its top bit is set.
//! The bitmap cost simplifies to `18 + floor(bits / 8)`. OpenSSH refuses mpints longer than
//! 2048 bytes (plus that zero byte), so a bitmap spans at most [`MAX_BITMAP_BITS`] serials.
//!
//! `cost[t]`, the least size of the first `t` serials, is the minimum over the last
//! segment `s[a..=b]` (`b = t - 1`) of `cost[a] + size(a, b)`:
//! - lists: `size` is linear in `a`, so one running minimum of `cost[a] - 8a` suffices;
//! - ranges: `cost` never decreases, so the best range starts where the gap-free run does;
//! - bitmaps: with `m = s[a] - 1`, `floor((s[b] - m) / 8)` equals
//!   `floor(s[b] / 8) - floor(m / 8) - [s[b] % 8 < m % 8]`, so the candidates split into 8
//!   classes by `m % 8`, each keeping a sliding-window minimum of `cost[a] - floor(m / 8)`
//!   over the starts at most [`MAX_BITMAP_BITS`] serials back.
//!
//! That is O(n) time and memory, and the result is never larger than one plain list.

use std::collections::VecDeque;

use crate::MAX_BITMAP_BITS;

/// How one segment of the sorted serials is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// KRL_SECTION_CERT_SERIAL_LIST.
    List,
    /// KRL_SECTION_CERT_SERIAL_RANGE.
    Range,
    /// KRL_SECTION_CERT_SERIAL_BITMAP.
    Bitmap,
}

/// One subsection of a plan: serials `start..=end` (indices into the sorted serials).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Segment {
    /// The encoding.
    pub kind: Kind,
    /// Index of the first serial.
    pub start: usize,
    /// Index of the last serial.
    pub end: usize,
}

/// Exact encoded size (type byte and length prefix included) of `serials[start..=end]`
/// written as `kind`; `None` when that encoding cannot hold them. The planner's cost
/// model, spelled out; the tests hold the planner and the encoder to it.
#[cfg(test)]
pub(crate) fn segment_size(serials: &[u64], kind: Kind, start: usize, end: usize) -> Option<u64> {
    let first = *serials.get(start)?;
    let last = *serials.get(end)?;
    let count = u64::try_from(end.checked_sub(start)? + 1).ok()?;
    match kind {
        Kind::List => Some(5 + 8 * count),
        Kind::Range => (last - first + 1 == count).then_some(5 + 16),
        Kind::Bitmap => {
            let bits = last - first + 1;
            (bits <= MAX_BITMAP_BITS).then_some(18 + bits / 8)
        }
    }
}

/// A start of a bitmap still inside the window: `key = cost[a] - floor((s[a] - 1) / 8)`.
#[derive(Debug, Clone, Copy)]
struct BitmapStart {
    index: usize,
    key: i128,
}

/// The cheapest way to write `serials` (sorted, distinct, non-zero) as subsections.
pub(crate) fn plan(serials: &[u64]) -> Vec<Segment> {
    let n = serials.len();
    // cost[t]: least bytes for the first t serials; choice[t]: the last segment then.
    let mut cost: Vec<u64> = vec![0; n + 1];
    let mut choice: Vec<Segment> = Vec::with_capacity(n);
    // min over a <= b of cost[a] - 8a, and its a.
    let mut list_best: Option<(i128, usize)> = None;
    let mut run_start = 0usize;
    let mut classes: [VecDeque<BitmapStart>; 8] = Default::default();

    for (b, &last) in serials.iter().enumerate() {
        if b > 0 && serials[b - 1] + 1 != last {
            run_start = b;
        }
        let cost_b = i128::from(cost[b]);
        let b_i = b as i128;

        // Lists: a new candidate start a = b.
        let key = cost_b - 8 * b_i;
        if list_best.is_none_or(|(best, _)| key < best) {
            list_best = Some((key, b));
        }
        // Bitmaps: a new candidate start a = b, then drop the starts now too far back.
        // Callers refuse serial 0, so `m` is the serial just below the start.
        let m = last.saturating_sub(1);
        let start = BitmapStart {
            index: b,
            key: cost_b - i128::from(m / 8),
        };
        let class = &mut classes[(m % 8) as usize];
        while class.back().is_some_and(|c| c.key >= start.key) {
            class.pop_back();
        }
        class.push_back(start);
        for class in classes.iter_mut() {
            while class
                .front()
                .is_some_and(|c| last - serials[c.index] + 1 > MAX_BITMAP_BITS)
            {
                class.pop_front();
            }
        }

        let mut best = (i128::MAX, Kind::List, b);
        if let Some((key, a)) = list_best {
            best = (key + 5 + 8 * (b_i + 1), Kind::List, a);
        }
        let range = i128::from(cost[run_start]) + 21;
        if range < best.0 {
            best = (range, Kind::Range, run_start);
        }
        for (residue, class) in classes.iter().enumerate() {
            if let Some(front) = class.front() {
                let borrow = i128::from(last % 8 < residue as u64);
                let total = front.key + 18 + i128::from(last / 8) - borrow;
                if total < best.0 {
                    best = (total, Kind::Bitmap, front.index);
                }
            }
        }
        let (total, kind, start) = best;
        // Every total is a real size (at most one plain list), so it fits in u64.
        cost[b + 1] = u64::try_from(total).unwrap_or(u64::MAX);
        choice.push(Segment {
            kind,
            start,
            end: b,
        });
    }

    let mut segments = Vec::new();
    let mut t = n;
    while t > 0 {
        let segment = choice[t - 1];
        segments.push(segment);
        t = segment.start;
    }
    segments.reverse();
    segments
}

/// The mpint body (magnitude with its sign byte, no length prefix) of a bitmap whose bit
/// `k` marks `offset + k`, for sorted serials all in `offset..offset + MAX_BITMAP_BITS`.
pub(crate) fn bitmap_mpint(offset: u64, serials: &[u64]) -> Vec<u8> {
    let Some(&last) = serials.last() else {
        return Vec::new();
    };
    let bits = last - offset + 1;
    let len = bits.div_ceil(8) as usize;
    let mut magnitude = vec![0u8; len];
    for &serial in serials {
        let k = serial - offset;
        magnitude[len - 1 - (k / 8) as usize] |= 1 << (k % 8);
    }
    if magnitude.first().is_some_and(|top| top & 0x80 != 0) {
        magnitude.insert(0, 0);
    }
    magnitude
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: a fixed, dependency-free sequence for the property tests.
    struct Mix(u64);
    impl Mix {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
    }

    /// Sorted, distinct, non-zero serials in clusters of varying density.
    fn clustered(mix: &mut Mix, max_len: u64) -> Vec<u64> {
        let mut set = std::collections::BTreeSet::new();
        let len = mix.next() % max_len;
        let mut base = 1 + mix.next() % 64;
        while (set.len() as u64) < len {
            match mix.next() % 6 {
                0 => base = base.saturating_add(mix.next() % 40_000),
                1 => base = u64::MAX - mix.next() % 200,
                _ => {}
            }
            let spread = [1, 3, 16, 200][(mix.next() % 4) as usize];
            let serial = base.saturating_add(mix.next() % spread).max(1);
            set.insert(serial);
        }
        set.into_iter().collect()
    }

    /// Quadratic reference: every segment of every kind.
    fn brute_force_cost(serials: &[u64]) -> u64 {
        let n = serials.len();
        let mut cost = vec![u64::MAX; n + 1];
        cost[0] = 0;
        for end in 0..n {
            for start in 0..=end {
                for kind in [Kind::List, Kind::Range, Kind::Bitmap] {
                    if let Some(size) = segment_size(serials, kind, start, end) {
                        cost[end + 1] = cost[end + 1].min(cost[start] + size);
                    }
                }
            }
        }
        cost[n]
    }

    fn plan_cost(serials: &[u64], plan: &[Segment]) -> u64 {
        plan.iter()
            .map(|s| segment_size(serials, s.kind, s.start, s.end).unwrap())
            .sum()
    }

    fn check_covers(serials: &[u64], plan: &[Segment]) {
        let mut next = 0;
        for segment in plan {
            assert_eq!(segment.start, next, "segments must tile the serials");
            assert!(segment.end >= segment.start);
            next = segment.end + 1;
        }
        assert_eq!(next, serials.len());
    }

    #[test]
    fn empty_set_has_no_subsections() {
        assert!(plan(&[]).is_empty());
    }

    #[test]
    fn simple_shapes() {
        let one = [7];
        assert_eq!(
            plan(&one),
            vec![Segment {
                kind: Kind::List,
                start: 0,
                end: 0
            }]
        );
        let run: Vec<u64> = (100..=200).collect();
        assert_eq!(plan(&run)[0].kind, Kind::Range);
        assert_eq!(plan(&run).len(), 1);
        let sparse: Vec<u64> = (10..=40).filter(|s| s % 3 != 0).collect();
        assert_eq!(
            plan(&sparse),
            vec![Segment {
                kind: Kind::Bitmap,
                start: 0,
                end: sparse.len() - 1
            }]
        );
        let far = [1, 1_000_000, u64::MAX - 1];
        assert!(plan(&far).iter().all(|s| s.kind == Kind::List));
        assert_eq!(plan(&far).len(), 1);
    }

    #[test]
    fn bitmap_never_wider_than_openssh_reads() {
        // One bit every 8 serials: a bitmap beats anything else, but 2049 of them span
        // 16385 bits, one more than a bitmap may hold.
        for count in [2048u64, 2049] {
            let serials: Vec<u64> = (0..count).map(|k| 5 + 8 * k).collect();
            let plan = plan(&serials);
            check_covers(&serials, &plan);
            assert_eq!(plan[0].kind, Kind::Bitmap);
            for s in &plan {
                assert!(serials[s.end] - serials[s.start] < MAX_BITMAP_BITS);
            }
            // 2049: the widest bitmap, then the last serial alone in a list.
            assert_eq!(plan.len(), if count == 2048 { 1 } else { 2 });
        }
    }

    #[test]
    fn mpint_bit_order_and_sign_byte() {
        // Bits 0 and 2 -> 0b101.
        assert_eq!(bitmap_mpint(10, &[10, 12]), vec![0x05]);
        // Bit 7 alone would read as negative: a zero byte goes first.
        assert_eq!(bitmap_mpint(10, &[10, 17]), vec![0x00, 0x81]);
        // Bit 8 starts a second, more significant byte.
        assert_eq!(bitmap_mpint(10, &[10, 18]), vec![0x01, 0x01]);
        let top = u64::MAX;
        assert_eq!(bitmap_mpint(top - 1, &[top - 1, top]), vec![0x03]);
    }

    #[test]
    fn sizes_match_the_model() {
        // bits % 8 == 0 needs the sign byte: 1 + 4 + 8 + 4 + 1 + 1.
        let serials = [3, 10];
        assert_eq!(segment_size(&serials, Kind::Bitmap, 0, 1), Some(19));
        assert_eq!(4 + 8 + 4 + bitmap_mpint(3, &serials).len() as u64 + 1, 19);
        assert_eq!(segment_size(&serials, Kind::Range, 0, 1), None);
        assert_eq!(segment_size(&[4, 5, 6], Kind::Range, 0, 2), Some(21));
    }

    #[test]
    fn plans_are_optimal_and_never_beat_by_a_list() {
        let mut mix = Mix(0x6a69_745f_6b72_6c00);
        for _ in 0..300 {
            let serials = clustered(&mut mix, 60);
            let plan = plan(&serials);
            check_covers(&serials, &plan);
            let cost = plan_cost(&serials, &plan);
            assert_eq!(cost, brute_force_cost(&serials), "{serials:?}");
            if !serials.is_empty() {
                assert!(cost <= 5 + 8 * serials.len() as u64);
            }
            for s in &plan {
                assert!(segment_size(&serials, s.kind, s.start, s.end).is_some());
            }
        }
    }

    #[test]
    fn large_dense_sets_plan_quickly() {
        let mut mix = Mix(7);
        let serials: Vec<u64> = (1..=400_000u64)
            .filter(|_| !mix.next().is_multiple_of(3))
            .collect();
        let plan = plan(&serials);
        check_covers(&serials, &plan);
        assert!(plan_cost(&serials, &plan) < 400_000 / 8 + 18 * 30);
    }
}
