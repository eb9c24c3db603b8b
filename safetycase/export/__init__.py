"""PDF export of a safety case.

Pure parts (no Django): `evidence` (which runs each binding cites, and the criterion's result on
each), `parts` (splitting the argument diagram into readable pages), `document` (the JSON data
the Typst template reads, and the content hash). Around them: `selectors` (gathers the case's
data), `pdf` (the Typst adapter), `services` (export now or in a Celery task) and `views`.
"""
