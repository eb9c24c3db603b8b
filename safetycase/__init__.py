"""The safety-case tracker: project package and the argument app (cases, GSN nodes and links).

Importing this package loads nothing else, so the pure core (`safetycase.core`) stays free of
Django and Celery. The Celery app is started by the app config (`SafetycaseConfig.ready`) in
Django processes, and found as `safetycase.celery:app` by `celery -A safetycase`.
"""
