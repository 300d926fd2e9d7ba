//! Splitting a request into segments, each routed on its own and run as a step: "convert 100
//! dollars to euros, then summarize the article" is two steps; "the weather in Paris and the
//! weather in Rome" one group of two.
//!
//! The predecessor's separators, as whole words (its `&` matched inside words too, so
//! "rock&roll" split; here `&` counts standing alone): to chain, `then`, `->`, `and then`, `after that`, and in Russian
//! `затем`, `потом`, `после этого`, `а затем`, `а потом`; to run at once, `and`, `&`, `as well
//! as`, and `и`, `а также`. Its `after` is left out: "do A after B" means B first.

/// How a request is split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Split {
    /// One request, one skill.
    #[default]
    None,
    /// Segments in order, each step's output the next one's payload.
    Pipeline,
    /// Segments at once, each with the request's payload.
    Parallel,
    /// Chain where a chaining word says so, and run at once the parts joined by `and`.
    Auto,
}

/// Chaining separators, as sequences of lowercase words (`->` is made a word of its own).
const CHAIN: &[&[&str]] = &[
    &["and", "then"],
    &["after", "that"],
    &["then"],
    &["->"],
    &["а", "затем"],
    &["а", "потом"],
    &["после", "этого"],
    &["затем"],
    &["потом"],
];
/// Separators of parts that run at once.
const AT_ONCE: &[&[&str]] = &[
    &["as", "well", "as"],
    &["а", "также"],
    &["and"],
    &["&"],
    &["и"],
];

/// The request's steps, each a group of segment texts (one text: a step of one skill). A
/// request that does not split is one step of one segment, the whole request.
pub fn segments(query: &str, split: Split) -> Vec<Vec<String>> {
    let whole = || vec![vec![query.trim().to_owned()]];
    let words = words(query);
    let steps: Vec<Vec<String>> = match split {
        Split::None => return whole(),
        Split::Pipeline => parts(&words, CHAIN)
            .into_iter()
            .map(|part| vec![part])
            .collect(),
        Split::Parallel => vec![parts(&words, AT_ONCE)],
        Split::Auto => parts(&words, CHAIN)
            .into_iter()
            .map(|step| parts(&self::words(&step), AT_ONCE))
            .collect(),
    };
    let count: usize = steps.iter().map(Vec::len).sum();
    if count < 2 { whole() } else { steps }
}

/// The words of `text`, with `->` set apart even when written against a word (`&` counts only
/// standing alone).
fn words(text: &str) -> Vec<String> {
    text.replace("->", " -> ")
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// The non-empty runs of words between separators, joined again with single spaces. A word
/// matches ignoring case and a trailing comma (`then,`).
fn parts(words: &[String], separators: &[&[&str]]) -> Vec<String> {
    let plain: Vec<String> = words
        .iter()
        .map(|word| word.trim_end_matches(',').to_lowercase())
        .collect();
    let mut parts = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut index = 0;
    while index < words.len() {
        let matched = separators.iter().find(|separator| {
            plain[index..].len() >= separator.len()
                && separator
                    .iter()
                    .zip(&plain[index..])
                    .all(|(expected, word)| expected == word)
        });
        match matched {
            Some(separator) => {
                push(&mut parts, &current);
                current.clear();
                index += separator.len();
            }
            None => {
                current.push(&words[index]);
                index += 1;
            }
        }
    }
    push(&mut parts, &current);
    parts
}

fn push(parts: &mut Vec<String>, words: &[&str]) {
    let text = words.join(" ");
    let text = text.trim_matches(|c: char| c == ',' || c == ';' || c.is_whitespace());
    if !text.is_empty() {
        parts.push(text.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(query: &str, split: Split) -> Vec<Vec<&'static str>> {
        segments(query, split)
            .into_iter()
            .map(|step| {
                step.into_iter()
                    .map(|text| &*Box::leak(text.into_boxed_str()))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_pipeline_splits_on_chaining_words_in_english_and_russian() {
        assert_eq!(
            steps(
                "Convert 100 USD to EUR, then summarize the article",
                Split::Pipeline
            ),
            [["Convert 100 USD to EUR"], ["summarize the article"]]
        );
        assert_eq!(
            steps(
                "find tenders->check requirements and then analyze",
                Split::Pipeline
            ),
            [["find tenders"], ["check requirements"], ["analyze"]]
        );
        assert_eq!(
            steps(
                "найди тендеры, затем проверь требования, а потом оцени",
                Split::Pipeline
            ),
            [["найди тендеры"], ["проверь требования"], ["оцени"]]
        );
        // "and" alone does not chain.
        assert_eq!(
            steps("salt and pepper", Split::Pipeline),
            [["salt and pepper"]]
        );
    }

    #[test]
    fn parallel_splits_on_and_but_not_inside_words() {
        assert_eq!(
            steps(
                "weather in Paris and weather in Rome & Oslo",
                Split::Parallel
            ),
            [["weather in Paris", "weather in Rome", "Oslo"]]
        );
        assert_eq!(steps("rock&roll", Split::Parallel), [["rock&roll"]]);
        assert_eq!(
            steps("android sandwich", Split::Parallel),
            [["android sandwich"]]
        );
        assert_eq!(
            steps("курс доллара и прогноз погоды", Split::Parallel),
            [["курс доллара", "прогноз погоды"]]
        );
    }

    #[test]
    fn auto_chains_first_then_groups_each_step() {
        assert_eq!(
            steps(
                "flights to Rome and hotels in Rome, then build the itinerary",
                Split::Auto
            ),
            vec![
                vec!["flights to Rome", "hotels in Rome"],
                vec!["build the itinerary"]
            ]
        );
        assert_eq!(steps("just one thing", Split::Auto), [["just one thing"]]);
        assert_eq!(steps("  then  ", Split::Auto), [["then"]]);
        assert_eq!(steps("a then b", Split::None), [["a then b"]]);
    }
}
