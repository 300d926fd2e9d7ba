//! Text analysis shared by the skill index and the queries: Unicode tokenization, case folding,
//! stop words and Snowball stemming for English and Russian.

use std::collections::HashSet;

use rust_stemmers::{Algorithm, Stemmer};

/// One analysed word: the stem routing matches on, and the word as written (lowercased).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    /// The stemmed, case-folded form (`flights` -> `flight`, `долларов` -> `доллар`).
    pub term: String,
    /// The case-folded word before stemming.
    pub surface: String,
}

/// Turns text into index terms. Built once and shared: the stop-word set and the stemmers are
/// read-only.
pub struct Analyzer {
    english: Stemmer,
    russian: Stemmer,
    stop_words: HashSet<String>,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("stop_words", &self.stop_words.len())
            .finish()
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Self::new()
    }
}

/// Script of a word, which picks its stemmer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Script {
    Latin,
    Cyrillic,
    Other,
}

impl Analyzer {
    /// An analyzer with the NLTK English and Russian stop-word lists.
    pub fn new() -> Self {
        let stop_words = ["en", "ru"]
            .iter()
            .filter_map(|lang| stop_words::lookup(lang))
            .flat_map(|words| words.iter())
            .map(|word| fold(word))
            .collect();
        Self {
            english: Stemmer::create(Algorithm::English),
            russian: Stemmer::create(Algorithm::Russian),
            stop_words,
        }
    }

    /// The tokens of `text`, in order, without stop words, numbers and one-letter words.
    /// Duplicates are kept (field term frequencies count them).
    pub fn analyze(&self, text: &str) -> Vec<Token> {
        words(text)
            .filter_map(|word| {
                let surface = fold(word);
                if surface.chars().count() < 2
                    || surface.chars().all(|c| c.is_numeric())
                    || self.stop_words.contains(&surface)
                {
                    return None;
                }
                let term = self.stem(&surface);
                Some(Token { term, surface })
            })
            .collect()
    }

    /// Only the terms of `text`, in order.
    pub fn terms(&self, text: &str) -> Vec<String> {
        self.analyze(text)
            .into_iter()
            .map(|token| token.term)
            .collect()
    }

    fn stem(&self, word: &str) -> String {
        match script(word) {
            Script::Latin => self.english.stem(word).into_owned(),
            Script::Cyrillic => self.russian.stem(word).into_owned(),
            Script::Other => word.to_owned(),
        }
    }
}

/// Maximal runs of letters and digits; everything else (spaces, punctuation, `_`, `/`, `.`)
/// separates words.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
}

/// Case folding plus the one Russian spelling variant that matters for matching: `ё` is
/// commonly written `е`.
fn fold(word: &str) -> String {
    word.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

fn script(word: &str) -> Script {
    if word.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c)) {
        Script::Cyrillic
    } else if word.chars().all(|c| c.is_ascii_alphanumeric()) {
        Script::Latin
    } else {
        Script::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(text: &str) -> Vec<String> {
        Analyzer::new().terms(text)
    }

    #[test]
    fn english_words_are_stemmed_and_stop_words_dropped() {
        assert_eq!(
            terms("Find the cheapest flights to Sochi"),
            ["find", "cheapest", "flight", "sochi"]
        );
        assert_eq!(terms("and the of to"), Vec::<String>::new());
    }

    #[test]
    fn cyrillic_is_tokenized_and_stemmed() {
        assert_eq!(
            terms("Переведи 100 долларов в евро"),
            ["перевед", "доллар", "евр"]
        );
        // Inflected forms meet on one stem.
        assert_eq!(terms("доллары"), terms("долларов"));
        assert_eq!(terms("Ёлка"), terms("елка"));
    }

    #[test]
    fn ids_split_on_separators_and_numbers_are_dropped() {
        assert_eq!(
            terms("finance/convert_currency"),
            ["financ", "convert", "currenc"]
        );
        assert_eq!(terms("100 500 x"), Vec::<String>::new());
    }

    #[test]
    fn other_scripts_are_kept_unstemmed() {
        assert_eq!(terms("Größe café"), ["größe", "café"]);
    }
}
