#!/usr/bin/env python3
"""Extracts benign technical English for the injection filter's training data.

The model had learned that English sentences are attacks: its benign training data was mostly
log syntax, its attacks mostly prose. Real tools print prose too (pip's resolver, ssh's host-key
warning, certbot's advice, a compiler's help), and it was rejected. This script takes prose that
developers wrote for developers, with its "you", "your" and imperatives, from sources the
project may ship:

* doc comments (`///`, `//!`) and error-message string literals of the Rust crates in the
  local cargo registry whose `license` names MIT or Apache-2.0 (and nothing copyleft);
* docstrings and `raise X("...")` messages of Python's standard library (PSF-2.0).

Each row records where its text came from (`source`: `prose/rust/<crate>-<version>` or
`prose/python/<module>`). Rows are 1 to 4 pieces, some bare, some as log lines with a
timestamp and a level, so the format says nothing about the label. Pieces that match override
or AI-addressing vocabulary are left out (a crate's docs may quote an injection), and so are
pieces with a host name, a URL or an e-mail address.

Deterministic for a given registry and Python installation:

    python3 tools/extract_prose.py --registry ~/.cargo/registry/src/<index> \
        --python /usr/lib/python3.11 --out data/train/prose.jsonl
"""

import argparse
import json
import os
import random
import re

RNG_SEED = 20261124

# Text that must not be taught as benign: override vocabulary and addresses of an AI.
UNSAFE = re.compile(
    r"\b(ignore|disregard|forget)\b.{0,40}\b(instruction|prompt|rule)s?\b"
    r"|\b(system prompt|jailbreak|prompt injection|you are now|as an ai|language model|chatgpt|llm)\b",
    re.I,
)

LICENSE_OK = re.compile(r"\b(MIT|Apache-2\.0)\b")
LICENSE_BAD = re.compile(r"GPL|MPL|EUPL|CDDL|SSPL|BUSL", re.I)


def words(s):
    return len(s.split())


def clean_md(text):
    """Drops code blocks, links' targets and markdown marks from a doc paragraph."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[`?([^\]`]+)`?\]", r"\1", text)
    text = re.sub(r"^#+\s*", "", text)
    text = text.replace("**", "").replace("`", "")
    return re.sub(r"\s+", " ", text).strip()


def doc_paragraphs(lines, prefix_re):
    """Paragraphs of consecutive doc-comment lines, without code blocks."""
    out, cur, in_code = [], [], False
    for line in lines:
        m = prefix_re.match(line)
        if not m:
            if cur:
                out.append(" ".join(cur))
                cur = []
            in_code = False
            continue
        body = m.group(1)
        if body.strip().startswith("```"):
            in_code = not in_code
            if cur:
                out.append(" ".join(cur))
                cur = []
            continue
        if in_code:
            continue
        if not body.strip():
            if cur:
                out.append(" ".join(cur))
                cur = []
            continue
        cur.append(body.strip())
    if cur:
        out.append(" ".join(cur))
    return [clean_md(p) for p in out]


RUST_DOC = re.compile(r"^\s*//[/!]\s?(.*)$")
RUST_MSG = re.compile(
    r"(?:panic!|bail!|anyhow!|ensure!\([^,]+,|expect\(|Error::new\([^,]*,|format_err!|err_msg\()\s*\"((?:[^\"\\]|\\.){20,300})\""
)
PY_RAISE = re.compile(r"raise\s+\w+(?:\.\w+)*\(\s*[rfb]?(['\"])((?:(?!\1).){20,300})\1")


# Hosts and e-mail addresses (the standard library's docstrings name their authors' mail
# addresses): left out, the training data names no real host or person.
ADDRESS = re.compile(r"@|\bhttps?:|\bwww\.|\b[\w-]+\.(com|org|net|io|de|uk|edu|gov|info|fr|jp)\b", re.I)


def clean(p):
    return not UNSAFE.search(p) and not ADDRESS.search(p)


def keep(p):
    return 8 <= words(p) <= 120 and clean(p)


def rust_pieces(registry):
    pieces = []
    for crate in sorted(os.listdir(registry)):
        root = os.path.join(registry, crate)
        toml = os.path.join(root, "Cargo.toml")
        if not os.path.isfile(toml):
            continue
        with open(toml, encoding="utf-8", errors="replace") as f:
            m = re.search(r'^license\s*=\s*"([^"]+)"', f.read(), re.M)
        if not m or not LICENSE_OK.search(m.group(1)) or LICENSE_BAD.search(m.group(1)):
            continue
        src = f"prose/rust/{crate}"
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            if "/tests" in dirpath or "/benches" in dirpath or "/examples" in dirpath:
                continue
            for name in sorted(filenames):
                if not name.endswith(".rs"):
                    continue
                with open(os.path.join(dirpath, name), encoding="utf-8", errors="replace") as f:
                    lines = f.read().splitlines()
                for p in doc_paragraphs(lines, RUST_DOC):
                    if keep(p):
                        pieces.append((src, p))
                for line in lines:
                    for mm in RUST_MSG.finditer(line):
                        msg = mm.group(1).replace('\\"', '"').replace("\\n", " ")
                        msg = re.sub(r"\{[^}]*\}", "x", msg)
                        if words(msg) >= 4 and clean(msg):
                            pieces.append((src, msg))
    return pieces


def py_pieces(pyroot):
    pieces = []
    for dirpath, dirnames, filenames in os.walk(pyroot):
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in ("test", "tests", "idlelib", "site-packages", "dist-packages", "__pycache__", "lib2to3")
        )
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            path = os.path.join(dirpath, name)
            module = os.path.relpath(path, pyroot)[:-3].replace("/", ".")
            src = f"prose/python/{module}"
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
            for m in re.finditer(r'"""(.*?)"""', text, re.S):
                for para in re.split(r"\n\s*\n", m.group(1)):
                    lines = [l.strip() for l in para.splitlines()]
                    if any(l.startswith(">>>") for l in lines):
                        continue
                    p = re.sub(r"\s+", " ", " ".join(lines)).strip()
                    if keep(p):
                        pieces.append((src, p))
            for m in PY_RAISE.finditer(text):
                msg = re.sub(r"%[sdr]|\{[^}]*\}", "x", m.group(2))
                if words(msg) >= 4 and clean(msg):
                    pieces.append((src, msg))
    return pieces


LEVELS = ["ERROR", "WARN", "WARNING", "INFO", "error", "warning", "note", "hint", "FATAL", "DEBUG"]


def log_prefix(rng):
    style = rng.randrange(5)
    ts = "2024-%02d-%02dT%02d:%02d:%02d.%03dZ" % (
        rng.randint(1, 12), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
        rng.randint(0, 59), rng.randint(0, 999))
    lvl = rng.choice(LEVELS)
    if style == 0:
        return f"{ts} {lvl.upper():5} "
    if style == 1:
        return f"{lvl}: "
    if style == 2:
        return f"[{ts}] [{lvl.lower()}] "
    if style == 3:
        return f'{{"ts":"{ts}","level":"{lvl.lower()}","msg":"'
    return f"{ts} {lvl.upper()} [{rng.choice(['main', 'worker-3', 'http', 'db', 'tokio-runtime-worker'])}] "


def row_text(rng, parts):
    mode = rng.random()
    if mode < 0.45:
        return " ".join(parts)
    if mode < 0.65:
        return "\n".join(parts)
    lines = []
    for p in parts:
        pre = log_prefix(rng)
        p2 = p.replace('"', "'") if pre.endswith('"') else p
        lines.append(pre + p2 + ('"}' if pre.endswith('"') else ""))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--registry", required=True)
    ap.add_argument("--python", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rows", type=int, default=4000)
    a = ap.parse_args()
    rng = random.Random(RNG_SEED)
    rust = rust_pieces(a.registry)
    py = py_pieces(a.python)
    seen = set()
    pools = []
    for pool in (rust, py):
        uniq = []
        for src, p in pool:
            if p not in seen:
                seen.add(p)
                uniq.append((src, p))
        pools.append(uniq)
    rows = []
    for i in range(a.rows):
        pool = pools[0] if i % 2 == 0 else pools[1]
        k = rng.choice([1, 1, 2, 2, 3, 4])
        start = rng.randrange(len(pool))
        # Neighbouring pieces come from the same file, so a row reads as one text.
        chunk = pool[start:start + k]
        parts = [p for _, p in chunk]
        rows.append({
            "text": row_text(rng, parts),
            "label": 0,
            "kind": "benign-hard",
            "source": chunk[0][0],
        })
    with open(a.out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"rust pieces {len(pools[0])}, python pieces {len(pools[1])}, rows {len(rows)}")


if __name__ == "__main__":
    main()
