//! The globs of `buckets.names`: `*` matches any run of characters (none included), `?`
//! exactly one; everything else matches itself. Bucket names are `a-z 0-9 -`, so a glob is
//! those characters and the two wildcards. Pure.

/// Why `pattern` is not a bucket-name glob, or `None`.
pub fn problem(pattern: &str) -> Option<String> {
    if pattern.is_empty() {
        return Some("a bucket-name glob must not be empty".into());
    }
    if let Some(c) = pattern
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '*' | '?')))
    {
        return Some(format!(
            "'{}' is not a bucket-name glob: '{}' matches no bucket name (a-z, 0-9 and '-', with * and ? as wildcards)",
            crate::config::yaml::sanitize(pattern),
            c.escape_default()
        ));
    }
    None
}

/// Whether `name` matches `pattern` as a whole. Linear backtracking on the last `*`, so a
/// pattern of many stars costs no more than the name's length times the pattern's.
pub fn matches(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut i, mut j) = (0, 0);
    // Where the last `*` was, and the name position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        match p.get(i) {
            Some('*') => {
                star = Some((i, j));
                i += 1;
            }
            Some(&c) if c == '?' || c == n[j] => {
                i += 1;
                j += 1;
            }
            _ => match star {
                Some((si, sj)) => {
                    i = si + 1;
                    j = sj + 1;
                    star = Some((si, sj + 1));
                }
                None => return false,
            },
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names_with_star_and_question_mark() {
        let cases = [
            ("team-a-*", "team-a-media", true),
            ("team-a-*", "team-a-", true),
            ("team-a-*", "team-b-media", false),
            ("team-a-*", "xteam-a-media", false),
            ("*-logs", "team-a-logs", true),
            ("*-logs", "team-a-logs2", false),
            ("shared-??", "shared-01", true),
            ("shared-??", "shared-1", false),
            ("*", "anything", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("media", "media", true),
            ("media", "media2", false),
            ("**a", "a", true),
            ("", "", true),
        ];
        for (pattern, name, want) in cases {
            assert_eq!(matches(pattern, name), want, "{pattern} ~ {name}");
        }
    }

    #[test]
    fn a_glob_holds_only_what_a_bucket_name_can() {
        assert_eq!(problem("team-a-*"), None);
        assert_eq!(problem("shared-??"), None);
        assert!(problem("").is_some());
        let upper = problem("Team-*").unwrap();
        assert!(upper.contains("'T' matches no bucket name"), "{upper}");
        assert!(problem("team_a").is_some());
        assert!(problem("team/a").is_some());
    }
}
