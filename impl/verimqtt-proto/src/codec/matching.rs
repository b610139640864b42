//! How topic filters relate to topic names and to each other, by the rules of section 4.7:
//! a subscriber's filter and a published topic, an ACL's filter and a client's topic or
//! filter. `+` is one level, `#` the rest of the levels including none ("sport/#" matches
//! "sport"), and a filter starting with a wildcard never matches a topic starting with `$`
//! ([MQTT-4.7.2-1]). Levels compare exactly ([MQTT-4.7.3-4]).
//!
//! Each walk is a loop over the two lists of levels, never a recursion: a peer chooses how
//! many levels a topic has.

/// Whether `filter` matches `topic`.
pub fn matches(filter: &str, topic: &str) -> bool {
    if starts_with_wildcard(filter) && topic.starts_with('$') {
        return false;
    }
    let (mut filter, mut topic) = (filter.split('/'), topic.split('/'));
    loop {
        match (filter.next(), topic.next()) {
            (Some("#"), _) => return true,
            (Some(level), Some(name)) if level == "+" || level == name => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether some topic matches both filters.
pub fn intersects(a: &str, b: &str) -> bool {
    if (starts_with_wildcard(a) && b.starts_with('$')) || (starts_with_wildcard(b) && a.starts_with('$')) {
        return false;
    }
    let (mut a, mut b) = (a.split('/'), b.split('/'));
    loop {
        match (a.next(), b.next()) {
            (Some("#"), _) | (_, Some("#")) => return true,
            (Some(x), Some(y)) if x == "+" || y == "+" || x == y => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether every topic `inner` matches, `outer` matches too.
pub fn covers(outer: &str, inner: &str) -> bool {
    if starts_with_wildcard(outer) && !starts_with_wildcard(inner) && inner.starts_with('$') {
        return false;
    }
    let (mut outer, mut inner) = (outer.split('/'), inner.split('/'));
    loop {
        match (outer.next(), inner.next()) {
            (Some("#"), _) => return true,
            // A `#` inside matches topics of any length, which nothing but `#` outside does.
            (Some(_), Some("#")) => return false,
            (Some("+"), Some(_)) => {}
            (Some(x), Some(y)) if x == y => {}
            (None, None) => return true,
            _ => return false,
        }
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
    fn topics_and_filters_of_65535_levels_are_compared_in_a_loop() {
        let deep = "/".repeat(65_534);
        let wildcard = format!("{}+", "/".repeat(65_534));
        assert!(matches(&deep, &deep) && matches(&wildcard, &deep));
        assert!(!matches(&deep, &deep[1..]));
        assert!(intersects(&wildcard, &deep) && covers(&wildcard, &deep));
        assert!(!covers(&deep, &wildcard));
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
