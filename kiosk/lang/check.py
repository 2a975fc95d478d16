#!/usr/bin/env python3
"""Lists the @tr strings of ui/*.slint, writes lang/kiosk.pot and the English catalogue,
and fails when the Vietnamese catalogue misses one. Run from the kiosk/ folder."""
import glob, re, sys

ids = []
for f in sorted(glob.glob("ui/*.slint")):
    for m in re.finditer(r'@tr\(\s*"((?:[^"\\]|\\.)*)"', open(f, encoding="utf-8").read()):
        if m.group(1) not in ids:
            ids.append(m.group(1))

def po(pairs):
    out = ['msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=UTF-8\\n"', ""]
    for i, s in pairs:
        out += [f'msgid "{i}"', f'msgstr "{s}"', ""]
    return "\n".join(out)

open("lang/kiosk.pot", "w", encoding="utf-8").write(po([(i, "") for i in ids]))
open("lang/en/LC_MESSAGES/kiosk.po", "w", encoding="utf-8").write(po([(i, i) for i in ids]))
vi = open("lang/vi/LC_MESSAGES/kiosk.po", encoding="utf-8").read()
have = set(re.findall(r'^msgid "((?:[^"\\]|\\.)*)"\nmsgstr "(?:[^"\\]|\\.)+"', vi, re.M))
missing = [i for i in ids if i not in have]
for i in missing:
    print("missing vi:", i)
sys.exit(1 if missing else 0)
