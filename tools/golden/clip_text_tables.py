"""Generate crates/fastsam/assets/clip/text_tables.txt: the Unicode and ftfy data that the Rust port of
CLIP's text cleaning (`clip/simple_tokenizer.py`: ftfy.fix_text, html.unescape, whitespace_clean, str.lower,
the `regex` pre-tokenizer) needs to behave exactly like the reference.

Pinned reference: Python 3.11.7 (unicodedata 14.0.0), ftfy 6.3.1, regex 2026.11.19.
Run: /work/main/.cache/venv-ref/bin/python tools/golden/clip_text_tables.py

Everything is taken from the running reference rather than transcribed, so that Unicode-version differences
between Python and Rust's crates cannot leak in:
- character classes are probed codepoint by codepoint with the very `regex`/`re`/`str` functions CLIP uses;
- ftfy's regular expressions are re-emitted from Python's own parse tree (sre), with `\\s`, `\\w`, `\\d`
  replaced by explicit classes holding Python's definitions, and every literal written as `\\x{HEX}`;
- the emitted patterns are checked against the originals on random text before anything is written.

Format: sections start with `@kind name`; the lines after it are the section's body.
  @ranges NAME   one line of space-separated hex ranges `lo-hi` (or `cp`)
  @map NAME      lines `HEX<TAB>HEX HEX ...` (codepoint -> replacement string)
  @entities NAME lines `NAME<TAB>HEX HEX ...`
  @charmap NAME  one line of 256 hex codepoints: what each byte decodes to
  @regex NAME    one line: a pattern for Rust's `regex` crate
"""

from __future__ import annotations

import html
import html.entities
import random
import re
import re._constants as C
import re._parser as sre_parse
import sys
import unicodedata
from pathlib import Path

import ftfy
import ftfy.bad_codecs  # noqa: F401  (registers the sloppy codecs)
import regex
from ftfy import badness, chardata, fixes

assert ftfy.__version__ == "6.3.1", ftfy.__version__
assert regex.__version__ == "2026.11.19", regex.__version__
assert unicodedata.unidata_version == "14.0.0", unicodedata.unidata_version

OUT = Path(__file__).resolve().parents[2] / "crates/fastsam/assets/clip/text_tables.txt"
ALL = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def ranges(cps: list[int]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for c in sorted(cps):
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return [(a, b) for a, b in out]


def ranges_line(cps: list[int]) -> str:
    return " ".join(f"{a:x}" if a == b else f"{a:x}-{b:x}" for a, b in ranges(cps))


def rust_class(cps: list[int], negate: bool = False) -> str:
    body = "".join(
        f"\\x{{{a:X}}}" if a == b else f"\\x{{{a:X}}}-\\x{{{b:X}}}" for a, b in ranges(cps)
    )
    return f"[{'^' if negate else ''}{body}]"


# Python's `re` (str patterns) defines \s, \w, \d by these str predicates.
PY_SPACE = [c for c in ALL if chr(c).isspace()]
PY_WORD = [c for c in ALL if chr(c).isalnum() or c == ord("_")]
PY_DECIMAL = [c for c in ALL if chr(c).isdecimal()]
CATEGORY = {C.CATEGORY_SPACE: PY_SPACE, C.CATEGORY_WORD: PY_WORD, C.CATEGORY_DIGIT: PY_DECIMAL}


def emit(tree, rust: bool, byte_pattern: bool = False) -> str:
    """Re-emit an sre parse tree. `rust` selects `\\x{HEX}` escapes (`\\xHH` bytes under `(?-u)` for a bytes
    pattern), otherwise Python `\\UXXXXXXXX` (`\\xHH`)."""

    def lit(c: int) -> str:
        if byte_pattern:
            return f"\\x{c:02X}"
        return f"\\x{{{c:X}}}" if rust else f"\\U{c:08x}"

    def seq(items) -> str:
        return "".join(node(op, av) for op, av in items)

    def node(op, av) -> str:
        if op is C.LITERAL:
            return lit(av)
        if op is C.NOT_LITERAL:
            return f"[^{lit(av)}]"
        if op is C.ANY:
            return f"[^{lit(10)}]"
        if op is C.IN:
            negate = False
            cps: list[int] = []
            for iop, iav in av:
                if iop is C.NEGATE:
                    negate = True
                elif iop is C.LITERAL:
                    cps.append(iav)
                elif iop is C.RANGE:
                    cps.extend(range(iav[0], iav[1] + 1))
                elif iop is C.CATEGORY:
                    cps.extend(CATEGORY[iav])
                else:
                    raise ValueError(f"class item {iop}")
            cps = sorted(set(c for c in cps if not 0xD800 <= c <= 0xDFFF))
            body = "".join(
                lit(a) if a == b else f"{lit(a)}-{lit(b)}" for a, b in ranges(cps)
            )
            return f"[{'^' if negate else ''}{body}]"
        if op is C.BRANCH:
            return "(?:" + "|".join(seq(b) for b in av[1]) + ")"
        if op is C.SUBPATTERN:
            group, add_flags, del_flags, sub = av
            assert not add_flags and not del_flags
            return ("(" if group is not None else "(?:") + seq(sub) + ")"
        if op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, sub = av
            hi_s = "" if hi is C.MAXREPEAT else str(hi)
            lazy = "?" if op is C.MIN_REPEAT else ""
            return f"(?:{seq(sub)}){{{lo},{hi_s}}}{lazy}"
        if op is C.AT:
            assert av is C.AT_BEGINNING, av
            return "^"
        raise ValueError(f"unsupported regex node {op}")

    return ("(?-u)" if rust and byte_pattern else "") + seq(tree)


def parse(pattern: re.Pattern) -> list:
    return list(sre_parse.parse(pattern.pattern, pattern.flags))


def check_same(original: re.Pattern, emitted_py: str, samples: list[str]) -> None:
    """The Python-syntax twin of an emitted pattern must find exactly what the original finds."""
    twin = re.compile(emitted_py)
    for s in samples:
        a = [(m.span(), m.groups()) for m in original.finditer(s)]
        b = [(m.span(), m.groups()) for m in twin.finditer(s)]
        assert a == b, (original.pattern[:60], s, a, b)


def fuzz_samples(alphabet: str, n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))) for _ in range(n)]


def ftfy_regexes() -> dict[str, str]:
    out = {}
    mojibake_alphabet = "".join(
        sorted(set(bytes(range(0x80, 0x100)).decode("sloppy-windows-1252")
                   + bytes(range(0x80, 0x100)).decode("sloppy-windows-1251")
                   + bytes(range(0x80, 0x100)).decode("macroman")
                   + "aAzZ .,?!\n\t1_éÃÂ€œ²°ГўВЂ"))
    )
    samples = fuzz_samples(mojibake_alphabet, 20000, 1)
    for name, pat in (
        ("badness", badness.BADNESS_RE),
        ("html_entity", chardata.HTML_ENTITY_RE),
        ("ansi_escape", fixes.ANSI_RE),
        ("html_charref", html._charref),
    ):
        tree = parse(pat)
        alphabet = mojibake_alphabet if name == "badness" else "&#;xX0123456789abcdefAZ \t\n\x1b[m<é٣"
        check_same(pat, emit(tree, rust=False), samples if name == "badness" else fuzz_samples(alphabet, 20000, 2))
        out[name] = emit(tree, rust=True)

    rng = random.Random(3)
    byte_alphabet = b" ?\x1a\x80\x85\xa0\xa1\xbf\xc2\xc3\xc5\xdf\xe0\xe2\xe3\xed\xef\xf0\xf4abc"
    byte_samples = [bytes(rng.choice(byte_alphabet) for _ in range(rng.randint(1, 12))) for _ in range(20000)]
    for name, pat in (("altered_utf8", chardata.ALTERED_UTF8_RE), ("lossy_utf8", chardata.LOSSY_UTF8_RE)):
        tree = parse(pat)
        check_same(pat, emit(tree, rust=False, byte_pattern=True).encode("latin-1"), byte_samples)
        out[name] = emit(tree, rust=True, byte_pattern=True)

    # The mojibake detector starts with a negative look-behind, which Rust's regex lacks: emit the rest and
    # the look-behind's class separately; the Rust side checks the preceding character itself.
    tree = parse(chardata.UTF8_DETECTOR_RE)
    (op, (direction, behind)), rest = tree[0], tree[1:]
    assert op is C.ASSERT_NOT and direction == -1 and len(behind) == 1 and behind[0][0] is C.IN
    out["utf8_detector"] = emit(rest, rust=True)
    out["utf8_detector_not_after"] = emit(behind, rust=True)
    twin_rest, twin_behind = re.compile(emit(rest, rust=False)), re.compile(emit(behind, rust=False))
    for s in samples:
        expected = [m.span() for m in chardata.UTF8_DETECTOR_RE.finditer(s)]
        got, pos = [], 0
        while (m := twin_rest.search(s, pos)) is not None:
            if m.start() > 0 and twin_behind.fullmatch(s[m.start() - 1]):
                pos = m.start() + 1
                continue
            got.append(m.span())
            pos = m.end()
        assert expected == got, (s, expected, got)
    return out


def token_classes() -> dict[str, list[int]]:
    """CLIP's pre-tokenizer classes exactly as the `regex` module applies them under IGNORECASE."""
    probes = {
        "token_letter": regex.compile(r"[\p{L}]", regex.IGNORECASE),
        "token_number": regex.compile(r"[\p{N}]", regex.IGNORECASE),
        "token_other": regex.compile(r"[^\s\p{L}\p{N}]", regex.IGNORECASE),
        "regex_space": regex.compile(r"\s"),
    }
    return {name: [c for c in ALL if p.fullmatch(chr(c))] for name, p in probes.items()}


def token_regex(classes: dict[str, list[int]]) -> str:
    """`<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+` with
    IGNORECASE made explicit: each literal letter becomes the class of what `regex` folds to it."""

    def literal(word: str) -> str:
        out = []
        for ch in word:
            if ch.isalpha():
                folds = [c for c in range(0x250) if regex.fullmatch(ch, chr(c), regex.IGNORECASE)]
                folds += [c for c in (0x17F, 0x212A, 0x212B) if regex.fullmatch(ch, chr(c), regex.IGNORECASE)]
                out.append(rust_class(sorted(set(folds))))
            else:
                out.append(f"\\x{{{ord(ch):X}}}")
        return "".join(out)

    # Sanity: no fold partner outside the probed ranges.
    for ch in "startofextndvml":
        partners = [c for c in ALL if regex.fullmatch(ch, chr(c), regex.IGNORECASE)]
        assert all(c < 0x250 or c in (0x17F, 0x212A, 0x212B) for c in partners), (ch, partners)
    alts = [literal(w) for w in ("<|startoftext|>", "<|endoftext|>", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d")]
    alts += [
        rust_class(classes["token_letter"]) + "+",
        rust_class(classes["token_number"]),
        rust_class(classes["token_other"]) + "+",
    ]
    return "|".join(alts)


def sigma_classes() -> dict[str, list[int]]:
    """CPython lowers U+03A3 to final sigma by scanning over Case_Ignorable characters for Cased ones. Only
    two facts per character matter there, probed through str.lower itself: is it skipped (ignorable), and if
    not, is it cased."""
    ignorable, cased = [], []
    for c in ALL:
        ch = chr(c)
        before_cased = ("A" + ch + "\u03a3").lower()[-1] == "\u03c2"  # ignorable or cased
        after = ("A\u03a3" + ch).lower()[1] == "\u03c2"  # ignorable or not cased
        if before_cased and after:
            ignorable.append(c)
        elif before_cased:
            cased.append(c)
    return {"case_ignorable": ignorable, "cased": cased}


def charmaps() -> dict[str, list[int]]:
    out = {}
    for enc in chardata.CHARMAP_ENCODINGS:
        chars = []
        for b in range(256):
            try:
                chars.append(ord(bytes([b]).decode(enc)))
            except UnicodeDecodeError:
                raise SystemExit(f"{enc} cannot decode byte {b:#x}")
        out[enc] = chars
    return out


def main() -> None:
    lines = [
        "# Generated by tools/golden/clip_text_tables.py from Python 3.11.7 (Unicode 14.0.0), ftfy 6.3.1",
        "# (Apache-2.0, Robyn Speer; see LICENSE.ftfy.txt), regex 2026.11.19. Do not edit.",
    ]

    def section(kind: str, name: str, body: list[str]) -> None:
        lines.append(f"@{kind} {name}")
        lines.extend(body)

    classes = token_classes()
    section("regex", "token", [token_regex(classes)])
    section("ranges", "regex_space", [ranges_line(classes["regex_space"])])
    section("ranges", "py_space", [ranges_line(PY_SPACE)])
    for name, cps in sigma_classes().items():
        section("ranges", name, [ranges_line(cps)])
    unassigned = [c for c in ALL if unicodedata.category(chr(c)) == "Cn"]
    section("ranges", "unassigned", [ranges_line(unassigned)])

    lower = []
    for c in ALL:
        low = chr(c).lower()
        if low != chr(c):
            lower.append(f"{c:x}\t" + " ".join(f"{ord(x):x}" for x in low))
    section("map", "lower", lower)
    section("map", "width", [f"{c:x}\t" + " ".join(f"{ord(x):x}" for x in s) for c, s in sorted(chardata.WIDTH_MAP.items())])
    section("map", "ligatures", [f"{c:x}\t" + " ".join(f"{ord(x):x}" for x in s) for c, s in sorted(chardata.LIGATURES.items())])

    section("entities", "html5", [
        f"{name}\t" + " ".join(f"{ord(x):x}" for x in value) for name, value in sorted(html.entities.html5.items())
    ])
    # ftfy's own table is "&" + every html5 name ending in ';', plus upper-cased variants of some.
    derived = {"&" + n: v for n, v in html.entities.html5.items() if n.endswith(";")}
    extra = {k: v for k, v in chardata.HTML_ENTITIES.items() if derived.get(k) != v}
    assert all(k in chardata.HTML_ENTITIES for k in derived)
    section("entities", "ftfy_upper", [
        f"{name}\t" + " ".join(f"{ord(x):x}" for x in value) for name, value in sorted(extra.items())
    ])

    for enc, chars in charmaps().items():
        section("charmap", enc, [" ".join(f"{c:x}" for c in chars)])
    for name, pattern in ftfy_regexes().items():
        section("regex", name, [pattern])

    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
