"""Unicode-aware text helpers (English and Russian) shared by the text skills."""

from __future__ import annotations

import re

WORD_RE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*")
LETTERS_RE = re.compile(r"[^\W\d_]")
CYRILLIC_RE = re.compile(r"[\u0400-\u04FF]")
SENTENCE_END_RE = re.compile(r"([.!?…]+[\"'»”)]*)\s+(?=[\"'«“(]*[^\W_])|\n\s*\n+")
ABBREVIATIONS = frozenset(
    """
    гг ул пр просп пер им стр корп тел пп ст см др тыс млн млрд шт руб коп
    e.g i.e mr mrs ms dr prof st vs approx incl
    """.split()
)

ENGLISH_STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been
    before being below between both but by can could did do does doing down during each
    few for from further had has have having he her here hers herself him himself his how
    i if in into is it its itself just me more most my myself no nor not now of off on
    once only or other our ours ourselves out over own same she should so some such than
    that the their theirs them themselves then there these they this those through to too
    under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves may might must shall can't won't it's
    """.split()
)

RUSSIAN_STOP_WORDS = frozenset(
    """
    и в во не что он на я с со как а то все она так его но да ты к у же вы за бы по только
    ее её мне было вот от меня еще ещё нет о из ему теперь когда даже ну вдруг ли если уже или
    ни быть был него до вас нибудь опять уж вам ведь там потом себя ничего ей может они
    тут где есть надо ней для мы тебя их чем была сам чтоб без будто чего раз тоже себе
    под будет ж тогда кто этот того потому этого какой совсем ним здесь этом один почти
    мой тем чтобы нее сейчас были куда зачем всех никогда можно при наконец два об другой
    хоть после над больше тот через эти нас про всего них какая много разве три эту моя
    впрочем хорошо свою этой перед иногда лучше чуть том нельзя такой им более всегда
    конечно всю между это также является являются который которая которые которых
    """.split()
)

STOP_WORDS = ENGLISH_STOP_WORDS | RUSSIAN_STOP_WORDS


def words(text: str) -> list[str]:
    """Lower-cased word tokens (letters and digits, any script)."""
    return [match.group(0).lower().replace("’", "'") for match in WORD_RE.finditer(text)]


def content_words(text: str) -> list[str]:
    """Word tokens without stop words, pure numbers and one-letter tokens."""
    return [
        word
        for word in words(text)
        if word not in STOP_WORDS and len(word) > 1 and LETTERS_RE.search(word)
    ]


def stem(word: str) -> str:
    """Very light stemming: English plural/verb suffixes, Russian words cut to 5 letters."""
    if CYRILLIC_RE.search(word):
        return word[:5]
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    for suffix in ("ing", "ed"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            base = word[: -len(suffix)]
            if len(base) > 3 and base[-1] == base[-2] and base[-1] not in "aeiouls":
                base = base[:-1]
            return base
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def terms(text: str) -> list[str]:
    """Stemmed content words, the unit of search matching."""
    return [stem(word) for word in content_words(text)]


def split_sentences(text: str) -> list[str]:
    """Split text into sentences on terminal punctuation and blank lines.

    A period after a single letter or a common abbreviation ("г.", "ст.", "e.g.")
    does not end a sentence, except "2026 г." followed by a capitalised word.
    """
    normalized = re.sub(r"[ \t\r\f\v]+", " ", text.strip())
    sentences = []
    start = 0
    for match in SENTENCE_END_RE.finditer(normalized):
        end = match.end(1) if match.group(1) else match.start()
        sentence = normalized[start:end]
        if match.group(1) == ".":
            head = sentence[:-1].split()
            last = head[-1].lstrip("(\"'«“").lower() if head else ""
            after_year = last in ("г", "гг") and len(head) > 1 and head[-2][-4:].isdigit()
            if ((len(last) == 1 and last.isalpha()) or last in ABBREVIATIONS) and not (
                after_year and normalized[match.end() : match.end() + 1].isupper()
            ):
                continue
        sentences.append(sentence)
        start = match.end()
    sentences.append(normalized[start:])
    return [" ".join(part.split()) for part in sentences if part.strip()]


def detect_language(text: str) -> str:
    """``ru``, ``en``, ``mixed`` or ``unknown`` from the share of Cyrillic letters."""
    letters = LETTERS_RE.findall(text)
    if not letters:
        return "unknown"
    share = sum(1 for ch in letters if CYRILLIC_RE.match(ch)) / len(letters)
    if share >= 0.8:
        return "ru"
    if share <= 0.2:
        return "en"
    return "mixed"
