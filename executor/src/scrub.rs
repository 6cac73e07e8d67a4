//! Removes secrets from output lines before they are stored or broadcast.

use model::Secret;

/// Replaces every occurrence of each secret (of 4+ characters) with `********`.
pub fn scrub(line: &str, secrets: &[Secret]) -> String {
    let mut out = line.to_string();
    for s in secrets {
        let v = s.expose();
        if v.len() >= 4 && out.contains(v) {
            out = out.replace(v, "********");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked() {
        let s = [Secret::new("hunter22")];
        assert_eq!(
            scrub("passphrase hunter22 is wrong", &s),
            "passphrase ******** is wrong"
        );
        assert_eq!(scrub("nothing here", &s), "nothing here");
    }
}
