//! How topic filters relate to topic names and to each other, by the rules of section 4.7:
//! a subscriber's filter and a published topic, an ACL's filter and a client's topic or
//! filter. `+` is one level, `#` the rest of the levels including none ("sport/#" matches
//! "sport"), and a filter starting with a wildcard never matches a topic starting with `$`
//! ([MQTT-4.7.2-1]). Levels compare exactly ([MQTT-4.7.3-4]).

/// Whether `filter` matches `topic`.
pub fn matches(filter: &str, topic: &str) -> bool {
    if starts_with_wildcard(filter) && topic.starts_with('$') {
        return false;
    }
    let (filter, topic): (Vec<&str>, Vec<&str>) = (filter.split('/').collect(), topic.split('/').collect());
    match_levels(&filter, &topic)
}

fn match_levels(filter: &[&str], topic: &[&str]) -> bool {
    match (filter.split_first(), topic.split_first()) {
        (Some((&"#", _)), _) => true,
        (Some((&level, filter)), Some((&name, topic))) => {
            (level == "+" || level == name) && match_levels(filter, topic)
        }
        (None, None) => true,
        _ => false,
    }
}

/// Whether some topic matches both filters.
pub fn intersects(a: &str, b: &str) -> bool {
    if (starts_with_wildcard(a) && b.starts_with('$')) || (starts_with_wildcard(b) && a.starts_with('$')) {
        return false;
    }
    let (a, b): (Vec<&str>, Vec<&str>) = (a.split('/').collect(), b.split('/').collect());
    meet(&a, &b)
}

fn meet(a: &[&str], b: &[&str]) -> bool {
    match (a.split_first(), b.split_first()) {
        (Some((&"#", _)), _) | (_, Some((&"#", _))) => true,
        (Some((&x, a)), Some((&y, b))) => (x == "+" || y == "+" || x == y) && meet(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// Whether every topic `inner` matches, `outer` matches too.
pub fn covers(outer: &str, inner: &str) -> bool {
    if starts_with_wildcard(outer) && !starts_with_wildcard(inner) && inner.starts_with('$') {
        return false;
    }
    let (outer, inner): (Vec<&str>, Vec<&str>) = (outer.split('/').collect(), inner.split('/').collect());
    contain(&outer, &inner)
}

fn contain(outer: &[&str], inner: &[&str]) -> bool {
    match (outer.split_first(), inner.split_first()) {
        (Some((&"#", _)), _) => true,
        // A `#` inside matches topics of any length, which nothing but `#` outside does.
        (Some(_), Some((&"#", _))) => false,
        (Some((&"+", outer)), Some((_, inner))) => contain(outer, inner),
        (Some((&x, outer)), Some((&y, inner))) => x == y && contain(outer, inner),
        (None, None) => true,
        _ => false,
    }
}

fn starts_with_wildcard(filter: &str) -> bool {
    filter.starts_with('+') || filter.starts_with('#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matching_follows_section_4_7() {
        for (filter, topic) in [
            ("sport/#", "sport"),
            ("sport/#", "sport/tennis/player1"),
            ("#", "sport"),
            ("sport/+/player1", "sport/tennis/player1"),
            ("+/+", "/finance"),
            ("$SYS/#", "$SYS/broker/uptime"),
            ("a//b", "a//b"),
        ] {
            assert!(matches(filter, topic), "{filter} should match {topic}");
        }
        for (filter, topic) in [
            ("sport/+", "sport"),
            ("sport/tennis", "sport/tennis/player1"),
            ("#", "$SYS/broker/uptime"),
            ("+/broker/uptime", "$SYS/broker/uptime"),
            ("ACCOUNTS", "accounts"),
            ("a/b", "a//b"),
        ] {
            assert!(!matches(filter, topic), "{filter} should not match {topic}");
        }
    }

    #[test]
    fn filters_intersect_when_a_topic_matches_both() {
        for (a, b) in [("#", "a/b"), ("a/#", "a"), ("a/+", "+/b"), ("+", "#"), ("$SYS/#", "$SYS/+"), ("a/b", "a/b")] {
            assert!(intersects(a, b) && intersects(b, a), "{a} and {b} should intersect");
        }
        for (a, b) in [("a/+", "a"), ("a/b", "a/c"), ("#", "$SYS/#"), ("+/x", "$SYS/x"), ("a/+/c", "a/b")] {
            assert!(!intersects(a, b) && !intersects(b, a), "{a} and {b} should not intersect");
        }
    }

    #[test]
    fn a_filter_covers_another_when_it_matches_all_its_topics() {
        for (outer, inner) in [
            ("#", "#"),
            ("#", "a/+/c"),
            ("a/#", "a"),
            ("a/#", "a/#"),
            ("a/+", "a/b"),
            ("+/+", "+/b"),
            ("$SYS/#", "$SYS/broker/+"),
            ("#", "+/x"),
        ] {
            assert!(covers(outer, inner), "{outer} should cover {inner}");
        }
        for (outer, inner) in [
            ("a/+", "a/#"),
            ("a/b", "a/+"),
            ("a/b", "a"),
            ("a", "a/b"),
            ("#", "$SYS/#"),
            ("+/x", "$SYS/x"),
            ("a/+/c", "a/+/#"),
        ] {
            assert!(!covers(outer, inner), "{outer} should not cover {inner}");
        }
    }
}
