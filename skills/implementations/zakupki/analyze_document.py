"""Extract requirements, dates, amounts and codes from procurement documents (RU/EN)."""

from __future__ import annotations

import bisect
import datetime as dt
import re
from decimal import Decimal

from implementations._text import detect_language, split_sentences
from implementations._validation import ensure_payload, get_str, money

FIELDS = ("text",)
MAX_TEXT_LENGTH = 500_000

REQUIREMENT_RE = re.compile(
    r"\b(must|shall|required|requires?|requirements?|mandatory|obliged|obligatory"
    r"|долж(?:ен|на|но|ны)|обязан[аоы]?|обязательн\w*|требу(?:ется|ются)|необходим\w*|требовани\w*)\b",
    re.IGNORECASE,
)
TOPICS = {
    "license": r"лиценз|licen[cs]e",
    "certificate": r"сертифик|certific|\bISO\s?\d{3,5}|\bГОСТ\b",
    "experience": r"опыт|experience",
    "financial": r"выручк|оборот|turnover|revenue|капитал|capital",
    "security": r"обеспечени|security|guarantee|гаранти",
    "deadline": r"срок|deadline|no later than|не позднее",
    "delivery": r"поставк|доставк|delivery|shipment",
    "sme": r"\bСМП\b|\bМСП\b|малого предпринимательства|small business|\bSME\b",
}
TOPIC_RES = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in TOPICS.items()}

_MONTH_NAMES = (
    "января февраля марта апреля мая июня июля августа сентября октября ноября декабря",
    "january february march april may june july august september october november december",
    "jan feb mar apr may jun jul aug sep oct nov dec",
)
MONTHS = {
    name: number for names in _MONTH_NAMES for number, name in enumerate(names.split(), start=1)
}
_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
DATE_PATTERNS = (
    (re.compile(r"\b(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>\d{4})\b"), False),
    (re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b"), False),
    (
        re.compile(
            rf"\b(?P<d>\d{{1,2}})\s+(?P<m>{_MONTH_ALT})\.?\s+(?P<y>\d{{4}})\b", re.IGNORECASE
        ),
        True,
    ),
    (
        re.compile(
            rf"\b(?P<m>{_MONTH_ALT})\.?\s+(?P<d>\d{{1,2}}),?\s+(?P<y>\d{{4}})\b", re.IGNORECASE
        ),
        True,
    ),
)
DEADLINE_RE = re.compile(
    r"срок|не позднее|\bдо\b|окончани"
    r"|deadline|no later than|\bby\b|\buntil\b|\bdue\b|\bbefore\b|\bclos",
    re.IGNORECASE,
)

_NUMBER = (
    r"\d{1,3}(?:[ \u00a0\u202f]\d{3})+(?:[.,]\d{1,2})?"  # 1 250 000,50
    r"|\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?"  # 1,250,000.50
    r"|\d+(?:[.,]\d{1,2})?"  # 1250000.50 or 1250000,50
)
_SCALE = r"(?:\s*(?P<scale>тыс\.?|млн\.?|млрд\.?|thousand|million|billion))?"
_CURRENCY = r"руб(?:л[а-я]*|\.)?|₽|RUB|roubles?|rubles?|USD|\$|долл(?:ар[а-я]*|\.)?|EUR|€|евро"
AMOUNT_RES = (
    re.compile(
        rf"(?P<number>{_NUMBER}){_SCALE}\s*(?P<currency>{_CURRENCY})(?![^\W\d_])", re.IGNORECASE
    ),
    re.compile(rf"(?P<currency>RUB|USD|EUR|\$|€|₽)\s?(?P<number>{_NUMBER}){_SCALE}", re.IGNORECASE),
)
SCALES = {
    "тыс": 1_000,
    "thousand": 1_000,
    "млн": 1_000_000,
    "million": 1_000_000,
    "млрд": 1_000_000_000,
    "billion": 1_000_000_000,
}
AMOUNT_LABELS = (
    (
        "initial_price",
        re.compile(
            r"НМЦ|начальн\w*\s*\(?максимальн"
            r"|initial\s*\(?maximum|maximum contract price|estimated value",
            re.IGNORECASE,
        ),
    ),
    ("bid_security", re.compile(r"обеспечени\w*\s+заяв|bid security|bid bond", re.IGNORECASE)),
    (
        "performance_security",
        re.compile(
            r"обеспечени\w*\s+(?:исполнения\s+)?контракт|performance (?:security|bond|guarantee)",
            re.IGNORECASE,
        ),
    ),
    ("advance", re.compile(r"аванс|advance payment", re.IGNORECASE)),
)

INN_RE = re.compile(r"(?:ИНН|INN)\s*[:№#]?\s*(\d{12}|\d{10})(?!\d)", re.IGNORECASE)
OKPD_KEYWORD_RE = re.compile(r"ОКПД\s*-?\s*2?|OKPD\s*-?\s*2?", re.IGNORECASE)
OKPD_CODE_RE = re.compile(r"(?<![\d.])\d{2}\.\d{2}(?:\.\d{1,2}(?:\.\d{1,3})?)?(?![\d]|\.\d)")
LAW_RE = re.compile(r"\b(44|223)\s*-?\s*(?:ФЗ|FZ)\b", re.IGNORECASE)


def inn_is_valid(inn: str) -> bool:
    """Check the control digits of a Russian taxpayer number (10 or 12 digits)."""

    def control(digits: str, weights: tuple[int, ...]) -> int:
        return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10

    if len(inn) == 10:
        return control(inn, (2, 4, 10, 3, 5, 9, 4, 6, 8)) == int(inn[9])
    if len(inn) == 12:
        return control(inn, (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)) == int(inn[10]) and control(
            inn, (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
        ) == int(inn[11])
    return False


def _sentence_index(spans: list[tuple[int, int, str]], position: int) -> int | None:
    index = bisect.bisect_right(spans, position, key=lambda span: span[0]) - 1
    if index >= 0 and position < spans[index][1]:
        return index
    return None


def _sentence_spans(text: str, flat: str) -> list[tuple[int, int, str]]:
    spans = []
    cursor = 0
    for sentence in split_sentences(text):
        start = flat.find(sentence, cursor)
        if start < 0:
            start = cursor
        spans.append((start, start + len(sentence), sentence))
        cursor = start + len(sentence)
    return spans


def _dates(flat: str, spans) -> list[dict]:
    found: dict[int, dict] = {}
    for pattern, named_month in DATE_PATTERNS:
        for match in pattern.finditer(flat):
            month = MONTHS[match["m"].lower()] if named_month else int(match["m"])
            try:
                date = dt.date(int(match["y"]), month, int(match["d"]))
            except ValueError:
                continue
            index = _sentence_index(spans, match.start())
            sentence = spans[index][2] if index is not None else ""
            found.setdefault(
                match.start(),
                {
                    "date": date.isoformat(),
                    "text": sentence,
                    "deadline": bool(DEADLINE_RE.search(sentence)),
                },
            )
    return [found[k] for k in sorted(found)]


def _parse_number(raw: str) -> Decimal:
    compact = re.sub(r"[ \u00a0\u202f]", "", raw)
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+(?:\.\d{1,2})?", compact):
        compact = compact.replace(",", "")
    return Decimal(compact.replace(",", "."))


def _currency(raw: str) -> str:
    raw = raw.lower()
    if raw.startswith(("руб", "rub", "roub")) or raw == "₽":
        return "RUB"
    if raw.startswith(("usd", "долл")) or raw == "$":
        return "USD"
    return "EUR"


def _nearest_label(before: str) -> str | None:
    best, best_end = None, -1
    for name, pattern in AMOUNT_LABELS:
        for match in pattern.finditer(before):
            if match.end() > best_end:
                best, best_end = name, match.end()
    return best


def _amounts(flat: str, spans) -> list[dict]:
    found: dict[int, dict] = {}
    taken: list[tuple[int, int]] = []
    for pattern in AMOUNT_RES:
        for match in pattern.finditer(flat):
            if any(s < match.end() and match.start() < e for s, e in taken):
                continue
            value = _parse_number(match["number"])
            if match["scale"]:
                value *= SCALES[match["scale"].rstrip(".").lower()]
            index = _sentence_index(spans, match.start())
            sentence_start = spans[index][0] if index is not None else 0
            before = flat[max(sentence_start, match.start() - 120) : match.start()]
            label = _nearest_label(before)
            taken.append((match.start(), match.end()))
            found[match.start()] = {
                "amount": money(value),
                "currency": _currency(match["currency"]),
                "label": label,
                "text": match.group(0).strip(),
            }
    return [found[k] for k in sorted(found)]


def _okpd2(flat: str) -> list[str]:
    codes: list[str] = []
    for keyword in OKPD_KEYWORD_RE.finditer(flat):
        window = flat[keyword.end() : keyword.end() + 200]
        stop = re.search(r"[.;](?:\s|$)(?![\d])", window)
        for code in OKPD_CODE_RE.findall(window[: stop.start()] if stop else window):
            if code not in codes:
                codes.append(code)
    return codes


def _unique(values):
    seen = []
    for value in values:
        if value not in seen:
            seen.append(value)
    return seen


def run(payload: dict, ctx=None) -> dict:
    """Analyze procurement ``text`` (Russian or English).

    Returns requirement sentences with their topics, dates (flagging deadlines), money
    amounts (labelled initial price, bid or performance security when recognisable),
    ИНН numbers with checksum validation, ОКПД2 codes and the procurement law cited.
    """
    payload = ensure_payload(payload, FIELDS)
    text = get_str(payload, "text", max_length=MAX_TEXT_LENGTH)
    flat = " ".join(text.split())
    spans = _sentence_spans(text, flat)

    requirements = []
    for _, _, sentence in spans:
        keywords = _unique(m.group(0).lower() for m in REQUIREMENT_RE.finditer(sentence))
        if keywords:
            topics = [name for name, rx in TOPIC_RES.items() if rx.search(sentence)]
            requirements.append({"text": sentence, "keywords": keywords, "topics": topics})

    dates = _dates(flat, spans)
    inns = _unique(m.group(1) for m in INN_RE.finditer(flat))
    return {
        "language": detect_language(text),
        "sentence_count": len(spans),
        "requirements": requirements,
        "dates": dates,
        "deadlines": sorted({d["date"] for d in dates if d["deadline"]}),
        "amounts": _amounts(flat, spans),
        "inn": [{"value": inn, "valid": inn_is_valid(inn)} for inn in inns],
        "okpd2": _okpd2(flat),
        "laws": _unique(f"{m.group(1)}-FZ" for m in LAW_RE.finditer(flat)),
    }
