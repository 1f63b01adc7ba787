//! Label encoding: any ordered label type (strings, integers) to dense ids.
//!
//! Scores take cluster ids as `&[usize]`. Labels read from files are text
//! ("rock", "pop", ...); [`encode_labels`] turns them into ids the way
//! scikit-learn's `LabelEncoder` does (classes sorted, id = rank), so the
//! scores see exactly the partition scikit-learn sees.

/// Labels turned into dense ids `0..classes.len()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedLabels<T> {
    /// The id of each sample, in input order.
    pub ids: Vec<usize>,
    /// The distinct labels, sorted; `classes[id]` is the original label.
    pub classes: Vec<T>,
}

impl<T> EncodedLabels<T> {
    /// Number of samples carrying each id, indexed by id.
    #[must_use]
    pub fn counts(&self) -> Vec<usize> {
        let mut counts = vec![0_usize; self.classes.len()];
        for &id in &self.ids {
            counts[id] += 1;
        }
        counts
    }
}

/// Encodes labels as dense ids ordered like the sorted distinct labels.
///
/// Works for `String`, `&str`, integers or any `Ord + Clone` type; the ids are
/// the rank of each label among the distinct labels (as scikit-learn's
/// `LabelEncoder`), so ids `[5, 9, 5]` become `[0, 1, 0]`.
#[must_use]
pub fn encode_labels<T: Ord + Clone>(labels: &[T]) -> EncodedLabels<T> {
    let mut classes: Vec<T> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let mut ids = Vec::with_capacity(labels.len());
    for label in labels {
        // The label is in `classes` by construction, so the search always finds it.
        let id = classes.binary_search(label).unwrap_or_default();
        ids.push(id);
    }
    EncodedLabels { ids, classes }
}

#[cfg(test)]
mod tests {
    use super::encode_labels;

    #[test]
    fn strings_are_encoded_by_sorted_rank() {
        let encoded = encode_labels(&["rock", "pop", "rock", "jazz"]);
        assert_eq!(encoded.classes, vec!["jazz", "pop", "rock"]);
        assert_eq!(encoded.ids, vec![2, 1, 2, 0]);
        assert_eq!(encoded.counts(), vec![1, 1, 2]);
    }

    #[test]
    fn sparse_integer_ids_become_dense() {
        let encoded = encode_labels(&[9_usize, 5, 9, 100]);
        assert_eq!(encoded.ids, vec![1, 0, 1, 2]);
        assert_eq!(encoded.classes, vec![5, 9, 100]);
    }

    #[test]
    fn empty_input_gives_no_classes() {
        let encoded = encode_labels::<String>(&[]);
        assert!(encoded.ids.is_empty());
        assert!(encoded.classes.is_empty());
    }
}
