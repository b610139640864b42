//! The Reason String of an answer that refuses some of what a packet asked, built within a
//! bound: a SUBSCRIBE may carry thousands of filters, each up to 64 KiB long, and the text
//! that explains their refusals must not grow with them.

use crate::codec::MqttString;

/// Characters of a filter quoted in an explanation; longer ones are cut.
const QUOTED_CHARS: usize = 64;

/// Bytes of explanation kept; refusals past it are only counted.
const MAX_TEXT: usize = 1024;

/// "filter: why; filter: why; and 12 more".
#[derive(Debug, Default)]
pub(super) struct Explanation {
    text: String,
    untold: usize,
}

impl Explanation {
    pub(super) fn add(&mut self, subject: &str, why: &str) {
        if self.text.len() >= MAX_TEXT {
            self.untold += 1;
            return;
        }
        if !self.text.is_empty() {
            self.text.push_str("; ");
        }
        let (quoted, cut) = match subject.char_indices().nth(QUOTED_CHARS) {
            Some((end, _)) => (&subject[..end], "..."),
            None => (subject, ""),
        };
        self.text.push_str(quoted);
        self.text.push_str(cut);
        self.text.push_str(": ");
        self.text.push_str(why);
    }

    /// The text, or `None` if nothing was refused.
    pub(super) fn finish(self) -> Option<MqttString> {
        if self.text.is_empty() {
            return None;
        }
        let text = match self.untold {
            0 => self.text,
            untold => format!("{}; and {untold} more", self.text),
        };
        MqttString::try_from(text).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_refused_says_nothing() {
        assert_eq!(Explanation::default().finish(), None);
    }

    #[test]
    fn long_subjects_are_cut_and_many_refusals_are_counted() {
        let mut explanation = Explanation::default();
        explanation.add("a/b", "not authorized");
        assert_eq!(explanation.finish().unwrap(), "a/b: not authorized");

        let mut explanation = Explanation::default();
        let long = "x".repeat(65_535);
        for _ in 0..10_000 {
            explanation.add(&long, "too deep");
        }
        let text = explanation.finish().unwrap();
        assert!(text.len() < MAX_TEXT + 200, "{} bytes", text.len());
        assert!(text.starts_with(&format!("{}...: too deep; ", "x".repeat(QUOTED_CHARS))));
        assert!(text.ends_with(" more"), "{text}");
    }
}
