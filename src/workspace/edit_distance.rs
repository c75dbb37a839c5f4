//! The edit distance Cargo uses to suggest similarly named features:
//! case-insensitive, counting insertions, deletions, substitutions and
//! transpositions of adjacent characters (optimal string alignment).

/// The distance between `a` and `b`, or `None` when it exceeds `limit`.
pub(crate) fn edit_distance(a: &str, b: &str, limit: usize) -> Option<usize> {
    let a: Vec<char> = a.to_lowercase().chars().collect();
    let b: Vec<char> = b.to_lowercase().chars().collect();
    if a.len().abs_diff(b.len()) > limit {
        return None;
    }
    // rows[i][j]: distance between the first i chars of `a` and the first j of `b`.
    let mut rows: Vec<Vec<usize>> = (0..=a.len())
        .map(|i| (0..=b.len()).map(|j| if i == 0 { j } else { i }).collect())
        .collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let substitution = rows[i - 1][j - 1] + usize::from(a[i - 1] != b[j - 1]);
            let mut best = substitution.min(rows[i - 1][j] + 1).min(rows[i][j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    let d = rows[a.len()][b.len()];
    (d <= limit).then_some(d)
}

/// Whether two names are close enough for Cargo to suggest one for the other.
pub(crate) fn is_similar(a: &str, b: &str) -> bool {
    edit_distance(a, b, 3).is_some()
}

/// The first of `candidates` at the smallest distance (at most 3) from
/// `choice`, as Cargo picks "the feature with a similar name".
pub(crate) fn closest<'a>(
    choice: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if let Some(d) = edit_distance(choice, c, 3) {
            if best.is_none_or(|(bd, _)| d < bd) {
                best = Some((d, c));
            }
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_kind_of_edit_once() {
        assert_eq!(edit_distance("fancy", "fancy", 3), Some(0));
        assert_eq!(edit_distance("fast", "fst", 3), Some(1));
        assert_eq!(edit_distance("fast", "fsat", 3), Some(1), "transposition");
        assert_eq!(
            edit_distance("Fast", "fast", 3),
            Some(0),
            "case-insensitive"
        );
        assert_eq!(edit_distance("ryu", "app", 3), Some(3));
        assert_eq!(edit_distance("ryu", "nope", 3), None);
        assert_eq!(edit_distance("", "abc", 3), Some(3));
        assert_eq!(edit_distance("warp-drive", "ryu", 3), None);
    }

    #[test]
    fn closest_prefers_the_first_of_the_nearest() {
        // "nope" is 3 edits from both `host` and `pm`: Cargo names the first.
        let features = ["dev", "host", "pm", "target", "windows"];
        assert_eq!(closest("nope", features), Some("host"));
        assert_eq!(closest("zz", ["a", "b", "c"]), Some("a"));
        assert_eq!(closest("nope", ["fancy"]), None);
    }
}
