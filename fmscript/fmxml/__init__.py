"""FileMaker's XML: clipboard snippets (fmxmlsnippet) both ways and Save a Copy as XML imports.

``steps`` converts one script step between FileMaker's ``<Step>`` XML and fmscript's text; ``snippet`` reads and
writes whole snippets; ``importer`` turns a Save-as-XML export into a SQLite file and a folder of scripts.
"""
