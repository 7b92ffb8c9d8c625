"""Extra golden data for the CLIP tokenizer port: tests/fixtures/golden/clip/extra.jsonl.

Pinned reference: Python 3.11.7, openai/CLIP `clip/simple_tokenizer.py` (as installed in the reference venv),
ftfy 6.3.1, regex 2026.11.19, vocabulary /work/shared/data/clip/bpe_simple_vocab_16e6.txt.gz.
Run: /work/main/.cache/venv-ref/bin/python tools/golden/tokenizer.py

Each line: {"kind", "text", "fix_text": ftfy.fix_text(text), "clean": the text the pre-tokenizer sees,
"ids": SimpleTokenizer().encode(text)} (no start/end tokens, no truncation). Deterministic (fixed seeds).
The cases aim at what realistic prompts and CLIP's cleaning meet: random Unicode, mojibake in every encoding
ftfy repairs, HTML entities, typographic characters, control characters, case mapping corners, characters
newer than Python's Unicode 14, and very long texts.
"""

from __future__ import annotations

import html
import html.entities
import json
import random
import sys
import unicodedata
from pathlib import Path

import ftfy
import regex

from clip.simple_tokenizer import SimpleTokenizer, basic_clean, whitespace_clean

assert ftfy.__version__ == "6.3.1" and regex.__version__ == "2026.11.19"
assert sys.version_info[:3] == (3, 11, 7)

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests/fixtures/golden/clip/extra.jsonl"
VOCAB = Path("/work/shared/data/clip/bpe_simple_vocab_16e6.txt.gz")

WORDS = (
    "a photo of the cat dog person car red blue green big small left right man woman child tree sky road "
    "building boat train bus bird horse sheep cow elephant bear zebra giraffe umbrella bag tie suitcase "
    "frisbee skis snowboard ball kite bat glove skateboard surfboard racket bottle glass cup fork knife "
    "spoon bowl banana apple sandwich orange broccoli carrot pizza donut cake chair couch plant bed table"
).split()
SENTENCES = [
    "café crème brûlée",
    "naïve façade résumé",
    "Straße über Öl",
    "São Paulo à la carte",
    "Łódź Kraków żółć",
    "“smart quotes” and ‘single’ ones",
    "it’s a dog’s life — really…",
    "Ελληνικά γράμματα",
    "Русский текст",
    "日本語のテキスト",
    "中文文本",
    "한국어 텍스트",
    "emoji 😀🐈👍🏽🇺🇸",
    "€50 £20 ¥100 ©® ™ ° ± µ",
    "à quelle heure",
    "às vezes",
    "fácil",
    "señor niño",
    "Ångström",
    "ČŠŽ čšž",
    "İstanbul ığdır",
    "ÆØÅ æøå",
    "œuvre Œuvre",
    "x²+y³=z¹ ½ ¼ ¾",
    "→ ← ↑ ↓ ★ ☃",
]


def random_assigned(rng: random.Random, lo: int, hi: int) -> str:
    while True:
        c = rng.randint(lo, hi)
        if 0xD800 <= c <= 0xDFFF:
            continue
        if unicodedata.category(chr(c)) != "Cn" or rng.random() < 0.1:
            return chr(c)


def random_unicode(rng: random.Random) -> str:
    spans = [(0x20, 0x7E), (0x80, 0x24F), (0x370, 0x52F), (0x590, 0x6FF), (0x900, 0xDFF), (0x1E00, 0x1FFF),
             (0x2000, 0x2BFF), (0x3000, 0x30FF), (0x4E00, 0x4EFF), (0xAC00, 0xACFF), (0xFB00, 0xFFFF),
             (0x1F300, 0x1FAFF), (0x10000, 0x10FFFF), (0x0, 0x10FFFF)]
    n = rng.randint(1, 30)
    return "".join(random_assigned(rng, *rng.choice(spans)) for _ in range(n))


MOJIBAKE_ALPHABET = "".join(sorted(set(
    bytes(range(0x80, 0x100)).decode("latin-1")
    + bytes(range(0x80, 0x100)).decode("cp1252", errors="ignore")
    + bytes(range(0x80, 0x100)).decode("cp1251", errors="ignore")
    + bytes(range(0x80, 0x100)).decode("mac_roman")
    + bytes(range(0x80, 0x100)).decode("cp437")
)))


def random_mojibake_chars(rng: random.Random) -> str:
    n = rng.randint(1, 16)
    pool = MOJIBAKE_ALPHABET + "abcxyz ABC .,!?'\"-\u00a0\ufffd"
    return "".join(rng.choice(pool) for _ in range(n))


def make_mojibake(rng: random.Random, text: str) -> str:
    encodings = ["latin-1", "cp1252", "cp1251", "cp1250", "cp1253", "cp1254", "cp1257", "iso-8859-2",
                 "mac_roman", "cp437"]
    enc = rng.choice(encodings)
    broken = text.encode("utf-8").decode(enc, errors="replace")
    r = rng.random()
    if r < 0.15:
        broken = broken.replace("\u00a0", " ")
    elif r < 0.25:
        broken = broken.encode("utf-8").decode("cp1252", errors="replace")  # double mojibake
    elif r < 0.3:
        broken = broken.replace("\ufffd", "?")
    return broken


def random_entity(rng: random.Random) -> str:
    names = sorted(html.entities.html5)
    r = rng.random()
    if r < 0.35:
        return "&" + rng.choice(names)
    if r < 0.45:
        return "&" + rng.choice(names).rstrip(";").upper() + ";"
    if r < 0.6:
        return f"&#{rng.choice([0, 9, 10, 13, 39, 65, 128, 133, 150, 160, 233, 8217, 55296, 65534, 128512, 1114112, rng.randint(0, 0x11FFFF)])};"
    if r < 0.7:
        return f"&#x{rng.randint(0, 0x10FFFF):{rng.choice(['x', 'X'])}}" + rng.choice([";", "", " "])
    if r < 0.8:
        return "&amp;" + rng.choice(names)
    if r < 0.9:
        return "&" + rng.choice(["amp", "lt", "gt", "quot", "nbsp", "copy", "not", "notit", "eacute", "EACUTE", "SZLIG"]) + rng.choice(["", ";", "x", "foo;", " "])
    return "&" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789#") for _ in range(rng.randint(1, 30))) + ";"


def cases() -> list[tuple[str, str]]:
    rng = random.Random(20260517)
    out: list[tuple[str, str]] = []
    add = lambda kind, text: out.append((kind, text))  # noqa: E731

    for _ in range(400):
        add("random_unicode", random_unicode(rng))
    for _ in range(300):
        add("random_mojibake_chars", random_mojibake_chars(rng))
    for s in SENTENCES:
        for enc in ["latin-1", "cp1252", "cp1251", "cp1250", "mac_roman", "cp437", "iso-8859-2", "cp1253"]:
            add("mojibake", s.encode("utf-8").decode(enc, errors="replace"))
    for _ in range(200):
        s = rng.choice(SENTENCES)
        if rng.random() < 0.5:
            s = rng.choice(WORDS) + " " + s + " " + rng.choice(WORDS)
        text = make_mojibake(rng, s)
        if rng.random() < 0.3:  # mojibake embedded in good text
            text = rng.choice(SENTENCES) + " " + text
        add("mojibake_random", text)
    for fixed in ["cafÃ©", "Ã la mode", "voilÃ le travail", "fÃ cil", "Ã s vezes", "Ã quele", "â€œquotedâ€\x9d",
                  "â€œ like this â€�", "doesnâ€™t", "Ã¢â‚¬Å“mojibakeÃ¢â‚¬Â�", "sÃ³", "Ã¡ Ã© Ã­", "ÐŸÑ€Ð¸Ð²ÐµÑ‚",
                  "\x80\x81\x82\x9f", "caf\x82", "ï»¿BOM text", "Ã\xa0 la", "Ã", "Ã ", "Â", "Â£100", "Ã—Ã·",
                  "l\u2019h\u00f4tel", "MÃ¼nchen", "ðŸ˜€ emoji", "ðŸ\x98\x80", "\xed\xa0\xbd\xed\xb8\x8d",
                  "Ã\x83Â©", "×©×œ×•×", "Ø§Ù„Ø¹Ø±Ø¨ÙŠØ©", "à¤¹à¤¿à¤¨à¥\x8dà¤¦à¥€", "(â•¯Â°â–¡Â°)â•¯ï¸µ â”»â”â”»"]:
        add("mojibake_known", fixed)
    for _ in range(250):
        parts = [rng.choice(WORDS) if rng.random() < 0.5 else random_entity(rng) for _ in range(rng.randint(1, 6))]
        add("html_entities", rng.choice(["", " ", "&"]).join(parts))
    for text in ["&lt;b&gt;", "&amp;lt;", "&amp;amp;amp;", "a < b &amp; c", "line one &amp;\nline <two> &amp;\nthree &amp;",
                 "first &amp;\nsecond &lt; &amp;", "&NTILDE; &nTILDE; &Ntilde;", "P&EACUTE;REZ", "BUNDESSTRA&SZLIG;E",
                 "this&not that", "&#x2019;s", "&#8217;", "&#X41;&#x41", "&#65;&#66&#67;", "&#0000000065;",
                 "&#99999999999999999999;", "&#xFFFFFFFFFFFFFFFF;", "&nbsp;&nbsp;x", "&ensp;&emsp;&thinsp;y",
                 "&zwj;&zwnj;&lrm;", "&shy;soft", "&Jscr;ohn &HilbertSpace;ancock", "&checkmark;", "&hellip;",
                 "&macr;\\_(ã\x83\x84)_/&macr;"]:
        add("html_known", text)
    typographic = "“”‘’‚„‛‟ʼ«»‹›–—―…·•ﬀﬁﬂﬃﬄﬅﬆĲĳŉǱǲǳǄǅǆǇǈǉǊǋǌＡＢＣａｂｃ０１２！？＆＠　ｶﾀｶﾅﾞｰﾝ｡｢｣､･ﾟ"
    for _ in range(150):
        add("typographic", "".join(rng.choice(typographic + "abc xyz") for _ in range(rng.randint(1, 20))))
    controls = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x0e", "\x1a", "\x1b", "\x1c", "\x1f", "\x7f",
                "\x85", "\x9b", "\u200b", "\u200c", "\u200d", "\u200e", "\u202e", "\u2028", "\u2029", "\u2060",
                "\u206a", "\u206f", "\ufeff", "\ufff9", "\ufffc", "\ufffd", "\r", "\r\n", "\n", "\t",
                "\x1b[31m", "\x1b[0m", "\x1b[1;32m", "\x1b[١٢m", "\U000e0001", "\U000e0067"]
    for _ in range(150):
        add("controls", "".join(rng.choice(controls + WORDS + [" "]) for _ in range(rng.randint(1, 12))))
    for text in ["ΟΔΟΣ", "ΟΔΟΣ ΣΑ", "Σ", "ΑΣ", "ΑΣ\u0301", "ΑΣ.Β", "Σ́Α", "İstanbul", "I\u0307", "ǅ ǈ ǋ",
                 "ẞ ß", "ﬃ", "Ω Ω K Å", "ΐ", "\u0345", "ι\u0345", "'ſ", "it'ſ", "<|ſtartoftext|>",
                 "<|startoftext|>", "<|STARTOFTEXT|>", "<|EndOfText|>", "a<|endoftext|>b", "!<|endoftext|>",
                 "'S 'T 'RE 'VE 'M 'LL 'D", "don'T", "I'M", "ⅰⅱⅲ Ⅳ", "Ⓐⓑ", "x\u0307", "e\u0301\u0327",
                 "\u1e9b\u0323", "\u0041\u030a", "\u212b", "한\u1100\u1161", "\u1100\u1161\u11a8"]:
        add("case_and_normalization", text)
    # Characters assigned after Unicode 14 (Python 3.11's), including combining marks and decompositions.
    for text in ["🫨 shaking face", "🩷 pink heart", "🫎🪿", "\U00011f00\U00011f41\U00011f42", "\U0001e4ec\U0001e4ed",
                 "a\U0001e4ec\u0301", "\U00016d68\U00016d67", "\U000105c9", "\U0001e030\U0001e08f",
                 "\U00031350\U0002ebf0", "\U000116d0\U000116e3", "e\U0001e08f\u0301"]:
        add("newer_unicode", text)
    for n in (200, 1000):
        for seed in range(3):
            r = random.Random(seed + n)
            words = [r.choice(WORDS) for _ in range(n)]
            seps = [r.choice([" ", " ", " ", ", ", ". ", "\n", "  ", "\t"]) for _ in range(n)]
            add("long", "".join(w + s for w, s in zip(words, seps)))
    long_mixed = " ".join(rng.choice(WORDS + SENTENCES + ["&amp;", "cafÃ©", "“x”", "ﬁ"]) for _ in range(1000))
    add("long", long_mixed)
    add("long", "a" * 5000)
    add("long", "😀" * 300)
    add("long", "ab\n" * 400)
    return out


def main() -> None:
    tokenizer = SimpleTokenizer(str(VOCAB))
    lines = []
    for kind, text in cases():
        fixed = ftfy.fix_text(text)
        clean = whitespace_clean(basic_clean(text)).lower()
        ids = tokenizer.encode(text)
        lines.append(json.dumps({"kind": kind, "text": text, "fix_text": fixed, "clean": clean, "ids": ids},
                                ensure_ascii=False))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} cases to {OUT} ({OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
