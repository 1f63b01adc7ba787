//! What the report may claim about one row against another, and how it
//! says it: the tests of [`crate::significance`] turned into sentences and
//! tables.
//!
//! - The best row of an axis against every other row
//!   ([`significance_of`], Holm-corrected within the axis), written as the
//!   analysis's "better than" sentence ([`significance_sentences`]) and a
//!   table of the tests ([`significance_table`]).
//! - Single planned comparisons ([`tested_margin`]): the best trained model
//!   against PCA+KMeans, the best trained point against the best baseline,
//!   fused against the best single modality.

use std::fmt::Write as _;

use crate::report::{Row, ranked};
use crate::significance::{self, Comparison, Pairing};
use crate::spec::Column;

/// The best row against one other row of its axis.
pub(crate) struct Against<'a> {
    /// The other row's label.
    pub(crate) label: &'a str,
    /// The test, when there is one.
    pub(crate) comparison: Option<Comparison>,
}

/// The best row of an axis against every other row with values of
/// `column`, in ranking order, tested and Holm-corrected together
/// ([`crate::significance::compare`]).
pub(crate) fn significance_of<'a>(
    column: Column,
    best: &Row<'_>,
    rows: &'a [Row<'a>],
) -> Vec<Against<'a>> {
    let oriented = |row: &Row<'_>| -> Vec<(u64, f64)> {
        let sign = if column.higher_is_better().unwrap_or(true) {
            1.0
        } else {
            -1.0
        };
        let mut values = Vec::new();
        if let Some(seed_values) = row.stats.and_then(|stats| stats.seed_values.get(&column)) {
            for (seed, value) in seed_values {
                values.push((*seed, sign * value));
            }
        }
        values
    };
    let best_values = oriented(best);
    let mut labels = Vec::new();
    let mut others = Vec::new();
    for (row, _) in ranked(rows, column) {
        if row.label != best.label {
            labels.push(row.label);
            others.push(oriented(row));
        }
    }
    let other_slices: Vec<&[(u64, f64)]> = others.iter().map(Vec::as_slice).collect();
    let comparisons = significance::compare(&best_values, &other_slices);
    let mut against = Vec::new();
    for (label, comparison) in labels.into_iter().zip(comparisons) {
        against.push(Against { label, comparison });
    }
    against
}

/// `p = 0.012`, or `p < 0.001` below the printed precision: a p value in a sentence.
pub(crate) fn p_equals(p_value: f64) -> String {
    if p_value < 0.001 {
        "p < 0.001".to_owned()
    } else {
        format!("p = {p_value:.3}")
    }
}

/// A p value in a table cell: three decimals, or `< 0.001`.
pub(crate) fn format_p(p_value: f64) -> String {
    if p_value < 0.001 {
        "< 0.001".to_owned()
    } else {
        format!("{p_value:.3}")
    }
}

/// What the tests say about the best row's lead: better than whom after
/// Holm's correction, and how many seeds the other rows would need.
pub(crate) fn significance_sentences(column: Column, against: &[Against<'_>]) -> String {
    let tested: Vec<(&str, Comparison)> = against
        .iter()
        .filter_map(|entry| entry.comparison.map(|comparison| (entry.label, comparison)))
        .collect();
    if tested.is_empty() {
        return String::new();
    }
    let mut better = Vec::new();
    let mut not_shown = Vec::new();
    for (label, comparison) in &tested {
        let g = comparison
            .hedges_g
            .map_or_else(|| "n/a".to_owned(), |g| format!("{g:.2}"));
        if comparison.significant() {
            better.push(format!(
                "{label} ({}, g = {g})",
                p_equals(comparison.holm_p)
            ));
        } else {
            let needed = comparison
                .hedges_g
                .filter(|g| *g > 0.0)
                .and_then(|g| significance::seeds_for_power(g, tested.len()))
                .map_or_else(String::new, |seeds| {
                    format!("; about {seeds} seeds per row would show a lead of this size")
                });
            not_shown.push(format!(
                "{label} ({}, g = {g}{needed})",
                p_equals(comparison.holm_p)
            ));
        }
    }
    let paired = tested
        .iter()
        .all(|(_, comparison)| comparison.pairing == Pairing::Paired);
    let mut text = format!(
        " Tested on {} against the other {} row{} ({}, Holm-corrected p, Hedges' g):",
        column.name(),
        tested.len(),
        if tested.len() == 1 { "" } else { "s" },
        if paired {
            "paired t-tests by seed"
        } else {
            "paired t-tests by seed, Welch's where seeds differ"
        }
    );
    if better.is_empty() {
        let _ = write!(
            text,
            " it is not shown better than any of them: {}",
            not_shown.join(", ")
        );
    } else {
        let _ = write!(text, " it is better than {}", better.join(", "));
        if !not_shown.is_empty() {
            let _ = write!(text, "; not shown better than {}", not_shown.join(", "));
        }
    }
    text.push('.');
    text
}

/// The tests behind [`significance_sentences`], one row per compared row.
pub(crate) fn significance_table(
    column: Column,
    best_label: &str,
    against: &[Against<'_>],
) -> String {
    if against.iter().all(|entry| entry.comparison.is_none()) {
        return String::new();
    }
    let mut text = format!(
        "{best_label} against each other row on {} (two-sided; p (Holm) corrects the t-tests of this axis together):\n\n| row | test | seeds | t | p | p (Holm) | Wilcoxon p | Hedges' g |\n|---|---|---:|---:|---:|---:|---:|---:|\n",
        column.name()
    );
    for entry in against {
        let Some(comparison) = entry.comparison else {
            let _ = writeln!(
                text,
                "| {} | no test (fewer than 2 seeds or no spread) | | | | | | |",
                entry.label
            );
            continue;
        };
        let _ = writeln!(
            text,
            "| {} | {} | {} | {:.2} | {} | {}{} | {} | {} |",
            entry.label,
            match comparison.pairing {
                Pairing::Paired => "paired t",
                Pairing::Welch => "Welch t",
            },
            comparison.seeds,
            comparison.t_test.statistic,
            format_p(comparison.t_test.p_value),
            format_p(comparison.holm_p),
            if comparison.significant() { " *" } else { "" },
            comparison
                .wilcoxon
                .map_or_else(|| "-".to_owned(), |test| format_p(test.p_value)),
            comparison
                .hedges_g
                .map_or_else(|| "-".to_owned(), |g| format!("{g:.2}")),
        );
    }
    text.push('\n');
    text
}

/// How one row stands against another on a metric where higher is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Margin {
    /// Better by a two-sided test at [`significance::ALPHA`].
    Ahead,
    /// Not shown different (or no test: fewer than two seeds, no spread).
    Level,
    /// Worse by the same test.
    Behind,
}

/// One planned comparison of two rows' per-seed values (higher is
/// better): paired by seed where they share seeds, Welch's otherwise, no
/// correction. The verdict and the test's p, when there is a test.
pub(crate) fn tested_margin(left: &[(u64, f64)], right: &[(u64, f64)]) -> (Margin, Option<f64>) {
    let Some(Some(comparison)) = significance::compare(left, &[right]).into_iter().next() else {
        return (Margin::Level, None);
    };
    let margin = if comparison.holm_p >= significance::ALPHA {
        Margin::Level
    } else if comparison.t_test.statistic > 0.0 {
        Margin::Ahead
    } else {
        Margin::Behind
    };
    (margin, Some(comparison.holm_p))
}

/// ` (p = ...)` of a tested margin, empty without a test.
pub(crate) fn p_note(p_value: Option<f64>) -> String {
    p_value.map_or_else(String::new, |p| format!(" ({})", p_equals(p)))
}
