"""The ``raystra`` command line: thin command modules over `raystra.api`.

``main`` holds the app and error handling; ``_loading`` finds the user's definitions; one module
per command group renders what the API returns.
"""
