//! Significance of a difference between two rows of a study, across seeds.
//!
//! The report compares the best row of each axis with every other row on
//! the axis's primary metric ([`compare`]):
//!
//! - rows that share at least two completed seeds are paired by seed: the
//!   paired t-test on the shared seeds (`scipy.stats.ttest_rel`) and, beside
//!   it, the Wilcoxon signed-rank test (`scipy.stats.wilcoxon`, its defaults);
//! - otherwise Welch's t-test on all completed seeds
//!   (`scipy.stats.ttest_ind(equal_var=False)`);
//! - the effect size is Hedges' g on all completed seeds of both rows
//!   (Cohen's d with the pooled sample standard deviation, times the small
//!   sample correction `1 - 3 / (4 (n1 + n2) - 9)`);
//! - the t-tests' p values of one axis are corrected together with Holm's
//!   step-down method ([`holm`]); a lead is called significant when its
//!   corrected p is below [`ALPHA`].
//!
//! All tests are two-sided. Where a difference is not significant,
//! [`seeds_for_power`] estimates how many seeds per row a test at the
//! axis's strictest Holm level would need to detect the observed effect
//! with 80% power.
//!
//! Wilcoxon p values follow scipy 1.17's `method="auto"`: the exact null
//! distribution of the signed-rank statistic without ties or zero
//! differences (up to 50 pairs), the exact permutation distribution
//! (all 2^n sign flips) with ties or zeros up to 13 pairs, and the normal
//! approximation with tie correction and no continuity correction
//! otherwise. Zero differences are dropped (`zero_method="wilcox"`). With
//! five pairs the smallest two-sided Wilcoxon p is 0.0625, which is why the
//! t-test decides and the Wilcoxon test is reported beside it.
//!
//! Reference values: `fixtures/reference/significance/` (`make_reference.py`,
//! scipy 1.17.1), checked by `crates/sweep/tests/significance.rs`.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::aggregate::summarise;

/// Level of the corrected tests.
pub const ALPHA: f64 = 0.05;

/// Power that [`seeds_for_power`] plans for.
pub const POWER: f64 = 0.8;

/// A test's statistic and two-sided p value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TestResult {
    /// The t statistic (t-tests) or `min(W+, W-)` (Wilcoxon), as scipy reports it.
    pub statistic: f64,
    /// Two-sided p value.
    pub p_value: f64,
}

/// Which t-test compared two rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pairing {
    /// Paired by seed (`ttest_rel`), on the shared seeds.
    Paired,
    /// Welch's unequal-variance test (`ttest_ind(equal_var=False)`).
    Welch,
}

/// The best row of an axis against one other row.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    /// Which t-test was used.
    pub pairing: Pairing,
    /// Seeds that entered the t-test (shared seeds when paired, both rows' otherwise).
    pub seeds: usize,
    /// The t-test.
    pub t_test: TestResult,
    /// The Wilcoxon signed-rank test on the shared seeds (paired rows only).
    pub wilcoxon: Option<TestResult>,
    /// Hedges' g of best minus other, in the metric's direction of better.
    pub hedges_g: Option<f64>,
    /// The t-test's p value after Holm's correction within the axis.
    pub holm_p: f64,
}

impl Comparison {
    /// Whether the corrected t-test says the best row is better.
    #[must_use]
    pub fn significant(&self) -> bool {
        self.holm_p < ALPHA && self.t_test.statistic > 0.0
    }
}

/// Per-seed values of one row: `(seed, value)`, any order, distinct seeds.
pub type SeedValues<'a> = &'a [(u64, f64)];

/// Compares `best` with each of `others` on values oriented so that higher
/// is better (negate a lower-is-better metric first), then corrects the
/// t-tests together ([`holm`]). `None` where a comparison has no test: a
/// row with fewer than two values, or no variation at all.
#[must_use]
pub fn compare(best: SeedValues<'_>, others: &[SeedValues<'_>]) -> Vec<Option<Comparison>> {
    let mut comparisons: Vec<Option<Comparison>> = Vec::new();
    for other in others {
        comparisons.push(compare_one(best, other));
    }
    let mut p_values = Vec::new();
    for comparison in comparisons.iter().flatten() {
        p_values.push(comparison.t_test.p_value);
    }
    let corrected = holm(&p_values);
    for (comparison, holm_p) in comparisons.iter_mut().flatten().zip(corrected) {
        comparison.holm_p = holm_p;
    }
    comparisons
}

fn compare_one(best: SeedValues<'_>, other: SeedValues<'_>) -> Option<Comparison> {
    let mut best_shared = Vec::new();
    let mut other_shared = Vec::new();
    for (seed, value) in best {
        for (other_seed, other_value) in other {
            if seed == other_seed {
                best_shared.push(*value);
                other_shared.push(*other_value);
            }
        }
    }
    let best_values: Vec<f64> = best.iter().map(|(_, value)| *value).collect();
    let other_values: Vec<f64> = other.iter().map(|(_, value)| *value).collect();
    let hedges_g = hedges_g(&best_values, &other_values);
    if best_shared.len() >= 2 {
        // Rows that share seeds are compared pair by pair; identical
        // pairs have no test (not a Welch test of the same values).
        let t_test = paired_t_test(&best_shared, &other_shared)?;
        return Some(Comparison {
            pairing: Pairing::Paired,
            seeds: best_shared.len(),
            t_test,
            wilcoxon: wilcoxon(&best_shared, &other_shared),
            hedges_g,
            holm_p: t_test.p_value,
        });
    }
    let t_test = welch_t_test(&best_values, &other_values)?;
    Some(Comparison {
        pairing: Pairing::Welch,
        seeds: best_values.len() + other_values.len(),
        t_test,
        wilcoxon: None,
        hedges_g,
        holm_p: t_test.p_value,
    })
}

/// Mean and sample variance (n - 1) of at least two values, by the
/// report's one summary of seeds ([`summarise`]).
fn mean_and_variance(values: &[f64]) -> (f64, f64) {
    summarise(values).map_or((f64::NAN, f64::NAN), |summary| {
        (summary.mean, summary.std * summary.std)
    })
}

fn student_two_sided(statistic: f64, degrees_of_freedom: f64) -> f64 {
    if statistic.is_infinite() {
        return 0.0;
    }
    let Ok(distribution) = StudentsT::new(0.0, 1.0, degrees_of_freedom) else {
        return f64::NAN;
    };
    (2.0 * distribution.sf(statistic.abs())).min(1.0)
}

fn normal_two_sided(statistic: f64) -> f64 {
    let standard = Normal::standard();
    (2.0 * standard.sf(statistic.abs())).min(1.0)
}

/// A difference without spread: certain where it is not zero (scipy's
/// `t = ±inf`, `p = 0`), untestable where it is.
fn constant_difference(difference: f64) -> Option<TestResult> {
    if difference == 0.0 {
        return None;
    }
    Some(TestResult {
        statistic: difference.signum() * f64::INFINITY,
        p_value: 0.0,
    })
}

/// Welch's t-test of `first` against `second` (`ttest_ind(equal_var=False)`).
/// `None` with fewer than two values in either, or both constant and equal.
#[must_use]
pub fn welch_t_test(first: &[f64], second: &[f64]) -> Option<TestResult> {
    if first.len() < 2 || second.len() < 2 {
        return None;
    }
    let (first_mean, first_variance) = mean_and_variance(first);
    let (second_mean, second_variance) = mean_and_variance(second);
    let first_share = first_variance / first.len() as f64;
    let second_share = second_variance / second.len() as f64;
    let standard_error_squared = first_share + second_share;
    if standard_error_squared <= 0.0 {
        // Both rows constant: scipy's infinite t (p = 0) where the means
        // differ, no test where they are the same.
        return constant_difference(first_mean - second_mean);
    }
    let statistic = (first_mean - second_mean) / standard_error_squared.sqrt();
    let degrees_of_freedom = standard_error_squared * standard_error_squared
        / (first_share * first_share / (first.len() as f64 - 1.0)
            + second_share * second_share / (second.len() as f64 - 1.0));
    Some(TestResult {
        statistic,
        p_value: student_two_sided(statistic, degrees_of_freedom),
    })
}

/// The paired t-test of `first` against `second`, pair by pair
/// (`ttest_rel`). `None` with fewer than two pairs or all differences zero.
#[must_use]
pub fn paired_t_test(first: &[f64], second: &[f64]) -> Option<TestResult> {
    if first.len() != second.len() || first.len() < 2 {
        return None;
    }
    let mut differences = Vec::with_capacity(first.len());
    for (left, right) in first.iter().zip(second) {
        differences.push(left - right);
    }
    let (mean, variance) = mean_and_variance(&differences);
    if variance <= 0.0 {
        return constant_difference(mean);
    }
    let statistic = mean / (variance / differences.len() as f64).sqrt();
    Some(TestResult {
        statistic,
        p_value: student_two_sided(statistic, differences.len() as f64 - 1.0),
    })
}

/// Average ranks (1-based) of `values`, and the size of each group of tied
/// values (1 for a value tied with none).
// Ties are exact equality, as scipy's `rankdata` defines them.
#[allow(clippy::float_cmp)]
fn average_ranks(values: &[f64]) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|left, right| values[*left].total_cmp(&values[*right]));
    let mut ranks = vec![0.0; values.len()];
    let mut tie_sizes = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && values[order[end]] == values[order[start]] {
            end += 1;
        }
        tie_sizes.push(end - start);
        // Positions start..end hold ranks start+1 ..= end.
        let rank = (start + 1 + end) as f64 / 2.0;
        for position in start..end {
            ranks[order[position]] = rank;
        }
        start = end;
    }
    (ranks, tie_sizes)
}

/// Counts of each value of the signed-rank statistic `W+` for `count`
/// pairs without ties: `counts[w]` is the number of the `2^count` sign
/// patterns whose positive ranks add up to `w`.
fn signed_rank_counts(count: usize) -> Vec<f64> {
    let maximum = count * (count + 1) / 2;
    let mut counts = vec![0.0; maximum + 1];
    counts[0] = 1.0;
    for rank in 1..=count {
        for total in (rank..=maximum).rev() {
            counts[total] += counts[total - rank];
        }
    }
    counts
}

/// The Wilcoxon signed-rank test of `first` against `second`
/// (`scipy.stats.wilcoxon(first, second)`, its defaults). `None` with
/// fewer than one non-zero difference or unequal lengths.
#[must_use]
pub fn wilcoxon(first: &[f64], second: &[f64]) -> Option<TestResult> {
    if first.len() != second.len() {
        return None;
    }
    let mut differences = Vec::new();
    let mut zeros = 0;
    for (left, right) in first.iter().zip(second) {
        let difference = left - right;
        if difference == 0.0 {
            zeros += 1;
        } else {
            differences.push(difference);
        }
    }
    if differences.is_empty() {
        return None;
    }
    let magnitudes: Vec<f64> = differences.iter().map(|value| value.abs()).collect();
    let (ranks, tie_sizes) = average_ranks(&magnitudes);
    let has_ties = tie_sizes.iter().any(|size| *size > 1);
    let mut positive = 0.0;
    let mut negative = 0.0;
    for (difference, rank) in differences.iter().zip(&ranks) {
        if *difference > 0.0 {
            positive += rank;
        } else {
            negative += rank;
        }
    }
    let statistic = positive.min(negative);
    let count = differences.len();
    // scipy decides on the number of pairs before zeros are dropped.
    let pairs = first.len();
    let p_value = if pairs <= 50 && !has_ties && zeros == 0 {
        exact_signed_rank_p(positive, count)
    } else if pairs <= 13 {
        permutation_signed_rank_p(positive, &ranks)
    } else {
        asymptotic_signed_rank_p(positive, &tie_sizes, count)
    };
    Some(TestResult { statistic, p_value })
}

fn exact_signed_rank_p(positive: f64, count: usize) -> f64 {
    let counts = signed_rank_counts(count);
    let total: f64 = counts.iter().sum();
    let observed = positive.round() as usize;
    let mut at_most = 0.0;
    let mut at_least = 0.0;
    for (value, frequency) in counts.iter().enumerate() {
        if value <= observed {
            at_most += frequency;
        }
        if value >= observed {
            at_least += frequency;
        }
    }
    (2.0 * (at_most / total).min(at_least / total)).clamp(0.0, 1.0)
}

/// Two-sided p of `W+` over all sign flips of the (tied) ranks, as scipy's
/// `permutation_test` computes it when it can enumerate every flip.
fn permutation_signed_rank_p(positive: f64, ranks: &[f64]) -> f64 {
    let patterns = 1_usize << ranks.len();
    let mut statistics = Vec::with_capacity(patterns);
    for pattern in 0..patterns {
        let mut sum = 0.0;
        for (index, rank) in ranks.iter().enumerate() {
            if pattern & (1 << index) != 0 {
                sum += rank;
            }
        }
        statistics.push(sum);
    }
    // scipy counts null values within 100 machine epsilons of the observed one as equal.
    let tolerance = (f64::EPSILON * 100.0 * positive).abs();
    let mut at_most = 0.0;
    let mut at_least = 0.0;
    for statistic in &statistics {
        if *statistic <= positive + tolerance {
            at_most += 1.0;
        }
        if *statistic >= positive - tolerance {
            at_least += 1.0;
        }
    }
    let total = patterns as f64;
    (2.0 * (at_most / total).min(at_least / total)).min(1.0)
}

/// The normal approximation with scipy's tie correction (`tie_sizes` from
/// [`average_ranks`]) and no continuity correction.
fn asymptotic_signed_rank_p(positive: f64, tie_sizes: &[usize], count: usize) -> f64 {
    let count = count as f64;
    let mean = count * (count + 1.0) / 4.0;
    let mut tie_correction = 0.0;
    for size in tie_sizes {
        let tied = *size as f64;
        tie_correction += tied * tied * tied - tied;
    }
    let variance = (count * (count + 1.0) * (2.0 * count + 1.0) - tie_correction / 2.0) / 24.0;
    if variance <= 0.0 {
        return 1.0;
    }
    normal_two_sided((positive - mean) / variance.sqrt())
}

/// Hedges' g of `first` minus `second`: Cohen's d with the pooled sample
/// standard deviation, times `1 - 3 / (4 (n1 + n2) - 9)`. `None` with
/// fewer than two values in either or no spread in both.
#[must_use]
pub fn hedges_g(first: &[f64], second: &[f64]) -> Option<f64> {
    if first.len() < 2 || second.len() < 2 {
        return None;
    }
    let (first_mean, first_variance) = mean_and_variance(first);
    let (second_mean, second_variance) = mean_and_variance(second);
    let first_count = first.len() as f64;
    let second_count = second.len() as f64;
    let pooled = ((first_count - 1.0) * first_variance + (second_count - 1.0) * second_variance)
        / (first_count + second_count - 2.0);
    if pooled <= 0.0 {
        return None;
    }
    let correction = 1.0 - 3.0 / (4.0 * (first_count + second_count) - 9.0);
    Some(correction * (first_mean - second_mean) / pooled.sqrt())
}

/// Holm's step-down correction of `p_values` (as `statsmodels`'
/// `multipletests(method="holm")`), in the input order.
#[must_use]
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let count = p_values.len();
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by(|left, right| p_values[*left].total_cmp(&p_values[*right]));
    let mut corrected = vec![0.0; count];
    let mut running_maximum: f64 = 0.0;
    for (position, index) in order.iter().enumerate() {
        let scaled = ((count - position) as f64 * p_values[*index]).min(1.0);
        running_maximum = running_maximum.max(scaled);
        corrected[*index] = running_maximum;
    }
    corrected
}

/// Seeds per row that a two-sided test at level `ALPHA / comparisons`
/// (Holm's strictest step) would need to detect an effect of size
/// `effect` (Hedges' g) between two rows with [`POWER`]: the smallest
/// `n >= 3` with `P(T > t_crit - g sqrt(n / 2)) >= POWER`, `T` Student's t
/// with `2n - 2` degrees of freedom (the shifted central t, a close
/// approximation of the noncentral t's power). `None` for a zero or
/// non-finite effect, or beyond 10,000 seeds.
#[must_use]
pub fn seeds_for_power(effect: f64, comparisons: usize) -> Option<usize> {
    if !effect.is_finite() || effect == 0.0 {
        return None;
    }
    let level = ALPHA / comparisons.max(1) as f64;
    for seeds in 3..=10_000_usize {
        let degrees_of_freedom = 2.0 * seeds as f64 - 2.0;
        let Ok(distribution) = StudentsT::new(0.0, 1.0, degrees_of_freedom) else {
            return None;
        };
        let critical = distribution.inverse_cdf(1.0 - level / 2.0);
        let shift = effect.abs() * (seeds as f64 / 2.0).sqrt();
        if distribution.sf(critical - shift) >= POWER {
            return Some(seeds);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_steps_down_and_keeps_order() {
        // statsmodels multipletests([0.01, 0.04, 0.03, 0.5], method="holm")[1]
        let corrected = holm(&[0.01, 0.04, 0.03, 0.5]);
        let expected = [0.04, 0.09, 0.09, 0.5];
        for (value, want) in corrected.iter().zip(expected) {
            assert!((value - want).abs() < 1e-12, "{corrected:?}");
        }
    }

    #[test]
    fn signed_rank_counts_add_up_to_every_sign_pattern() {
        let counts = signed_rank_counts(5);
        assert_eq!(counts.len(), 16);
        assert!((counts.iter().sum::<f64>() - 32.0).abs() < 1e-12);
        assert!((counts[0] - 1.0).abs() < 1e-12 && (counts[15] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn constant_rows_have_no_test() {
        assert!(welch_t_test(&[1.0, 1.0], &[1.0, 1.0]).is_none());
        assert!(paired_t_test(&[1.0, 2.0], &[1.0, 2.0]).is_none());
        let certain = paired_t_test(&[1.0, 2.0], &[0.0, 1.0]).unwrap();
        assert!(certain.statistic.is_infinite() && certain.p_value == 0.0);
        assert!(compare(&[(0, 1.0), (1, 2.0)], &[&[(0, 1.0), (1, 2.0)]])[0].is_none());
        assert!(wilcoxon(&[1.0, 2.0], &[1.0, 2.0]).is_none());
        assert!(hedges_g(&[1.0], &[1.0, 2.0]).is_none());
        assert!(seeds_for_power(0.0, 3).is_none());
    }
}
