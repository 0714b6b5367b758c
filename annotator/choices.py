"""The fixed choices the commands offer (import formats, export units, the demo's team), kept
in a module that imports nothing: `flask --help` shows them without loading the services
that use them (issue 11)."""

FORMATS = ("jsonl", "txt", "md", "html", "warc")  # the files `flask import` reads
TOOLS = ("label-studio", "doccano", "prodigy")  # other tools' labeled exports it reads
UNITS = ("paragraph", "article")  # an export's line: one per paragraph, or per article
EXPORT_FORMATS = ("jsonl", "parquet")  # of an export's file (and of the split files)
GROUP_BY = ("article", "site")  # what a split keeps together
DEMO_PROJECT = "demo"
# The demo's sample team: each follows the answer key but departs from it on its own stride,
# swapping claim with evidence and boilerplate with other, the confusions real annotators make.
SAMPLE_ANNOTATORS = (("demo-ann", 7), ("demo-bo", 5), ("demo-李雷", 3), ("demo-sam", 4),
                     ("demo-王芳", 6))
