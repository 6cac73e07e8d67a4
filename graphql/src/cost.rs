//! Query cost: a list field costs the number of items it may return times the cost of one item,
//! so a page of 500 jobs each with 10,000 output lines is refused before it runs. Fields without
//! a list argument cost 1 plus their children (async-graphql's default).

/// The most a document may cost: a job's 10,000 output lines with a few fields each fit, a page
/// of 500 jobs with their default 1,000 output lines does not.
pub(crate) const MAX_COMPLEXITY: usize = 50_000;

/// The cost of a list of at most `n` items (clamped to the largest page any list serves) each
/// costing `child`.
pub(crate) fn list(n: impl Into<i64>, child: usize) -> usize {
    let n = n.into().clamp(1, 10_000) as usize;
    n.saturating_mul(child.max(1))
}

#[cfg(test)]
mod tests {
    #[test]
    fn lists_cost_their_size() {
        assert_eq!(super::list(500, 3), 1500);
        assert_eq!(super::list(-5, 3), 3);
        assert_eq!(super::list(1_000_000_i64, 2), 20_000);
        assert_eq!(super::list(10, 0), 10);
    }
}
