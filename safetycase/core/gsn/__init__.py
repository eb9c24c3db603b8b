"""The GSN core: plain data types, well-formedness rules and gsn2x interchange.

Nothing in this package imports Django, so it can check and convert arguments without a database.
"""
