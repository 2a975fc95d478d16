"""Loads a IIIF Presentation 3.0 manifest (a file path) with iiif-prezi3 and prints a summary.

Exits non-zero when the library refuses the manifest.
"""
import json
import sys

from iiif_prezi3 import Manifest

with open(sys.argv[1], encoding="utf-8") as f:
    data = json.load(f)
m = Manifest(**data)
print(json.dumps({"label": m.label.root if hasattr(m.label, "root") else str(m.label),
                  "canvases": len(m.items)}, ensure_ascii=False, default=str))
